"""Numbered documents (receipts, credit notes, cancellations), their counters, and bulk document jobs.

A document copies, when it is issued, everything it will show (`content`, a plain dict) and is
never edited afterwards; its PDF is rendered once, on first need, and stored with its SHA-256.
Triggers created by the migration make the database refuse to change a stored PDF or to delete a
document. A correction is a new document: a refund issues a credit note that names the receipt,
and a refund that fails after succeeding issues a cancellation that names that credit note.
"""
from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from amanah.db import now_utc
from amanah.extensions import db
from donations.models import Donation


class DocumentKind(enum.StrEnum):
    RECEIPT = "receipt"
    CREDIT_NOTE = "credit_note"
    CANCELLATION = "cancellation"  # of a credit note whose refund the provider reversed


class DocumentCounter(db.Model):
    """The last number used in a series for a year: serials are gapless per (series, year)."""

    __tablename__ = "document_counters"

    series: Mapped[str] = mapped_column(sa.String(24), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column()

    __table_args__ = (sa.CheckConstraint("last > 0", name="last_positive"),)


class Document(db.Model):
    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(12))
    serial: Mapped[str] = mapped_column(sa.String(48), unique=True)
    series: Mapped[str] = mapped_column(sa.String(24))
    year: Mapped[int] = mapped_column()
    number: Mapped[int] = mapped_column()
    donation_id: Mapped[int] = mapped_column(sa.ForeignKey("donations.id", ondelete="RESTRICT"), index=True)
    refund_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("donation_refunds.id", ondelete="RESTRICT"), unique=True)
    receipt_id: Mapped[int | None] = mapped_column(sa.ForeignKey("documents.id", ondelete="RESTRICT"))
    cancels_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("documents.id", ondelete="RESTRICT"), unique=True)
    issued_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    content: Mapped[dict] = mapped_column(sa.JSON)
    pdf: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)
    sha256: Mapped[str | None] = mapped_column(sa.String(64))
    rendered_at: Mapped[dt.datetime | None] = mapped_column()

    donation: Mapped[Donation] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("series", "year", "number"),
        sa.CheckConstraint("kind IN ('receipt', 'credit_note', 'cancellation')", name="kind_known"),
        sa.CheckConstraint("number > 0", name="number_positive"),
        sa.CheckConstraint("(pdf IS NULL) = (sha256 IS NULL)", name="pdf_has_hash"),
        sa.CheckConstraint("kind <> 'credit_note' OR (refund_id IS NOT NULL AND receipt_id IS NOT NULL)",
                           name="credit_note_refers"),
        sa.CheckConstraint("kind <> 'cancellation' OR (cancels_id IS NOT NULL AND receipt_id IS NOT NULL "
                           "AND refund_id IS NULL)", name="cancellation_refers"),
        sa.CheckConstraint("kind = 'cancellation' OR cancels_id IS NULL", name="only_cancellations_cancel"),
        sa.Index("ix_documents_kind_issued_at", "kind", "issued_at"),
    )


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class DocumentJob(db.Model):
    """A background bulk download (all receipts of a campaign for a date range, as a ZIP)."""

    __tablename__ = "document_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(sa.String(32), unique=True)
    requested_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id", ondelete="CASCADE"))
    date_from: Mapped[dt.date] = mapped_column(sa.Date)
    date_to: Mapped[dt.date] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(10), default=JobStatus.QUEUED.value)
    total: Mapped[int] = mapped_column(default=0)
    done: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(sa.Text)
    base_url: Mapped[str] = mapped_column(sa.String(255))
    locale: Mapped[str] = mapped_column(sa.String(5), default="id")
    filename: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    finished_at: Mapped[dt.datetime | None] = mapped_column()

    __table_args__ = (
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status_known"),
        sa.CheckConstraint("date_from <= date_to", name="dates_ordered"),
        sa.CheckConstraint("done >= 0 AND done <= total", name="progress_bounded"),
    )
