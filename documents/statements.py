"""Donor statements and campaign financial reports: plain dicts for the PDF templates.

Unlike receipts these are summaries drawn when asked for, so they are rendered on each request and
not stored; every figure in them comes from receipts, credit notes and ledger entries that are.
"""
from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import aliased

from amanah.db import now_utc
from amanah.extensions import db
from amanah.i18n import WIB, format_wib, format_wib_date
from amanah.money import format_money
from campaigns import categories
from documents.issuer import issuer_of, platform
from documents.models import Document, DocumentKind
from donations.models import Donation, DonationStatus, Refund, RefundStatus
from ledger import checkpoints, queries
from ledger.models import LedgerEntry
from organizations.services import format_npwp

MAX_RANGE_DAYS = 10 * 366


class RangeError(ValueError):
    """A date range that cannot be used; `field` names the parameter, the message is for the user."""

    def __init__(self, field: str, message):
        super().__init__(str(message))
        self.field, self.message = field, message


def _date(args, name: str) -> dt.date:
    raw = (args.get(name) or "").strip()
    if not raw:
        raise RangeError(name, _l("Enter the date %(name)s as YYYY-MM-DD.", name=name))
    try:
        if len(raw) != 10:
            raise ValueError(raw)
        value = dt.date.fromisoformat(raw)
    except ValueError:
        raise RangeError(name, _l("%(value)s is not a date; use YYYY-MM-DD, e.g. 2026-01-31.",
                                  value=raw[:20])) from None
    # Year 1 or 9999 cannot be moved to UTC or past its last day; no donation is that old or new.
    if not 2000 <= value.year <= 2999:
        raise RangeError(name, _l("Choose a date between the years 2000 and 2999."))
    return value


def parse_range(args) -> tuple[dt.date, dt.date]:
    """The `from` and `to` query parameters: two days, inclusive, at most ten years apart."""
    start, end = _date(args, "from"), _date(args, "to")
    if end < start:
        raise RangeError("to", _l("The end date must not be before the start date."))
    if (end - start).days > MAX_RANGE_DAYS:
        raise RangeError("to", _l("A range may span at most ten years."))
    return start, end


def default_range() -> tuple[str, str]:
    """This year so far (WIB): the usual request, a tax year's statement."""
    today = now_utc().astimezone(WIB).date()
    return today.replace(month=1, day=1).isoformat(), today.isoformat()


def bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start 00:00 WIB, the day after end 00:00 WIB) as UTC instants."""
    low = dt.datetime.combine(start, dt.time(), WIB).astimezone(dt.UTC)
    high = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), WIB).astimezone(dt.UTC)
    return low, high


# ---- a donor's statement ----

def donor_statement(user, start: dt.date, end: dt.date, locale: str) -> dict:
    """Every confirmed donation of `user` received in [start, end] (WIB days), refunds netted."""
    low, high = bounds(start, end)
    donations = db.session.execute(
        sa.select(Donation).where(Donation.user_id == user.id, Donation.status == DonationStatus.PAID,
                                  Donation.paid_at >= low, Donation.paid_at < high)
        .order_by(Donation.paid_at, Donation.id)).scalars().all()
    ids = [d.id for d in donations]
    documents = defaultdict(list)
    recipients: dict[int, dict] = {}  # as each receipt names its recipient
    refunded = defaultdict(int)
    if ids:
        # Documents as they stood at the end of the period, like the refunds below.
        for doc in db.session.execute(sa.select(Document.donation_id, Document.kind, Document.serial,
                                                Document.content)
                                      .where(Document.donation_id.in_(ids), Document.issued_at < high)
                                      .order_by(Document.id)):
            documents[doc.donation_id].append((doc.kind, doc.serial))
            if doc.kind == DocumentKind.RECEIPT:
                recipients[doc.donation_id] = doc.content.get("organization")
        # Refunds count when the ledger recorded them on or before the statement's last day, and
        # were not reversed by then (a reversal later than the period leaves the period as it was).
        refund_entry, reversal_entry = aliased(LedgerEntry), aliased(LedgerEntry)
        rows = db.session.execute(
            sa.select(Refund.donation_id, sa.func.sum(Refund.amount))
            .join(refund_entry, refund_entry.seq == Refund.ledger_seq)
            .outerjoin(reversal_entry, reversal_entry.seq == Refund.reversed_seq)
            .where(Refund.donation_id.in_(ids),
                   Refund.status.in_((RefundStatus.SUCCEEDED, RefundStatus.REVERSED)),
                   refund_entry.at < high, sa.or_(reversal_entry.seq.is_(None), reversal_entry.at >= high))
            .group_by(Refund.donation_id))
        refunded.update({donation_id: int(total) for donation_id, total in rows})
    lines, totals = [], defaultdict(lambda: {"gross": 0, "refunded": 0, "count": 0})
    for d in donations:
        back = refunded[d.id]
        receipt = next((s for k, s in documents[d.id] if k == DocumentKind.RECEIPT), "")
        notes = [s for k, s in documents[d.id] if k in (DocumentKind.CREDIT_NOTE, DocumentKind.CANCELLATION)]
        recipient = recipients.get(d.id)
        if not recipient or "npwp" not in recipient:  # a receipt issued before recipients had an NPWP
            recipient = issuer_of(d.campaign)
        lines.append({"date": format_wib_date(d.paid_at, locale), "receipt": receipt,
                      "credit_notes": ", ".join(notes),
                      "campaign": d.campaign.title, "ledger_seq": d.ledger_seq,
                      "category": categories.label(d.campaign.category),
                      "recipient": {"name": recipient["name"], "npwp": recipient["npwp"]},
                      "fee_covered": format_money(d.fee_covered, d.currency, locale) if d.fee_covered else "",
                      "amount": format_money(d.total, d.currency, locale),
                      "refunded": format_money(back, d.currency, locale) if back else "",
                      "net": format_money(d.total - back, d.currency, locale)})
        total = totals[d.currency]
        total["gross"] += d.total
        total["refunded"] += back
        total["count"] += 1
    # The profile's NPWP, else the last one given with a gift of the period.
    npwp = user.npwp or next((d.donor_npwp for d in reversed(donations) if d.donor_npwp), None)
    return {
        "organization": platform(), "donor": {"name": user.display_name, "email": user.email,
                                              "npwp": format_npwp(npwp), "nik": user.nik},
        "start": start.isoformat(), "end": end.isoformat(), "generated": format_wib(now_utc(), locale),
        "lines": lines,
        "totals": [{"currency": c, "count": t["count"], "gross": format_money(t["gross"], c, locale),
                    "refunded": format_money(t["refunded"], c, locale),
                    "net": format_money(t["gross"] - t["refunded"], c, locale)}
                   for c, t in sorted(totals.items())],
    }


def documents_by_donation(donations) -> dict[int, list[tuple[str, str]]]:
    """{donation id: [(kind, serial), ...]} for a list of donations, in one query."""
    found = defaultdict(list)
    ids = [d.id for d in donations]
    if ids:
        for row in db.session.execute(sa.select(Document.donation_id, Document.kind, Document.serial)
                                      .where(Document.donation_id.in_(ids)).order_by(Document.id)):
            found[row.donation_id].append((row.kind, row.serial))
    return found


# ---- a campaign's financial report ----

def campaign_report(campaign, locale: str) -> dict:
    """Totals by kind (the ledger's running totals), every disbursement with its evidence hash, and
    the signed checkpoint that covers every entry counted. The caller commits (a checkpoint may be
    signed now)."""
    finances = queries.campaign_finances(campaign.public_id)
    cp = checkpoints.checkpoint_for_current_size(db.session)
    currency = finances.currency if finances else campaign.currency

    def money(minor: int) -> str:
        return format_money(minor, currency, locale)

    kinds = []
    if finances is not None:
        kinds = [(_l("Donations received"), money(finances.raised)),
                 (_l("Refunded to donors"), money(finances.refunded)),
                 (_l("Chargebacks"), money(finances.chargebacks)),
                 (_l("Payment processing fees"), money(finances.fees)),
                 (_l("Disbursed"), money(finances.disbursed)),
                 (_l("Available balance"), money(finances.balance))]
    disbursements = []
    for seq, at, amount, leaf in db.session.execute(
            sa.select(LedgerEntry.seq, LedgerEntry.at, LedgerEntry.amount, LedgerEntry.leaf)
            .where(LedgerEntry.campaign == campaign.public_id,
                   LedgerEntry.kind.in_(("disbursement", "disbursement_reversal")),
                   LedgerEntry.seq < cp.size).order_by(LedgerEntry.seq)):
        fields = json.loads(bytes(leaf))
        memo = fields.get("memo") or ""
        if fields["kind"] == "disbursement_reversal":  # shown as a negative disbursement, with its reason
            memo = str(_l("Reversal of entry %(seq)d, recorded in error: %(reason)s",
                          seq=fields["ref"], reason=memo))
        disbursements.append({"seq": seq, "date": format_wib_date(at, locale), "amount": money(-amount),
                              "memo": memo, "evidence": fields.get("evidence") or ""})
    return {
        "organization": issuer_of(campaign),
        "campaign": {"title": campaign.title, "public_id": campaign.public_id, "currency": currency},
        "kinds": [{"label": str(label), "amount": amount} for label, amount in kinds],
        "donation_count": finances.donation_count if finances else 0,
        "last_seq": finances.last_seq if finances else None,
        "disbursements": disbursements,
        "checkpoint": {"size": cp.size, "root": bytes(cp.root).hex(), "note": cp.note},
        "generated": format_wib(now_utc(), locale),
    }
