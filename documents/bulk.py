"""Bulk downloads: all receipts (and credit notes) of a campaign for a date range, as one ZIP.

The request only records a job; the ZIP is built in the background — by an RQ worker when
REDIS_URL is set (`rq worker amanah`), else by a thread of the web process — and the job's row
holds its progress for the page's progress bar. The ZIP holds the stored PDFs byte for byte
(rendering first those never downloaded) and index.csv. Only whoever asked may download it.
The ZIP is written in the instance folder (`exports/<token>.part`) and, once whole, handed to the
file store (amanah.storage) as `exports/<token>.zip`, before the job's row says it is ready.
"""
from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import logging
import os
import secrets
import threading
import zipfile
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from accounts.permissions import Action, can
from amanah import create_app, storage
from amanah.db import now_utc
from amanah.extensions import db
from amanah.transactions import after_commit
from campaigns.models import Campaign
from documents import receipts, signing
from documents.models import Document, DocumentJob, JobStatus
from documents.pdf import fork_pool, stop_pool
from documents.statements import bounds
from donations.models import Donation, DonationStatus
from ledger.csv_export import neutralize

log = logging.getLogger(__name__)
QUEUE = "amanah"
CSV_COLUMNS = ("file", "kind", "serial", "issued_at", "donor", "amount_minor", "currency", "ledger_seq",
               "refers_to", "sha256")


def exports_dir() -> Path:
    """Where ZIPs are written while a job builds them (in this machine's instance folder)."""
    path = Path(current_app.instance_path) / "exports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def zip_key(filename: str) -> str:
    return storage.check_key(f"exports/{filename}")


def purge_expired(now: dt.datetime | None = None) -> int:
    """Delete bulk downloads older than EXPORT_RETENTION_DAYS: their ZIP (or what a job that died
    left half-written) and their job row. Receipts themselves are stored elsewhere and stay;
    a treasurer can always ask for a new ZIP. Returns how many jobs went; the caller commits."""
    cutoff = (now or now_utc()) - dt.timedelta(days=current_app.config["EXPORT_RETENTION_DAYS"])
    old = db.session.execute(sa.select(DocumentJob).where(sa.or_(
        DocumentJob.finished_at < cutoff,
        # Queued or running for that long: its worker died with it (a restart, a crash).
        sa.and_(DocumentJob.finished_at.is_(None), DocumentJob.created_at < cutoff)))).scalars().all()
    folder, files = exports_dir(), storage.current()
    for job in old:
        files.delete(zip_key(f"{job.token}.zip"))
        (folder / f"{job.token}.part").unlink(missing_ok=True)
        db.session.delete(job)
    if old:
        log.info("purged %d bulk downloads older than %s", len(old), cutoff.isoformat())
    return len(old)


def start_job(user, campaign, start, end, *, base_url: str, locale: str) -> DocumentJob:
    """Record a job (flushed), purging expired ones first; the caller commits, and the commit
    hands the job to the background (a worker must not look for a row that is not there yet)."""
    purge_expired()
    job = DocumentJob(token=secrets.token_urlsafe(16), requested_by_id=user.id, campaign_id=campaign.id,
                      date_from=start, date_to=end, base_url=base_url[:255], locale=locale)
    db.session.add(job)
    db.session.flush()
    after_commit(enqueue, job.id)
    return job


def enqueue(job_id: int) -> None:
    """Hand a committed job to the background: RQ with Redis, else a thread ("inline" runs it now)."""
    app = current_app._get_current_object()
    mode = app.config.get("DOCUMENT_JOBS") or ("rq" if app.config["REDIS_URL"] else "thread")
    if mode == "rq":
        from redis import Redis
        from rq import Queue
        try:
            Queue(QUEUE, connection=Redis.from_url(app.config["REDIS_URL"], socket_connect_timeout=2,
                                                   socket_timeout=5)).enqueue(
                run_in_new_app, job_id, job_timeout=3600)
        except Exception:
            # Redis is down: a job nobody will run must not stay "waiting" for good.
            log.exception("document job %s could not be queued", job_id)
            _fail(job_id, "not-queued")
    elif mode == "inline":
        run_job(job_id)
    else:
        threading.Thread(target=run_in_app, args=(app, job_id), name=f"documents-job-{job_id}",
                         daemon=True).start()


def run_in_new_app(job_id: int) -> None:
    """The RQ entry point: a worker process builds the app from the same environment."""
    app = create_app()
    try:
        run_in_app(app, job_id)
    finally:
        with app.app_context():
            db.engine.dispose()  # the app is not kept: close its connections now


def run_in_app(app, job_id: int) -> None:
    with app.app_context():
        try:
            run_job(job_id)
        finally:
            db.session.remove()


def job_documents(job: DocumentJob) -> list[int]:
    """Ids of the receipts and credit notes of donations received in the job's range, by serial."""
    low, high = bounds(job.date_from, job.date_to)
    return list(db.session.execute(
        sa.select(Document.id).join(Donation, Donation.id == Document.donation_id)
        .where(Donation.campaign_id == job.campaign_id, Donation.status == DonationStatus.PAID,
               Donation.paid_at >= low, Donation.paid_at < high)
        .order_by(Document.kind.desc(), Document.series, Document.year, Document.number)).scalars())


def run_job(job_id: int) -> None:
    job = db.session.get(DocumentJob, job_id)
    if job is None or job.status != JobStatus.QUEUED:
        return
    try:
        _build(job)
    except storage.StorageUnavailable:
        log.exception("document job %s could not store its ZIP", job_id)
        _fail(job_id, "storage")
    except Exception:
        log.exception("document job %s failed", job_id)
        # The requester sees a plain reason; the details are in the log, not on their screen.
        _fail(job_id, "internal")


# Why a job failed: stored as the key (job.error), shown in the reader's language (status_of).
# A job fails in the background, where no request says which language its requester reads.
FAILURES = {
    "not-queued": _l("The job could not be started: the background service is not available. "
                     "Please try again later."),
    "storage": _l("The file storage is not available right now. Please try again later."),
    "internal": _l("Something went wrong on our side; please try again later."),
}


def _fail(job_id: int, reason: str) -> None:
    """Mark the job failed, with `reason`, a key of FAILURES."""
    db.session.rollback()
    job = db.session.get(DocumentJob, job_id)
    if job is not None and job.status in (JobStatus.QUEUED, JobStatus.RUNNING):
        job.status, job.finished_at = JobStatus.FAILED.value, now_utc()
        job.error = str(reason)[:500]
    db.session.commit()


def _build(job: DocumentJob) -> None:
    ids = job_documents(job)
    job.status, job.total, job.done = JobStatus.RUNNING.value, len(ids), 0
    db.session.commit()
    partial = exports_dir() / f"{job.token}.part"
    index = io.StringIO()
    writer = csv.writer(index)
    writer.writerow(CSV_COLUMNS)
    # Links printed in receipts rendered now point at the site the job was asked on.
    with current_app.test_request_context(base_url=job.base_url), \
            zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED) as archive, _renderer(ids) as render:
        for start, chunk in _stored_chunks(ids, render):
            for document, (data, digest) in chunk:
                name = f"{document.serial}.pdf"
                archive.writestr(name, data)
                content = document.content
                writer.writerow([neutralize(v) for v in (
                    name, document.kind, document.serial, document.issued_at.isoformat(),
                    content["donor"]["name"], content["amount"], content["currency"],
                    content["ledger"]["seq"], _refers_to(content), digest)])
            job.done = min(start + CHUNK, len(ids))
            db.session.commit()
        archive.writestr("index.csv", "\ufeff" + index.getvalue())
    filename = f"{job.token}.zip"
    try:
        storage.current().put_file(zip_key(filename), partial, "application/zip", move=True)
    finally:
        partial.unlink(missing_ok=True)  # stored, or failed: the job fails and nothing half-built stays
    job.status, job.filename, job.finished_at = JobStatus.DONE.value, filename, now_utc()
    db.session.commit()


def send_zip(job: DocumentJob):
    """The finished ZIP as a download (FileNotFoundError when it is gone); the caller checked that
    the job is the user's (job_for). A job's ZIP never changes: its token serves as ETag."""
    return storage.current().send(zip_key(job.filename), mimetype="application/zip", etag=job.token,
                                  as_attachment=True, max_age=0,
                                  download_name=f"receipts-{job.date_from}-{job.date_to}.zip")


def _refers_to(content: dict) -> str:
    """The document this one corrects: a credit note's receipt, a cancellation's credit note."""
    return (content.get("credit_note") or content.get("receipt") or {}).get("serial", "")


# Documents per transaction: progress and newly rendered PDFs are committed together.
CHUNK = 16


def _stored_chunks(ids: list[int], render):
    """(start, [(document, (pdf, sha256))]) per CHUNK of ids, rendering and storing (not
    committing) the missing PDFs. A chunk's renderings start before the previous chunk is handed
    back, so the render processes keep working while the caller writes and commits."""
    pending = None
    for start in range(0, len(ids), CHUNK):
        documents = [db.session.get(Document, i) for i in ids[start:start + CHUNK]]
        found = {d.id: receipts.stored_pdf(d.id) for d in documents}
        missing = [d for d in documents if found[d.id] is None]
        rendered = render([receipts.render_job(d) for d in missing])
        if pending is not None:
            yield _store(*pending)
        pending = (start, documents, found, missing, rendered)
    if pending is not None:
        yield _store(*pending)


def _store(start, documents, found, missing, rendered):
    for document, pdf in zip(missing, rendered(), strict=True):
        found[document.id] = receipts.store_pdf(document.id, pdf)
    return start, [(d, found[d.id]) for d in documents]


@contextmanager
def _renderer(ids: list[int]):
    """render(jobs) -> a function returning their PDFs: in a pool of forked processes, one per CPU,
    when there is more than one document to render; else in this process, when asked for."""
    processes = min(render_processes(), _unrendered(ids))
    if processes < 2:
        yield lambda jobs: lambda: [receipts.render_from_job(j) for j in jobs]
        return
    signing.signing_key().warm()  # parsed once here, inherited by every render process
    pool = fork_pool(processes, _init_render_process, (current_app._get_current_object(),))
    try:
        # A render process that never answers fails the job instead of holding it forever.
        yield lambda jobs: functools.partial(pool.map_async(_render_in_process, jobs).get, RENDER_TIMEOUT)
        pool.close()  # done: the render processes finish and leave on their own
        pool.join()
    finally:
        stop_pool(pool)  # on failure, stop them (nothing left to do after a join)


RENDER_TIMEOUT = 600  # seconds for one chunk


def render_processes() -> int:
    configured = current_app.config.get("DOCUMENT_RENDER_PROCESSES")
    return configured if configured is not None else len(os.sched_getaffinity(0))


def _unrendered(ids: list[int]) -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(Document).where(
        Document.id.in_(ids), Document.pdf.is_(None))).scalar_one()


def _init_render_process(app) -> None:
    # Templates and translations need the app; the database is never touched here.
    app.app_context().push()


def _render_in_process(job: dict) -> bytes:
    return receipts.render_from_job(job)


def job_for(token: str, user) -> DocumentJob | None:
    """The job behind `token`, only for the user who asked for it and only while they may still
    bulk-download that campaign (a treasurer replaced or stripped of the role loses the ZIP too)."""
    if not user.is_authenticated or len(token) > 32 or "\x00" in token:
        return None
    job = db.session.execute(sa.select(DocumentJob).where(DocumentJob.token == token)).scalar_one_or_none()
    if job is None or job.requested_by_id != user.id:
        return None
    campaign = db.session.get(Campaign, job.campaign_id)
    return job if campaign is not None and can(user, Action.BULK_DOWNLOAD, campaign) else None


def jobs_of(user, campaign) -> list[DocumentJob]:
    return list(db.session.execute(sa.select(DocumentJob).where(
        DocumentJob.requested_by_id == user.id, DocumentJob.campaign_id == campaign.id)
        .order_by(DocumentJob.id.desc()).limit(10)).scalars())


JOB_STATUS_LABELS = {"queued": _l("waiting"), "running": _l("in progress"), "done": _l("ready"),
                     "failed": _l("failed")}


def status_label(status: str) -> str:
    return str(JOB_STATUS_LABELS.get(status, status))


def status_of(job: DocumentJob) -> dict:
    percent = 100 if job.status == JobStatus.DONE else (100 * job.done // job.total if job.total else 0)
    return {"status": job.status, "done": job.done, "total": job.total, "percent": percent,
            "error": failure_text(job.error) if job.status == JobStatus.FAILED else None}


def failure_text(error: str | None) -> str | None:
    """A stored failure in the current language (a job failed before keys were stored keeps the
    text it was given)."""
    return str(FAILURES[error]) if error in FAILURES else error
