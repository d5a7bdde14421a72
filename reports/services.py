"""Posting progress reports, and what the campaign page reads of them.

A report is written once: its rows, its evidence files and its canonical document are stored in
one transaction with a `report` ledger entry that carries the document's SHA-256 (`evidence`)
and its files' (`files`). A correction is a new report naming the one it corrects (the entry's
`ref`). `flask ledger verify` rebuilds each document from the rows and checks it against its
entry (reports.ledger_references), so a report altered afterwards is caught.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib

import rfc8785
import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from accounts.models import User
from accounts.permissions import Action, can
from amanah import evidence as evidence_store
from amanah.db import now_utc
from amanah.errors import UserError, ValidationError
from amanah.extensions import db
from amanah.text import has_control_characters, one_line
from campaigns import indicators
from campaigns.models import Campaign
from ledger import storage
from ledger.entry import MAX_MEMO, format_at
from reports.models import (
    EVIDENCE_TITLE_MAX,
    NARRATIVE_MAX,
    TITLE_MAX,
    ProgressReport,
    ReportDisbursement,
    ReportEvidence,
    ReportValue,
)
from treasury.models import Disbursement

MAX_EVIDENCE = 10
# No row has a larger id or number: they are `integer` columns, and PostgreSQL refuses to compare one
# with a larger parameter (SQLAlchemy casts it to the column's type), SQLite with one past 64 bits.
MAX_ROW_ID = 2**31 - 1
DOCUMENT_VERSION = 1


class ReportRefused(UserError):
    """The report may not be posted; the message is for the user."""


@dataclasses.dataclass
class EvidenceUpload:
    data: bytes
    title: str
    slot: int = 0  # which of the form's file inputs it came from (its errors are shown there)


@dataclasses.dataclass
class ReportInput:
    title: str = ""
    narrative: str = ""
    values: dict[int, str] = dataclasses.field(default_factory=dict)  # indicator id -> typed value
    evidence: list[EvidenceUpload] = dataclasses.field(default_factory=list)
    disbursement_ids: list[int] = dataclasses.field(default_factory=list)
    corrects: int | None = None  # the number of the report this one corrects
    final: bool = False


def _document(campaign: Campaign, number: int, at, author: str, title: str, narrative: str,
              values: list[tuple], evidence: list[tuple[str, str, str]], disbursement_seqs: list[int],
              corrects: int | None, final: bool) -> dict:
    """The report as the public document whose canonical bytes its ledger entry anchors.
    `values` holds (indicator, hundredths) pairs, `evidence` (sha256, content type, title)."""
    return {
        "v": DOCUMENT_VERSION,
        "campaign": campaign.public_id,
        "number": number,
        "at": format_at(at),
        "author": author,
        "title": title,
        "narrative": narrative,
        "values": [{"indicator": i.name, "unit": i.unit, "kind": i.kind, "value": value}
                   for i, value in sorted(values, key=lambda pair: pair[0].id)],
        "evidence": [{"sha256": sha, "type": kind, "title": name} for sha, kind, name in sorted(evidence)],
        "disbursements": sorted(disbursement_seqs),
        "corrects": corrects,
        "final": final,
    }


def document_of(report: ProgressReport) -> dict:
    """The document rebuilt from the stored rows (what `flask ledger verify` hashes)."""
    seqs = list(db.session.scalars(sa.select(Disbursement.ledger_seq).where(
        Disbursement.id.in_([link.disbursement_id for link in report.disbursements] or [-1]))))
    return _document(report.campaign, report.number, report.created_at, report.author.display_name,
                     report.title, report.narrative, [(v.indicator, v.value) for v in report.values],
                     [(e.sha256, e.content_type, e.title) for e in report.evidence], seqs,
                     report.corrects.number if report.corrects is not None else None, report.final)


def canonical(document: dict) -> bytes:
    return rfc8785.dumps(document)


def files_of(report: ProgressReport) -> list[str] | None:
    """The entry's `files`: the evidence hashes, ascending; None when the report has no files."""
    return sorted({e.sha256 for e in report.evidence}) or None


def _texts(data: ReportInput, errors: dict[str, str]) -> tuple[str, str]:
    title, narrative = one_line(data.title), (data.narrative or "").strip()
    if not title:
        errors["title"] = str(_l("Give the report a title."))
    elif len(title) > TITLE_MAX:
        errors["title"] = str(_l("Write at most %(num)d characters.", num=TITLE_MAX))
    if not narrative:
        errors["narrative"] = str(_l("Tell what was done and what changed."))
    elif len(narrative) > NARRATIVE_MAX:
        errors["narrative"] = str(_l("Write at most %(num)d characters.", num=NARRATIVE_MAX))
    for field, text in (("title", title), ("narrative", narrative)):
        if field not in errors and has_control_characters(text):
            errors[field] = str(_l("Remove the control characters from this text."))
    return title, narrative


def _values(campaign: Campaign, data: ReportInput, errors: dict[str, str]) -> dict[int, int]:
    known = {i.id: i for i in campaign.indicators}
    values = {}
    for indicator_id, text in data.values.items():
        if not (text or "").strip():
            continue  # a report gives values for some indicators, not necessarily all
        indicator = known.get(indicator_id)
        if indicator is None:
            errors[f"value_{indicator_id}"] = str(_l("This campaign has no such indicator."))
            continue
        try:
            values[indicator_id] = indicators.parse_value(text, indicator.kind)
        except UserError as exc:
            errors[f"value_{indicator_id}"] = str(exc.message)
    return values


def _evidence(data: ReportInput, errors: dict[str, str]) -> list[tuple[evidence_store.Evidence, str]]:
    if len(data.evidence) > MAX_EVIDENCE:
        errors["evidence"] = str(_l("At most %(num)d files per report.", num=MAX_EVIDENCE))
        return []
    checked, seen = [], set()
    for upload in data.evidence:
        try:
            file = evidence_store.inspect(upload.data)
        except evidence_store.EvidenceError as exc:
            # Next to the file input it came from, and named in the evidence box's summary.
            errors[f"evidence_{upload.slot}"] = str(exc)
            errors["evidence"] = str(_l("File %(num)d: %(problem)s", num=upload.slot + 1, problem=str(exc)))
            continue
        if file.sha256 not in seen:
            seen.add(file.sha256)
            checked.append((file, one_line(upload.title)[:EVIDENCE_TITLE_MAX] or str(_l("Evidence"))))
    return checked


def post_report(campaign: Campaign, author: User, data: ReportInput) -> ProgressReport:
    """Write the report and its ledger entry in the caller's transaction; ValidationError (nothing
    written) on bad input, ReportRefused when the author may not report on this campaign."""
    if not can(author, Action.POST_PROGRESS_REPORT, campaign):
        raise ReportRefused(_l("Only the campaign's organizer, its treasurer or an admin posts reports, "
                               "and only on a public campaign."))
    errors: dict[str, str] = {}
    title, narrative = _texts(data, errors)
    values = _values(campaign, data, errors)
    files = _evidence(data, errors)
    # Only numbers a row could have are looked up: a larger one (typed into a form) is no row of
    # this campaign either, and would be a database error rather than a form error.
    possible = [i for i in data.disbursement_ids if 0 < i <= MAX_ROW_ID] or [-1]
    own = {d.id: d for d in db.session.scalars(sa.select(Disbursement).where(
        Disbursement.campaign_id == campaign.id, Disbursement.id.in_(possible)))}
    if set(data.disbursement_ids) - set(own):
        errors["disbursements"] = str(_l("Choose disbursements of this campaign."))
    corrected = None
    if data.corrects is not None:
        if 0 < data.corrects <= MAX_ROW_ID:
            corrected = db.session.scalar(sa.select(ProgressReport).where(
                ProgressReport.campaign_id == campaign.id, ProgressReport.number == data.corrects))
        if corrected is None:
            errors["corrects"] = str(_l("This campaign has no such report."))
    if errors:
        raise ValidationError(errors)

    # Numbers and ledger order are decided under the append lock; the document is complete before
    # any row is written (the rows are append-only: nothing is filled in afterwards).
    storage.lock(db.session)
    number = (db.session.scalar(sa.select(sa.func.max(ProgressReport.number)).where(
        ProgressReport.campaign_id == campaign.id)) or 0) + 1
    at = now_utc()
    known = {i.id: i for i in campaign.indicators}
    document = canonical(_document(
        campaign, number, at, author.display_name, title, narrative,
        [(known[i], value) for i, value in values.items()],
        [(f.sha256, f.content_type, name) for f, name in files], [d.ledger_seq for d in own.values()],
        corrected.number if corrected else None, bool(data.final)))
    digest = hashlib.sha256(document).hexdigest()
    file_hashes = sorted({f.sha256 for f, _name in files}) or None
    entry = storage.append(db.session, kind="report", campaign=campaign.public_id, amount=0,
                           currency=campaign.currency, at=at, memo=title[:MAX_MEMO], evidence=digest,
                           files=file_hashes, ref=corrected.ledger_seq if corrected else None)
    report = ProgressReport(campaign_id=campaign.id, number=number, author_id=author.id, title=title,
                            narrative=narrative, corrects_id=corrected.id if corrected else None,
                            final=bool(data.final), created_at=at, document=document, sha256=digest,
                            ledger_seq=entry.seq)
    for indicator_id, value in values.items():
        report.values.append(ReportValue(indicator_id=indicator_id, value=value))
    for file, file_title in files:
        evidence_store.store(file)
        report.evidence.append(ReportEvidence(sha256=file.sha256, content_type=file.content_type,
                                              title=file_title))
    for disbursement_id in sorted(own):
        report.disbursements.append(ReportDisbursement(disbursement_id=disbursement_id))
    db.session.add(report)
    db.session.flush()
    return report


def reports_of(campaign: Campaign) -> list[ProgressReport]:
    """Newest first."""
    return list(db.session.scalars(sa.select(ProgressReport).where(
        ProgressReport.campaign_id == campaign.id).order_by(ProgressReport.number.desc())))


def get_report(campaign: Campaign, number: int) -> ProgressReport | None:
    return db.session.scalar(sa.select(ProgressReport).where(
        ProgressReport.campaign_id == campaign.id, ProgressReport.number == number))


def latest_values(campaign: Campaign) -> dict[int, int]:
    """Each indicator's value from the newest report that gives one (a correction is newer)."""
    rows = db.session.execute(
        sa.select(ReportValue.indicator_id, ReportValue.value)
        .join(ProgressReport, ReportValue.report_id == ProgressReport.id)
        .where(ProgressReport.campaign_id == campaign.id).order_by(ProgressReport.number))
    return dict(rows.all())


def anchored_by(seq: int) -> ProgressReport | None:
    """The progress report that ledger entry `seq` anchors, if any (for the ledger's entry page)."""
    return db.session.scalar(sa.select(ProgressReport).where(ProgressReport.ledger_seq == seq))


def accounted_disbursements(report: ProgressReport) -> list[Disbursement]:
    """The disbursements the report accounts for, in ledger order."""
    ids = [link.disbursement_id for link in report.disbursements]
    return list(db.session.scalars(sa.select(Disbursement).where(Disbursement.id.in_(ids or [-1]))
                                   .order_by(Disbursement.ledger_seq)))


def evidence_of(campaign: Campaign, sha256: str) -> ReportEvidence | None:
    return db.session.scalar(sa.select(ReportEvidence).join(ProgressReport).where(
        ProgressReport.campaign_id == campaign.id, ReportEvidence.sha256 == sha256).limit(1))


def overdue_since(campaign: Campaign, now=None):
    """The date of the oldest disbursement still unreported after REPORT_OVERDUE_DAYS days, or
    None: money paid out that long ago with no progress report since is overdue for one."""
    days = current_app.config["REPORT_OVERDUE_DAYS"]
    last_report = db.session.scalar(sa.select(sa.func.max(ProgressReport.created_at)).where(
        ProgressReport.campaign_id == campaign.id))
    query = sa.select(sa.func.min(Disbursement.created_at)).where(Disbursement.campaign_id == campaign.id)
    if last_report is not None:
        query = query.where(Disbursement.created_at > last_report)
    oldest = db.session.scalar(query)
    if oldest is None:
        return None
    oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=dt.UTC)
    return oldest if (now or now_utc()) - oldest > dt.timedelta(days=days) else None


def has_final_report(campaign: Campaign) -> bool:
    return db.session.scalar(sa.select(ProgressReport.id).where(
        ProgressReport.campaign_id == campaign.id, ProgressReport.final.is_(True)).limit(1)) is not None
