"""Progress reports: what a campaign achieved, told by its organizer or treasurer and anchored in
the public ledger. Append-only: a correction is a new report that names the one it corrects."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import User
from amanah.db import now_utc
from amanah.extensions import db
from campaigns.models import Campaign, CampaignIndicator

TITLE_MAX = 120
_REPORT = "progress_reports.id"
NARRATIVE_MAX = 20_000
EVIDENCE_TITLE_MAX = 120
_REPORT = "progress_reports.id"


class ProgressReport(db.Model):
    __tablename__ = "progress_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id", ondelete="RESTRICT"), index=True)
    number: Mapped[int]  # 1, 2, ... within its campaign: its public address
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    title: Mapped[str] = mapped_column(sa.String(TITLE_MAX))
    narrative: Mapped[str] = mapped_column(sa.Text)  # Markdown, sanitized on display
    corrects_id: Mapped[int | None] = mapped_column(sa.ForeignKey("progress_reports.id", ondelete="RESTRICT"))
    final: Mapped[bool] = mapped_column(default=False)  # the closing report of the campaign
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    # The canonical JSON document (reports.canonical) exactly as hashed and served.
    document: Mapped[bytes] = mapped_column(sa.LargeBinary)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    ledger_seq: Mapped[int] = mapped_column(sa.BigInteger, unique=True)

    campaign: Mapped[Campaign] = relationship()
    author: Mapped[User] = relationship(lazy="joined")
    corrects: Mapped[ProgressReport | None] = relationship(remote_side=[id])
    values: Mapped[list[ReportValue]] = relationship(order_by="ReportValue.id", back_populates="report")
    evidence: Mapped[list[ReportEvidence]] = relationship(order_by="ReportEvidence.id",
                                                          back_populates="report")
    disbursements: Mapped[list[ReportDisbursement]] = relationship(order_by="ReportDisbursement.id",
                                                                   back_populates="report")

    __table_args__ = (sa.UniqueConstraint("campaign_id", "number"),)


class ReportValue(db.Model):
    """One indicator's value as the report measured it, in hundredths of its unit."""

    __tablename__ = "progress_report_values"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(sa.ForeignKey(_REPORT, ondelete="RESTRICT"), index=True)
    indicator_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign_indicators.id", ondelete="RESTRICT"),
                                              index=True)
    value: Mapped[int] = mapped_column(sa.BigInteger)

    report: Mapped[ProgressReport] = relationship(back_populates="values")
    indicator: Mapped[CampaignIndicator] = relationship(lazy="joined")

    __table_args__ = (sa.UniqueConstraint("report_id", "indicator_id"),
                      sa.CheckConstraint("value >= 0", name="value_not_negative"))


class ReportEvidence(db.Model):
    """A photo, attendance list or PDF behind the report, published by its SHA-256."""

    __tablename__ = "progress_report_evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(sa.ForeignKey(_REPORT, ondelete="RESTRICT"), index=True)
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    content_type: Mapped[str] = mapped_column(sa.String(40))
    title: Mapped[str] = mapped_column(sa.String(EVIDENCE_TITLE_MAX))

    report: Mapped[ProgressReport] = relationship(back_populates="evidence")

    __table_args__ = (sa.UniqueConstraint("report_id", "sha256"),)


class ReportDisbursement(db.Model):
    """A disbursement of the campaign that the report accounts for."""

    __tablename__ = "progress_report_disbursements"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(sa.ForeignKey(_REPORT, ondelete="RESTRICT"), index=True)
    disbursement_id: Mapped[int] = mapped_column(sa.ForeignKey("disbursements.id", ondelete="RESTRICT"))

    report: Mapped[ProgressReport] = relationship(back_populates="disbursements")

    __table_args__ = (sa.UniqueConstraint("report_id", "disbursement_id"),)
