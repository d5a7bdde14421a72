"""The impact report: a campaign's money in and out, its indicators against their targets, and
its progress reports with the ledger entries that anchor them and their inclusion proofs, all
under one signed checkpoint, so a reader can check every report against the public ledger."""
from __future__ import annotations

from amanah.extensions import db
from amanah.i18n import format_wib_date
from campaigns import indicators
from campaigns.models import Campaign
from campaigns.rendering import plain_excerpt
from documents import statements
from ledger import storage
from reports import services

NARRATIVE_CHARS = 1_500  # the report's page carries it whole; the PDF keeps it readable


def impact_report(campaign: Campaign, locale: str) -> dict:
    """The caller commits: a checkpoint may be signed for the report."""
    doc = statements.campaign_report(campaign, locale)
    size = doc["checkpoint"]["size"]
    reports = [r for r in reversed(services.reports_of(campaign)) if r.ledger_seq < size]
    doc["indicators"] = [{
        "name": p.indicator.name,
        "baseline": indicators.format_value(p.indicator.baseline, p.indicator.kind, p.indicator.unit, locale),
        "latest": p.text(p.latest),
        "target": indicators.format_value(p.indicator.target, p.indicator.kind, p.indicator.unit, locale),
        "percent": p.percent, "due": format_wib_date(p.indicator.due, locale)}
        for p in indicators.progress_of(campaign)]
    doc["reports"] = [{
        "number": r.number, "title": r.title, "date": format_wib_date(r.created_at, locale),
        "final": r.final, "corrects": r.corrects.number if r.corrects is not None else None,
        "narrative": plain_excerpt(r.narrative, NARRATIVE_CHARS),
        "measured": [(v.indicator.name, indicators.format_value(v.value, v.indicator.kind, v.indicator.unit,
                                                              locale)) for v in r.values],
        "seq": r.ledger_seq, "sha256": r.sha256, "files": [e.sha256 for e in r.evidence],
        "leaf_hash": storage.leaf_hash_at(db.session, r.ledger_seq).hex(),
        "proof": [h.hex() for h in storage.inclusion_proof(db.session, r.ledger_seq, size)],
    } for r in reports]
    organization = campaign.organization
    doc["runner"] = ({"name": organization.name, "verified": organization.is_verified}
                     if organization else None)
    doc["closed"] = format_wib_date(campaign.closed_at, locale) if campaign.closed_at else None
    return doc
