"""Receipt rendering: first render, re-download, and bulk pages per second.

    python bench/receipts.py [--samples 60] [--bulk 200] [--database-url URL]

Builds a throwaway database (SQLite in a temporary folder unless --database-url names an empty
PostgreSQL database), migrates it, and confirms `--samples` + `--bulk` donations through the
real confirmation service (sandbox provider), so each has its receipt numbered but not yet rendered.
Then it measures, with the renderer warmed up by one receipt:

- first render: receipts.document_pdf() on a receipt never rendered (template, amount in words,
  inclusion proof, QR code, PDF/A-3b with the ledger entry attached, SHA-256, stored, committed);
- re-download: GET /receipts/<serial>.pdf through the app (signed-in donor) for a stored receipt,
  and document_pdf() alone for the same;
- bulk: a bulk ZIP job (documents.bulk.run_job) over a campaign's `--bulk` receipts that were never
  rendered, in pages per second (each receipt is one A4 page), as the job runs it: in its pool of
  forked render processes, one per usable CPU (DOCUMENT_RENDER_PROCESSES to change that), forked
  and warmed up inside the measured time.

It also times WeasyPrint alone on a minimal one-page A4 document (no stylesheet, no fonts of ours,
no PDF/A), the yardstick the issue's targets were set against (~27 ms on the machine where the issue
was written), so that figures from machines of different speeds can be compared by that ratio.

Wall-clock figures depend on whatever else the machine runs; the CPU time beside them (this process,
plus for bulk the render processes it reaped) does much less, so compare those between runs on a
busy machine.

Receipts are signed (PAdES, documents/signing.py) as part of the first render and of each bulk page.

Targets (issue 19): a signed receipt's first render <= 2.5 x the yardstick, re-download <= 5 ms,
bulk >= 40 pages/s (issue 5's were a first render <= 40 ms median and bulk >= 45 pages/s).
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build(app, samples: int, bulk_count: int):
    from flask_migrate import upgrade

    from tests.factories import make_user
    from tests.factories.documents import make_campaign, paid_donation
    with app.app_context():
        upgrade()
        donor = make_user(name="Siti Rahayu", npwp="0123456789012345")
        campaigns = [make_campaign(), make_campaign()]
        for n in range(bulk_count + samples):
            paid_donation(app, campaigns[n < samples], user=donor, amount=1_000_000 * (n + 1))
        return donor.id, [c.id for c in campaigns]


def ms(values: list[float]) -> str:
    return (f"median {statistics.median(values) * 1000:.1f} ms, p90 "
            f"{sorted(values)[int(len(values) * 0.9)] * 1000:.1f} ms (n={len(values)})")


def measure_renders(app) -> tuple[list[float], list[float], list[float], list[str], int]:
    """First renders and stored re-reads through the service, on the sample campaign's receipts."""
    import sqlalchemy as sa

    from amanah.extensions import db
    from documents import receipts, signing
    from documents.models import Document
    seal, signing_cpu = signing.SignatureSlot.seal, []

    def timed_seal(*args, **kwargs):  # how much of a first render the signature takes, once laid out
        c = time.process_time()
        try:
            return seal(*args, **kwargs)
        finally:
            signing_cpu.append(time.process_time() - c)
    signing.SignatureSlot.seal = timed_seal
    with app.test_request_context():
        ids = db.session.execute(sa.select(Document.id).order_by(Document.id)).scalars().all()
        samples = ids[: len(ids) - app.config["BENCH_BULK"]]
        receipts.document_pdf(db.session.get(Document, samples[0]))  # warm-up: fonts, stylesheet
        first, again, cpu, yardstick = [], [], [], []
        for doc_id in samples[1:]:
            # The yardstick right before each receipt: whatever else the machine does then weighs on
            # both alike, so their ratio holds on a busy machine too.
            yardstick.append(minimal_page())
            document = db.session.get(Document, doc_id)
            t, c = time.perf_counter(), time.process_time()
            data, _ = receipts.document_pdf(document)
            first.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        for doc_id in samples[1:]:
            document = db.session.get(Document, doc_id)
            t = time.perf_counter()
            receipts.document_pdf(document)
            again.append(time.perf_counter() - t)
        serials = [db.session.get(Document, doc_id).serial for doc_id in samples[1:]]
        db.session.remove()
    signing.SignatureSlot.seal = seal
    return first, again, cpu, signing_cpu[1:], serials, len(data), yardstick


def measure_downloads(app, donor_id: int, serials: list[str]) -> list[float]:
    from accounts.models import User
    from amanah.extensions import db
    from tests.factories import login
    client = app.test_client()
    with app.app_context():
        login(client, db.session.get(User, donor_id))
    times = []
    for serial in serials:
        t = time.perf_counter()
        response = client.get(f"/receipts/{serial}.pdf")
        times.append(time.perf_counter() - t)
        assert response.status_code == 200
    return times


def measure_bulk(app, donor_id: int, campaign_id: int) -> tuple[int, float, float]:
    from accounts.models import User
    from amanah.extensions import db
    from campaigns.models import Campaign
    from campaigns.services import today_wib
    from documents import bulk
    from documents.models import DocumentJob
    with app.test_request_context():
        today = today_wib()
        job = bulk.start_job(db.session.get(User, donor_id), db.session.get(Campaign, campaign_id),
                             today - dt.timedelta(days=2), today + dt.timedelta(days=2),
                             base_url="http://localhost/", locale="id")
        # With DOCUMENT_JOBS=inline the commit itself runs the job (its after-commit hook), so the
        # clock starts before it; run_job() then finds the job done and returns.
        t, before = time.perf_counter(), os.times()
        db.session.commit()
        bulk.run_job(job.id)
        elapsed, after = time.perf_counter() - t, os.times()
        job = db.session.get(DocumentJob, job.id)
        assert job.status == "done" and job.total == app.config["BENCH_BULK"], (job.status, job.error)
        total = job.total
        db.session.remove()
        db.engine.dispose()
    # User and system time of this process (the job: proofs, QR codes, storing, the ZIP) and of
    # the render processes it reaped.
    own = sum(after[:2]) - sum(before[:2])
    children = sum(after[2:4]) - sum(before[2:4])
    return total, elapsed, own + children, own


YARDSTICK_HTML = "<!doctype html><html lang=en><title>A4</title><p>Hello"


def minimal_page() -> tuple[float, float]:
    """Wall and CPU seconds WeasyPrint takes for a minimal one-page A4 document (no stylesheet,
    no fonts of ours, no PDF/A): the machine's yardstick."""
    from weasyprint import HTML
    t, c = time.perf_counter(), time.process_time()
    HTML(string=YARDSTICK_HTML).write_pdf()
    return time.perf_counter() - t, time.process_time() - c


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--bulk", type=int, default=200)
    parser.add_argument("--database-url")
    args = parser.parse_args(argv)
    from tests.conftest import make_app

    workdir = Path(tempfile.mkdtemp(prefix="amanah-bench-receipts-"))
    url = args.database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    app = make_app(url, workdir / "instance", DOCUMENT_JOBS="inline", BENCH_BULK=args.bulk)
    started = time.perf_counter()
    donor_id, campaign_ids = build(app, args.samples, args.bulk)
    print(f"setup: {args.samples + args.bulk} donations confirmed in {time.perf_counter() - started:.1f} s "
          f"({app.config['SQLALCHEMY_DATABASE_URI'].split(':')[0]})")
    minimal_page()  # WeasyPrint's own first page (imports, default fonts) is not the yardstick
    first, again, cpu, signing_cpu, serials, size, yardstick = measure_renders(app)
    http = measure_downloads(app, donor_id, serials)
    print(f"first render (document_pdf, stored and committed): {ms(first)}, "
          f"{size / 1024:.0f} KiB per receipt, CPU {ms(cpu)}")
    print(f"  of which sealing its PAdES signature (byte range, digest, container): CPU {ms(signing_cpu)}")
    print(f"re-download, GET /receipts/<serial>.pdf:          {ms(http)}")
    print(f"re-download, document_pdf() of a stored receipt:  {ms(again)}")
    total, elapsed, cpu_total, cpu_own = measure_bulk(app, donor_id, campaign_ids[0])
    from documents.bulk import render_processes
    with app.app_context():
        processes = render_processes()
    print(f"bulk ZIP job: {total} receipts never rendered before, {elapsed:.2f} s, "
          f"{total / elapsed:.1f} pages/s ({processes} render processes; "
          f"CPU {cpu_total / total * 1000:.1f} ms per page, all processes; "
          f"{cpu_own / total * 1000:.1f} of it in the job's own process)")
    yardstick_wall = statistics.median(w for w, _ in yardstick)
    yardstick_cpu = statistics.median(c for _, c in yardstick)
    print(f"yardstick: WeasyPrint alone, minimal one-page A4, rendered right before each first render: "
          f"median {yardstick_wall * 1000:.1f} ms, CPU {yardstick_cpu * 1000:.1f} ms "
          f"(~27 ms where issue 5 was written)")
    print(f"first render = {statistics.median(first) / yardstick_wall:.2f} x yardstick "
          f"(CPU: {statistics.median(cpu) / yardstick_cpu:.2f} x, less the signature "
          f"{(statistics.median(cpu) - statistics.median(signing_cpu)) / yardstick_cpu:.2f} x); "
          f"one bulk page = {elapsed / total / yardstick_wall:.2f} x yardstick")
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.1f} (1 min), {load[1]:.1f} (5 min) on {os.cpu_count()} CPUs "
          "(other work on the machine slows every figure)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
