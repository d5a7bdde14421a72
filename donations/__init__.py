"""Donors and their accounts, payments, receipts."""


def init_app(app) -> None:
    from donations import auth

    auth.init_app(app)
