"""What each progress report says its ledger entry holds, for `flask ledger verify`: the
document is rebuilt from the stored rows and hashed, so a report changed afterwards (its
narrative, a value, an evidence file's hash) no longer matches the entry that anchored it."""
from __future__ import annotations

import hashlib
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger import references
from ledger.references import Reference
from reports import services
from reports.models import ProgressReport


def report_references(session: Session) -> Iterator[Reference]:
    for report in session.scalars(sa.select(ProgressReport).order_by(ProgressReport.ledger_seq)):
        rebuilt = services.canonical(services.document_of(report))
        yield Reference(f"progress report {report.number} of campaign {report.campaign.public_id}",
                        report.ledger_seq, "report", report.campaign.public_id, 0, report.campaign.currency,
                        ref=report.corrects.ledger_seq if report.corrects is not None else None, payment=None,
                        evidence=hashlib.sha256(rebuilt).hexdigest(), files=services.files_of(report))
        if hashlib.sha256(report.document).hexdigest() != report.sha256 or report.document != rebuilt:
            yield Reference(f"progress report {report.number}'s stored document", report.ledger_seq,
                            "report", report.campaign.public_id, 0, report.campaign.currency,
                            evidence=hashlib.sha256(report.document).hexdigest())


def init_app(app) -> None:
    references.register(app, report_references)
