"""Why reconciliation could not settle something, and what an anomaly is, in the reader's language.

Both used to be stored as English sentences only. They are now stored as facts as well: a code
and its values (`{"code": "paid_not_booked", "donation": 12, "status": "flagged"}`), written
where the problem is found, and put into words here when a page shows them, with amounts in the
reader's money format. The English sentence is still stored beside them, for the log and for
rows written before there were facts: those are shown as they are, marked as English.

A value that is the provider's own word (a status, a payment id, its error message) stays as it
came, shown as code: it is what the provider's dashboard and support will recognise.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from amanah.i18n import format_money
from amanah.money import MoneyError

SENTENCES = {
    # reconciliation runs
    "provider_unreachable": _l("The provider could not be asked: %(detail)s"),
    "event_not_applied": _l("Event %(event)s could not be applied now; the next run tries again."),
    "no_donation_for_payment": _l("No donation here was paid with this payment yet; the next run "
                                  "tries again."),
    "donation_not_paid": _l("Donation #%(donation)s is “%(status)s” here, so its refund or chargeback "
                            "waits; the next run tries again."),
    "paid_wrong_checkout": _l("Paid, and names donation #%(donation)s, which was not opened with "
                              "this checkout."),
    "paid_not_booked": _l("Paid at the provider, but donation #%(donation)s is “%(status)s” here."),
    "refund_not_booked": _l("Refund %(provider_status)s at the provider, not booked here (%(result)s)."),
    "refund_still_set_aside": _l("Refund %(provider_status)s at the provider, still set aside here "
                                 "(%(result)s)."),
    "dispute_not_booked": _l("Chargeback %(provider_status)s at the provider, not booked here "
                             "(%(result)s)."),
    # anomalies
    "paid_other_amount": _l("Paid %(paid)s; the donation asked for %(asked)s."),
    "no_payment": _l("Names donation #%(donation)s, but has no payment."),
    "not_its_payment": _l("Names donation #%(donation)s, but payment %(payment)s is not the one it "
                          "was paid with."),
    "not_its_checkout": _l("Names donation #%(donation)s, but payment %(payment)s is not its "
                           "checkout's."),
    "other_payment": _l("Belongs to payment %(payment)s, not to the donation's %(expected)s."),
    "other_currency": _l("In %(currency)s; the donation is in %(expected)s."),
    "overdrawn": _l("%(amount)s would take back more than the %(received)s received (%(taken)s "
                    "taken back already)."),
}
MONEY = frozenset({"paid", "asked", "amount", "received", "taken"})


def describe(facts: dict | None, fallback: str, currency: str | None = None, *,
             status_label=str) -> Markup:
    """The sentence for `facts` in the current language, or `fallback` (English) marked as such
    when there are no facts, or none this version knows."""
    code = facts.get("code") if isinstance(facts, dict) else None
    sentence = SENTENCES.get(code) if isinstance(code, str) else None
    if sentence is None:
        return Markup('<span lang="en">{}</span>').format(fallback)
    try:
        values = {}
        for name, value in facts.items():
            if name in MONEY and isinstance(value, int) and currency:
                values[name] = format_money(value, currency)
            elif name == "status" and isinstance(value, str):
                values[name] = status_label(value)
            elif name == "donation" and isinstance(value, int):
                values[name] = value
            else:  # the provider's own words, ids and currency codes, as they came
                values[name] = Markup("<code>{}</code>").format(value)
        return escape(str(sentence)) % values  # Markup's %: every value not Markup is escaped
    except (KeyError, TypeError, ValueError, ArithmeticError, MoneyError):  # facts of another version
        return Markup('<span lang="en">{}</span>').format(fallback)
