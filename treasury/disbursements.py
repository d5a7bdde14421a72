"""Disbursements: who may record them, what is acceptable, and recording one with its ledger entry.

The balance rule is enforced under the ledger's append lock: the lock is taken first, then the
campaign's running totals are read and the entry appended in the same transaction, so two
treasurers submitting at the same moment can never both spend the same money. Nothing here
commits; the caller (a view, the demo loader, a test) commits once.

A disbursement recorded in error is never edited: `reverse` appends a `disbursement_reversal`
entry that points at it and gives the money back to the campaign's balance, once.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
import unicodedata

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from accounts.models import Role, User
from accounts.permissions import Action, can
from amanah import evidence as evidence_store
from amanah.db import now_utc
from amanah.errors import ValidationError
from amanah.extensions import db
from amanah.i18n import format_money
from amanah.money import MAX_MINOR
from amanah.text import has_control_characters, one_line
from campaigns.lifecycle import Status
from campaigns.models import Campaign
from donations.balances import available_balance
from ledger import storage
from ledger.models import CampaignTotal
from ledger.queries import read_row
from treasury.models import (
    PAYEE_MAX,
    PURPOSE_MAX,
    REASON_MAX,
    Disbursement,
    DisbursementReversal,
    PayeeKind,
    SpendingCategory,
)

# "Not in the future" is judged by the easternmost Indonesian clock (WIT, UTC+9): a payment made
# this morning in Jayapura is already "today" there while it is still yesterday in Jakarta.
LATEST_ZONE = dt.timezone(dt.timedelta(hours=9), "WIT")
CAMPAIGN_ZONE = dt.timezone(dt.timedelta(hours=7), "WIB")
PURPOSE_MIN = 5
# What must never be published: e-mail addresses, and long digit runs (phone, bank account and
# identity numbers have 10 digits or more; amounts are written with separators, years are 4 digits).
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
# Digits however they are grouped (spaces, dots, dashes, an area code in brackets): NIK, phone and
# account numbers are written every which way.
_DIGIT_RUN = re.compile(r"\+?[0-9][0-9 .)\-]{8,}[0-9]")


class ReversalRefused(Exception):
    """A reversal that may not happen (not allowed, or already done); args[0] is for the user."""


@dataclasses.dataclass
class DisbursementInput:
    amount: int | None = None  # minor units of the campaign's currency
    paid_on: dt.date | None = None
    payee_kind: str = ""
    payee_name: str = ""
    purpose: str = ""
    category: str = ""
    evidence: bytes | None = None  # the upload's raw bytes
    evidence_public: bool = True


# ---- reading ----

def for_campaign(campaign: Campaign, limit: int | None = None,
                 before: tuple[dt.date, int] | None = None) -> list[Disbursement]:
    """The campaign's disbursements, latest paid first (at most `limit`; only those after the one
    paid on `before[0]` with id `before[1]` in that order: a keyset page)."""
    query = sa.select(Disbursement).where(Disbursement.campaign_id == campaign.id)
    if before is not None:
        day, row_id = before
        query = query.where(sa.or_(Disbursement.paid_on < day,
                                   sa.and_(Disbursement.paid_on == day, Disbursement.id < row_id)))
    return list(db.session.scalars(
        query.options(selectinload(Disbursement.reversal))
        .order_by(Disbursement.paid_on.desc(), Disbursement.id.desc()).limit(limit)))


def total_disbursed(campaign: Campaign) -> int:
    """What the campaign's disbursements took out, reversed ones not counted: its running total."""
    t = CampaignTotal.__table__.c
    row = db.session.execute(
        sa.select(t.disbursed, t.currency).where(t.campaign == campaign.public_id)).first()
    return 0 if row is None or row.currency != campaign.currency else row.disbursed


def recent_for_campaigns(campaign_ids: list[int], limit: int = 30) -> list[Disbursement]:
    """The latest recorded disbursements of these campaigns (the treasury overview), newest first."""
    if not campaign_ids:
        return []
    return list(db.session.scalars(
        sa.select(Disbursement).where(Disbursement.campaign_id.in_(campaign_ids))
        .options(selectinload(Disbursement.reversal), selectinload(Disbursement.campaign))
        .order_by(Disbursement.id.desc()).limit(limit)))


def get(campaign: Campaign, disbursement_id: int) -> Disbursement | None:
    """A disbursement of this campaign (None for another campaign's, so ids cannot be mixed up)."""
    return db.session.scalar(sa.select(Disbursement).where(
        Disbursement.id == disbursement_id, Disbursement.campaign_id == campaign.id))


def net_disbursed(rows: list[Disbursement]) -> int:
    """What these disbursements took out of the campaign: reversed ones count for nothing."""
    return sum(d.amount for d in rows if d.reversal is None)


def reversal_by_disbursement_seq(seq: int) -> DisbursementReversal | None:
    """For the ledger entry page: the reversal of the disbursement recorded as entry `seq`."""
    return db.session.scalar(sa.select(DisbursementReversal).join(Disbursement).where(
        Disbursement.ledger_seq == seq))


# A document can be the evidence of several disbursements when all but one were reversed: the one
# that stands speaks for it (its campaign, who may see it), else the latest reversed one.
_REVERSED = sa.exists().where(DisbursementReversal.disbursement_id == Disbursement.id)
_HOLDER_ORDER = (sa.case((_REVERSED, 1), else_=0), Disbursement.id.desc())


def by_evidence(sha256: str) -> Disbursement | None:
    """The disbursement that speaks for the document with this hash (see _HOLDER_ORDER)."""
    if not evidence_store.SHA256_PATTERN.match(sha256 or ""):
        return None
    return db.session.scalar(sa.select(Disbursement).where(Disbursement.evidence_sha256 == sha256)
                             .order_by(*_HOLDER_ORDER).limit(1))


def standing_with_evidence(*hashes: str) -> Disbursement | None:
    """The disbursement, not reversed, that this document proves (at most one: see record()),
    under any of its hashes."""
    return db.session.scalar(sa.select(Disbursement).where(
        Disbursement.evidence_sha256.in_(hashes), ~_REVERSED).limit(1))


def evidence_visibility(sha256: str) -> bool | None:
    """Whether the document with this hash is public (None: no disbursement holds it).

    Read as the public ledger pages read (one autocommit round trip on PostgreSQL), since the
    entry page asks this of every disbursement it shows."""
    if not evidence_store.SHA256_PATTERN.match(sha256 or ""):
        return None
    row = read_row(_EVIDENCE_PUBLIC, {"sha256": sha256})
    return None if row is None else bool(row.evidence_public)


_EVIDENCE_PUBLIC = (sa.select(Disbursement.evidence_public)
                    .where(Disbursement.evidence_sha256 == sa.bindparam("sha256"))
                    .order_by(*_HOLDER_ORDER).limit(1))


def campaigns_to_manage(user: User, limit: int = 200) -> list[tuple[Campaign, int]]:
    """(campaign, available balance) for the treasury overview: a treasurer's own public campaigns;
    for an admin every public campaign that holds money, largest balance first."""
    t = CampaignTotal.__table__.c
    balance = sa.func.coalesce(t.raised - t.refunded - t.chargebacks - t.fees - t.disbursed, 0)
    query = (sa.select(Campaign, balance).outerjoin(CampaignTotal.__table__, t.campaign == Campaign.public_id)
             .where(Campaign.status.in_([Status.PUBLISHED.value, Status.CLOSED.value])))
    if user.has_role(Role.ADMIN):
        query = query.where(balance > 0)
    elif user.has_role(Role.TREASURER):
        query = query.where(Campaign.treasurer_id == user.id)
    else:
        return []
    rows = db.session.execute(query.order_by(balance.desc(), Campaign.id).limit(limit))
    return [(campaign, amount) for campaign, amount in rows]


def latest_paid_on(now: dt.datetime | None = None) -> dt.date:
    return (now or now_utc()).astimezone(LATEST_ZONE).date()


# ---- validation ----

def _personal_data(text: str) -> bool:
    text = unicodedata.normalize("NFKC", text)  # full-width and other digits become 0-9
    if _EMAIL.search(text):
        return True
    return any(sum(c.isdigit() for c in m.group()) >= 10 for m in _DIGIT_RUN.finditer(text))


def _check_amount_and_date(campaign: Campaign, data: DisbursementInput, now, errors: dict) -> None:
    if data.amount is None:
        errors["amount"] = str(_l("Enter the amount paid."))
    elif not 0 < data.amount <= MAX_MINOR:
        errors["amount"] = str(_l("The amount must be more than zero and realistic."))
    if data.paid_on is None:
        errors["paid_on"] = str(_l("Enter the date of the payment."))
    elif data.paid_on > latest_paid_on(now):
        errors["paid_on"] = str(_l("The payment date cannot be in the future."))
    elif data.paid_on < campaign.created_at.astimezone(CAMPAIGN_ZONE).date():
        errors["paid_on"] = str(_l("The payment date cannot be before the campaign was created."))


def _check_texts(data: DisbursementInput, errors: dict) -> None:
    payee = one_line(data.payee_name)
    if not payee:
        errors["payee_name"] = str(_l("Enter who was paid."))
    elif len(payee) > PAYEE_MAX:
        errors["payee_name"] = str(_l("At most %(max)d characters.", max=PAYEE_MAX))
    elif has_control_characters(payee) or _personal_data(payee):
        errors["payee_name"] = str(_l("Only a name: no e-mail address, phone, account or identity number."))
    purpose = one_line(data.purpose)
    if not purpose:
        errors["purpose"] = str(_l("Enter what the money paid for."))
    elif len(purpose) < PURPOSE_MIN:
        errors["purpose"] = str(_l("Describe the purpose in a few words."))
    elif len(purpose) > PURPOSE_MAX:
        errors["purpose"] = str(_l("At most %(max)d characters.", max=PURPOSE_MAX))
    elif has_control_characters(purpose) or _personal_data(purpose):
        errors["purpose"] = str(_l("The purpose is published in the ledger forever: leave out e-mail "
                                   "addresses and phone, account or identity numbers."))


def check_reason(reason: str) -> dict[str, str]:
    """A reversal's reason becomes its ledger entry's memo: the same rules as a purpose."""
    text = one_line(reason)
    if not text:
        return {"reason": str(_l("Say why this disbursement is corrected."))}
    if len(text) < PURPOSE_MIN:
        return {"reason": str(_l("Describe the reason in a few words."))}
    if len(text) > REASON_MAX:
        return {"reason": str(_l("At most %(max)d characters.", max=REASON_MAX))}
    if has_control_characters(text) or _personal_data(text):
        return {"reason": str(_l("The reason is published in the ledger forever: leave out e-mail "
                                 "addresses and phone, account or identity numbers."))}
    return {}


def check(campaign: Campaign, data: DisbursementInput, now: dt.datetime | None = None) -> dict[str, str]:
    """Every field's problem, in the user's language; the balance is checked later, under the lock."""
    errors: dict[str, str] = {}
    _check_amount_and_date(campaign, data, now, errors)
    if data.payee_kind not in set(PayeeKind):
        errors["payee_kind"] = str(_l("Say whether the payee is an organization or a private person."))
    _check_texts(data, errors)
    if data.category not in set(SpendingCategory):
        errors["category"] = str(_l("Choose a spending category from the list."))
    if not data.evidence:
        errors["evidence"] = str(_l("Attach the invoice or transfer slip."))
    return errors


# ---- recording ----

def record(campaign: Campaign, actor: User, data: DisbursementInput,
           now: dt.datetime | None = None) -> Disbursement:
    """Record a disbursement and append its ledger entry, or raise ValidationError (nothing written).

    Order matters: every check that needs no lock first; then the append lock, then the balance
    read and the duplicate-evidence check (only disbursements that stand count: the evidence of one
    reversed as recorded in error may prove the right one, with the visibility it had, so that what
    the public ledger pages say about a document never changes), then the file, the entry and the row.
    """
    errors = check(campaign, data, now)
    document = None
    if data.evidence:
        try:
            document = evidence_store.inspect(data.evidence)
        except evidence_store.EvidenceError as exc:
            errors["evidence"] = str(exc.args[0])
    if errors:
        raise ValidationError(errors)
    assert document is not None and data.amount is not None and data.paid_on is not None

    session = db.session()
    storage.lock(session)
    balance = available_balance(campaign)
    if data.amount > balance:
        raise ValidationError({"amount": str(_l(
            "This is more than the campaign's available balance of %(balance)s.",
            balance=format_money(balance, campaign.currency)))})
    used = ValidationError({"evidence": str(_l(
        "This document is already the evidence of another disbursement."))})
    if standing_with_evidence(*document.hashes) is not None:
        raise used
    earlier = by_evidence(document.sha256)  # reversed, if any: its visibility stays the document's
    if earlier is not None and earlier.campaign_id != campaign.id:
        raise used  # the corrected disbursement is on the same campaign; who may see it stays the same
    if earlier is not None and earlier.evidence_public != data.evidence_public:
        message = (_l("This document was already published with ledger entry %(seq)s, corrected since; "
                      "it stays published.", seq=earlier.ledger_seq) if earlier.evidence_public else
                   _l("This document was already withheld with ledger entry %(seq)s, corrected since; "
                      "it stays withheld.", seq=earlier.ledger_seq))
        raise ValidationError({"evidence_visibility": str(message)})
    evidence_store.store(document)
    purpose = one_line(data.purpose)
    entry = storage.append(session, kind="disbursement", campaign=campaign.public_id, amount=-data.amount,
                           currency=campaign.currency, memo=purpose, evidence=document.sha256)
    disbursement = Disbursement(
        campaign_id=campaign.id, amount=data.amount, currency=campaign.currency, paid_on=data.paid_on,
        payee_kind=data.payee_kind, payee_name=one_line(data.payee_name), purpose=purpose,
        category=data.category, evidence_sha256=document.sha256, evidence_type=document.content_type,
        evidence_size=document.size, evidence_public=data.evidence_public, recorded_by_id=actor.id,
        ledger_seq=entry.seq)
    session.add(disbursement)
    session.flush()
    disbursement.evidence_metadata_removed = document.metadata_removed
    return disbursement


# ---- correcting ----

def reversal_of(disbursement: Disbursement) -> DisbursementReversal | None:
    """Read fresh from the database, never from a relationship loaded earlier in the session."""
    return db.session.scalar(sa.select(DisbursementReversal).where(
        DisbursementReversal.disbursement_id == disbursement.id))


def reverse(disbursement: Disbursement, actor: User, reason: str) -> DisbursementReversal:
    """Correct a disbursement recorded in error: append a `disbursement_reversal` entry (+amount,
    `ref` = the disbursement's entry, `memo` = the reason) and its row, in the caller's transaction.

    The money goes back to the campaign's available balance. Raises ValidationError for a bad
    reason and ReversalRefused when the actor may not, or the disbursement is already reversed;
    the caller rolls back on either (the second check runs under the append lock).
    """
    campaign = disbursement.campaign
    if not can(actor, Action.REVERSE_DISBURSEMENT, disbursement):
        raise ReversalRefused(_l("Only the campaign's treasurer or an admin may correct a disbursement."))
    errors = check_reason(reason)
    if errors:
        raise ValidationError(errors)
    already = _l("This disbursement has already been corrected.")
    session = db.session()
    # Two people correcting the same disbursement: the second waits here, then sees the first.
    storage.lock(session)
    if reversal_of(disbursement) is not None:
        raise ReversalRefused(already)
    entry = storage.append(session, kind="disbursement_reversal", campaign=campaign.public_id,
                           amount=disbursement.amount, currency=disbursement.currency,
                           ref=disbursement.ledger_seq, memo=one_line(reason))
    reversal = DisbursementReversal(disbursement=disbursement, reason=one_line(reason),
                                    reversed_by_id=actor.id, ledger_seq=entry.seq)
    session.add(reversal)
    try:
        session.flush()
    except IntegrityError as exc:  # the unique disbursement_id, should anything bypass the lock
        raise ReversalRefused(already) from exc
    return reversal
