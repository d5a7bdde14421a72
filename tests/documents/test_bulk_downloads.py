"""Bulk ZIP downloads of a campaign's receipts: background job, progress, only for whoever asked."""
from __future__ import annotations

import csv
import io
import time
import zipfile

import pytest

from accounts.models import Role
from amanah import storage
from amanah.extensions import db
from documents import receipts
from documents.models import DocumentJob
from tests.conftest import make_app, storage_config
from tests.factories import login, make_user
from tests.factories.documents import make_campaign, paid_donation, refund


@pytest.fixture
def inline_app(request, databases, tmp_path):
    from tests.conftest import one_rolled_back_transaction
    app = make_app(databases.url, tmp_path / "instance", DOCUMENT_JOBS="inline", **storage_config(request))
    with one_rolled_back_transaction(app):
        yield app


def _range(app):
    from documents.statements import default_range
    with app.app_context():
        return default_range()


@pytest.mark.files
def test_treasurer_gets_a_zip_of_the_stored_pdfs_and_an_index(inline_app):
    app, client = inline_app, inline_app.test_client()
    start, end = _range(app)
    with app.app_context():
        treasurer = make_user(None, Role.TREASURER)
        campaign = make_campaign(treasurer=treasurer)
        first = paid_donation(app, campaign, name="=cmd|' /C calc'!A0")
        second = paid_donation(app, campaign)
        paid_donation(app, make_campaign(treasurer=treasurer))  # another campaign: not in the ZIP
        refund(app, first, 10_000_000)
        with app.test_request_context():
            stored = receipts.document_pdf(receipts.receipt_of(second))[0]  # downloaded before
        login(client, treasurer)
        public_id = campaign.public_id
    form = client.get(f"/campaigns/{public_id}/documents/receipts")
    assert form.status_code == 200 and 'name="from"' in form.get_data(as_text=True)
    response = client.post(f"/campaigns/{public_id}/documents/receipts", data={"from": start, "to": end})
    assert response.status_code == 303 and "/documents/jobs/" in response.location
    page = client.get(response.location).get_data(as_text=True)
    assert "<progress" in page and "job-progress.js" in page and 'http-equiv="refresh"' not in page
    status = client.get(response.location + ".json").json
    assert status["status"] == "done" and status["done"] == status["total"] == 3 and status["percent"] == 100
    download = client.get(status["download_url"])
    assert download.status_code == 200 and download.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(download.data))
    names = sorted(archive.namelist())
    assert len(names) == 4 and "index.csv" in names and sum(n.startswith("AMN-CN-") for n in names) == 1
    with app.app_context():
        serial = receipts.receipt_of(second).serial
    assert archive.read(f"{serial}.pdf") == stored
    rows = list(csv.DictReader(io.StringIO(archive.read("index.csv").decode("utf-8-sig"))))
    assert {r["file"] for r in rows} == set(names) - {"index.csv"}
    assert any(r["donor"] == "'=cmd|' /C calc'!A0" for r in rows)  # no formula for spreadsheets
    download.close()


@pytest.mark.files
def test_a_cancelled_credit_note_and_its_cancellation_are_both_in_the_zip(inline_app):
    import sqlalchemy as sa

    from donations.models import Refund
    from tests.factories.documents import fail_refund
    app, client = inline_app, inline_app.test_client()
    start, end = _range(app)
    with app.app_context():
        treasurer = make_user(None, Role.TREASURER)
        campaign = make_campaign(treasurer=treasurer)
        donation_id = paid_donation(app, campaign)
        login(client, treasurer)
        public_id = campaign.public_id
    refund(app, donation_id, 10_000_000)
    with app.app_context():
        refund_id = db.session.scalar(sa.select(Refund.id).where(Refund.donation_id == donation_id))
    assert fail_refund(app, refund_id) == "reversed 1"
    response = client.post(f"/campaigns/{public_id}/documents/receipts", data={"from": start, "to": end})
    status = client.get(response.location + ".json").json
    download = client.get(status["download_url"])
    archive = zipfile.ZipFile(io.BytesIO(download.data))
    rows = {r["kind"]: r for r in csv.DictReader(io.StringIO(archive.read("index.csv").decode("utf-8-sig")))}
    assert set(rows) == {"receipt", "credit_note", "cancellation"}
    assert rows["credit_note"]["refers_to"] == rows["receipt"]["serial"]
    assert rows["cancellation"]["refers_to"] == rows["credit_note"]["serial"]
    assert rows["cancellation"]["serial"].startswith("AMN-CX-")
    assert rows["cancellation"]["amount_minor"] == "10000000"
    assert f"{rows['cancellation']['serial']}.pdf" in archive.namelist()
    download.close()


@pytest.mark.files
def test_bulk_downloads_are_purged_after_the_retention_period(inline_app):
    import datetime as dt

    from amanah.db import now_utc
    from documents import bulk
    app, client = inline_app, inline_app.test_client()
    start, end = _range(app)
    with app.app_context():
        treasurer = make_user(None, Role.TREASURER)
        campaign = make_campaign(treasurer=treasurer)
        paid_donation(app, campaign)
        login(client, treasurer)
        public_id = campaign.public_id
    old = client.post(f"/campaigns/{public_id}/documents/receipts", data={"from": start, "to": end}).location
    page = client.get(old).get_data(as_text=True)
    assert "kept for 7 days" in page or "disimpan selama 7 hari" in page
    with app.app_context():
        job = db.session.execute(db.select(DocumentJob)).scalar_one()
        files, zip_key = storage.current(), bulk.zip_key(job.filename)
        assert files.exists(zip_key)
        job.finished_at = now_utc() - dt.timedelta(days=8)
        stuck = DocumentJob(token="stuck-job-token", requested_by_id=treasurer.id, campaign_id=campaign.id,
                            date_from=job.date_from, date_to=job.date_to, base_url="http://localhost/",
                            status="running",
                            created_at=now_utc() - dt.timedelta(days=9))
        db.session.add(stuck)
        db.session.commit()
        (bulk.exports_dir() / "stuck-job-token.part").write_bytes(b"half")
    # a new request purges what expired, and only that
    fresh = client.post(f"/campaigns/{public_id}/documents/receipts",
                        data={"from": start, "to": end}).location
    assert client.get(old).status_code == 404 and client.get(fresh).status_code == 200
    with app.app_context():
        assert not files.exists(zip_key) and not (bulk.exports_dir() / "stuck-job-token.part").exists()
        (kept,) = db.session.execute(db.select(DocumentJob)).scalars()
        assert files.exists(bulk.zip_key(kept.filename))
        kept.finished_at = now_utc() - dt.timedelta(days=8)
        db.session.commit()
        result = app.test_cli_runner().invoke(args=["documents", "purge-exports"])
        assert result.exit_code == 0 and "1 bulk downloads purged" in result.output
        assert db.session.execute(db.select(DocumentJob)).first() is None


@pytest.mark.files
@pytest.mark.parametrize("who", ["other treasurer", "auditor", "donor", "organizer"])
def test_others_cannot_start_or_follow_a_job(inline_app, who):
    app, client = inline_app, inline_app.test_client()
    start, end = _range(app)
    with app.app_context():
        treasurer = make_user(None, Role.TREASURER)
        campaign = make_campaign(treasurer=treasurer)
        paid_donation(app, campaign)
        public_id = campaign.public_id
        login(client, treasurer)
    location = client.post(f"/campaigns/{public_id}/documents/receipts",
                           data={"from": start, "to": end}).location
    with app.app_context():
        users = {"other treasurer": make_user(None, Role.TREASURER), "auditor": make_user(None, Role.AUDITOR),
                 "donor": make_user(), "organizer": campaign.organizer}
        other = app.test_client()
        login(other, users[who])
    assert other.get(f"/campaigns/{public_id}/documents/receipts").status_code == 404
    assert other.post(f"/campaigns/{public_id}/documents/receipts",
                      data={"from": start, "to": end}).status_code == 404
    for suffix in ("", ".json", "/download"):
        assert other.get(location + suffix).status_code == 404
    assert app.test_client().get(location + ".json").status_code in (302, 401)


@pytest.mark.files
def test_admin_may_bulk_download_and_bad_ranges_are_refused(inline_app):
    app, client = inline_app, inline_app.test_client()
    with app.app_context():
        campaign = make_campaign()
        login(client, make_user(None, Role.ADMIN))
        public_id = campaign.public_id
    url = f"/campaigns/{public_id}/documents/receipts"
    bad = client.post(url, data={"from": "2026-05-01", "to": "2026-04-01"})
    assert bad.status_code == 400 and "tidak boleh sebelum" in bad.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(DocumentJob).count() == 0
    empty = client.post(url, data={"from": "2020-01-01", "to": "2020-12-31"})
    status = client.get(empty.location + ".json").json
    assert (status["status"], status["total"]) == ("done", 0)


@pytest.mark.slow
@pytest.mark.files
def test_job_runs_in_a_background_thread_and_the_page_follows_it(request, fresh_database_url, tmp_path):
    app = make_app(fresh_database_url, tmp_path / "instance", **storage_config(request))
    client = app.test_client()
    with app.app_context():
        treasurer = make_user(None, Role.TREASURER)
        campaign = make_campaign(treasurer=treasurer)
        for _ in range(4):
            paid_donation(app, campaign)
        public_id = campaign.public_id
        login(client, treasurer)
    from documents.statements import default_range
    with app.app_context():
        start, end = default_range()
    url = f"/campaigns/{public_id}/documents/receipts"
    location = client.post(url, data={"from": start, "to": end}).location
    first = client.get(location).get_data(as_text=True)
    assert "<progress" in first
    deadline = time.monotonic() + 60
    while (status := client.get(location + ".json").json)["status"] != "done":
        assert status["status"] in ("queued", "running") and time.monotonic() < deadline, status
        time.sleep(0.02)
    assert status["total"] == 4
    zipped = client.get(status["download_url"])
    assert len(zipfile.ZipFile(io.BytesIO(zipped.data)).namelist()) == 5
    zipped.close()
    import threading
    for thread in threading.enumerate():  # let the job's thread hand back its connection
        if thread.name.startswith("documents-job-"):
            thread.join(timeout=30)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_waiting_job_page_refreshes_itself_without_javascript(app, client, monkeypatch):
    import datetime as dt

    from documents import bulk
    monkeypatch.setattr(bulk, "enqueue", lambda job_id: None)  # the job stays waiting
    with app.app_context():
        treasurer = make_user(None, Role.TREASURER)
        campaign = make_campaign(treasurer=treasurer)
        job = bulk.start_job(treasurer, campaign, dt.date(2026, 1, 1), dt.date(2026, 1, 31),
                             base_url="http://localhost/", locale="id")
        db.session.commit()
        login(client, treasurer)
        token = job.token
    html = client.get(f"/documents/jobs/{token}").get_data(as_text=True)
    assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in html
    assert '<progress id="job-progress"' in html and "0 dari 0 dokumen" in html
    assert client.get(f"/documents/jobs/{token}/download").status_code == 404  # not ready yet
    assert client.get(f"/documents/jobs/{token}.json").json["status"] == "queued"


@pytest.mark.slow
@pytest.mark.files
def test_job_runs_in_an_rq_worker_when_redis_is_configured(request, fresh_database_url, tmp_path,
                                                           monkeypatch):
    import shutil
    import socket
    import subprocess
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    redis_url = f"redis://127.0.0.1:{port}/0"
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no"], stdout=subprocess.DEVNULL)
    try:
        from redis import Redis
        connection = Redis.from_url(redis_url)
        deadline = time.monotonic() + 10
        while True:
            try:
                connection.ping()
                break
            except Exception:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.02)
        # The worker builds its app from the environment, as `rq worker amanah` would.
        instance = tmp_path / "instance"
        environment = {"AMANAH_ENV": "testing", "DATABASE_URL": fresh_database_url, "REDIS_URL": redis_url,
                       "AMANAH_INSTANCE_PATH": str(instance), "SECRET_KEY": "rq-test-secret"}
        environment.update({k: v for k, v in storage_config(request).items() if v})  # the same bucket
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        app = make_app(fresh_database_url, instance, REDIS_URL=redis_url, SECRET_KEY="rq-test-secret",
                       RATELIMIT_STORAGE_URI=redis_url, **storage_config(request))
        client = app.test_client()
        with app.app_context():
            treasurer = make_user(None, Role.TREASURER)
            campaign = make_campaign(treasurer=treasurer)
            paid_donation(app, campaign)
            public_id = campaign.public_id
            login(client, treasurer)
            from documents.statements import default_range
            start, end = default_range()
        location = client.post(f"/campaigns/{public_id}/documents/receipts",
                               data={"from": start, "to": end}).location
        assert client.get(location + ".json").json["status"] == "queued"  # nothing ran in the request
        from rq import Queue, SimpleWorker

        from documents import bulk
        queue = Queue(bulk.QUEUE, connection=connection)
        assert queue.count == 1
        # No pubsub thread (it carries `rq` commands such as kill-horse, none sent here): with redis-py
        # its stop() waits out the thread's 60-second sleep, which was most of this test's time.
        worker = SimpleWorker([queue], connection=connection)
        worker.subscribe = lambda: None
        worker.work(burst=True)
        status = client.get(location + ".json").json
        assert (status["status"], status["total"]) == ("done", 1)
        zipped = client.get(status["download_url"])
        assert len(zipfile.ZipFile(io.BytesIO(zipped.data)).namelist()) == 2
        zipped.close()
        connection.close()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.files
@pytest.mark.parametrize("processes", [1, 2])
def test_render_processes_make_each_document_whole_and_store_what_they_made(request, databases, tmp_path,
                                                                           processes):
    """Rendered in the job's own process or in forked render processes, every PDF in the ZIP is
    the document stored for it, with its own serial and its own ledger entry attached."""
    from tests.conftest import one_rolled_back_transaction
    from tests.factories.documents import pdf_attachments, pdf_text
    app = make_app(databases.url, tmp_path / "instance", DOCUMENT_JOBS="inline",
                   DOCUMENT_RENDER_PROCESSES=processes, **storage_config(request))
    with one_rolled_back_transaction(app):
        client = app.test_client()
        start, end = _range(app)
        with app.app_context():
            treasurer = make_user(None, Role.TREASURER)
            campaign = make_campaign(treasurer=treasurer)
            ids = [paid_donation(app, campaign, amount=1_000_000 * (n + 1)) for n in range(5)]
            refund(app, ids[0], 100_000)
            login(client, treasurer)
            public_id = campaign.public_id
        location = client.post(f"/campaigns/{public_id}/documents/receipts",
                               data={"from": start, "to": end}).location
        status = client.get(location + ".json").json
        assert status["status"] == "done" and status["total"] == 6
        download = client.get(status["download_url"])
        archive = zipfile.ZipFile(io.BytesIO(download.data))
        download.close()
        with app.app_context():
            from documents.models import Document
            documents = db.session.execute(db.select(Document)).scalars().all()
            expected = {f"{d.serial}.pdf": (d.serial, d.content["ledger"]["seq"], bytes(d.pdf))
                        for d in documents}
        assert set(archive.namelist()) == {*expected, "index.csv"}
        for name, (serial, seq, stored) in expected.items():
            data = archive.read(name)
            assert data == stored and serial in pdf_text(data)
            entry = f"ledger-entry-{seq}"
            assert set(pdf_attachments(data)) == {f"{entry}.json", f"{entry}.tlog-proof"}


def _sigterm_is_default() -> bool:
    import signal
    return signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_render_processes_stop_on_terminate_even_under_a_parent_that_handles_sigterm():
    """An RQ worker handles SIGTERM as "stop after this job"; forked render processes inherited
    that, so Pool.terminate() could wait forever for a child it had told to stop (seen in CI)."""
    import signal

    from documents.pdf import fork_pool, stop_pool
    previous = signal.signal(signal.SIGTERM, lambda *_: None)  # as rq.Worker installs one
    try:
        pool = fork_pool(2)
    finally:
        signal.signal(signal.SIGTERM, previous)
    try:
        assert all(pool.apply_async(_sigterm_is_default).get(30) for _ in range(4))
    finally:
        stop_pool(pool)


@pytest.mark.files
def test_links_in_a_bulk_job_use_the_configured_host_not_the_request_host(request, databases, tmp_path):
    """The receipts a job renders are stored for good and handed to donors later: their proof
    links must name SERVER_NAME, never whatever Host header the request that started it carried."""
    from tests.conftest import one_rolled_back_transaction
    app = make_app(databases.url, tmp_path / "instance", DOCUMENT_JOBS="inline", SERVER_NAME="amanah.example",
                   **storage_config(request))
    with one_rolled_back_transaction(app):
        client = app.test_client()
        client.environ_base["HTTP_HOST"] = "evil.example"
        start, end = _range(app)
        with app.app_context():
            treasurer = make_user(None, Role.TREASURER)
            campaign = make_campaign(treasurer=treasurer)
            paid_donation(app, campaign)
            public_id = campaign.public_id
            with client.session_transaction(base_url="http://evil.example/") as session:
                session["_user_id"] = treasurer.get_id()
                session["_fresh"] = True
        response = client.post(f"http://evil.example/campaigns/{public_id}/documents/receipts",
                               data={"from": start, "to": end})
        assert response.status_code == 303
        with app.app_context():
            job = db.session.execute(db.select(DocumentJob)).scalar_one()
            assert job.status == "done" and "evil.example" not in job.base_url
            # the configured scheme too (https outside development), not the request's http
            assert job.base_url.startswith("https://amanah.example/")


def test_a_job_that_cannot_be_queued_while_redis_is_down_fails_with_a_plain_reason(databases, tmp_path):
    from tests.conftest import one_rolled_back_transaction
    from tests.factories.redis_server import running_redis
    with running_redis() as redis:
        redis.stop()  # a real Redis that has just gone away
        app = make_app(databases.url, tmp_path / "instance", DOCUMENT_JOBS="rq", REDIS_URL=redis.url)
        with one_rolled_back_transaction(app):
            client = app.test_client()
            start, end = _range(app)
            with app.app_context():
                treasurer = make_user(None, Role.TREASURER)
                campaign = make_campaign(treasurer=treasurer)
                paid_donation(app, campaign)
                login(client, treasurer)
                public_id = campaign.public_id
            started = client.post(f"/campaigns/{public_id}/documents/receipts",
                                  data={"from": start, "to": end}, headers={"Accept-Language": "en"})
            assert started.status_code == 303
            status = client.get(started.location + ".json", headers={"Accept-Language": "en"}).json
            assert status["status"] == "failed"
            assert "background service is not available" in status["error"]
            # Kept as a key and told in the reader's language: a job that fails in the background
            # has no request to say which one, and was stored in Indonesian for every reader.
            indonesian = client.get(started.location + ".json", headers={"Accept-Language": "id"}).json
            assert "layanan latar belakang sedang tidak tersedia" in indonesian["error"]
            with app.app_context():
                (job,) = db.session.execute(db.select(DocumentJob)).scalars()
                assert job.status == "failed" and job.finished_at is not None and job.error == "not-queued"


def _block_sigterm() -> None:
    import signal
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})


def test_a_render_process_that_outlives_its_sigterm_is_killed(monkeypatch):
    """stop_pool never waits for good: a child still there after the grace period is SIGKILLed."""
    import time

    from documents import pdf
    monkeypatch.setattr(pdf, "STOP_GRACE_SECONDS", 1)
    pool = pdf.fork_pool(2, _block_sigterm)  # children that SIGTERM cannot reach
    children = list(pool._pool)
    for _ in children:
        pool.apply_async(time.sleep, (60,))  # busy: they would not leave on their own either
    time.sleep(0.5)
    started = time.monotonic()
    pdf.stop_pool(pool)
    waited = time.monotonic() - started
    assert 1 <= waited < 20  # the grace period, then the kill
    assert all(child.exitcode is not None for child in children)
