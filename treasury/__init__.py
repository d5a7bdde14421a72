"""Treasury: money paid out of campaigns, and the evidence behind every payment.

Disbursements and their reversals, evidence documents stored by content hash (photos published
without their metadata), and the public treasury API.
"""
from amanah.demo import demo_loader


def init_app(app) -> None:
    from treasury import api, demo, home, ledger_references, panels, views

    views.init_app(app)
    api.init_app(app)
    panels.register(app)
    home.register(app)
    demo_loader(order=40, name="disbursements")(demo.load_demo_disbursements)
    ledger_references.init_app(app)
