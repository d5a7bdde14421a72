"""Two app servers and one background worker sharing one database, one Redis and one S3 bucket
(moto's server), each server with an instance folder of its own: what one stores the other serves,
a ZIP built by the worker downloads through either, rate limits count across both, and both sign
checkpoints with the one key, never two different checkpoints of one size.

The two servers are two app objects built as `gunicorn wsgi:app` builds one on each machine (their
own instance folders, the shared settings of the README's "Every app server must share" list);
tests/deploy/test_nginx.py drives app servers over HTTP behind nginx."""
from __future__ import annotations

import hashlib
import io
import shutil
import socket
import subprocess
import threading
import time
import uuid
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from accounts.models import Role, User
from amanah.extensions import db
from campaigns.models import Campaign
from campaigns.services import today_wib
from ledger import note
from ledger.models import LedgerCheckpoint
from tests.conftest import make_app
from tests.factories import login, make_user
from tests.factories.documents import make_campaign, paid_donation
from tests.factories.treasury import form_data, pdf

ORIGIN = "amanah.test/ledger"
SECRET = "one secret shared by every app server, 32+ characters"
EN = {"Accept-Language": "en"}


@pytest.fixture
def redis_url():
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no"], stdout=subprocess.DEVNULL)
    from redis import Redis
    url = f"redis://127.0.0.1:{port}/0"
    connection = Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            connection.ping()
            break
        except Exception:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)
    connection.close()
    try:
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def cluster(backend, fresh_database_url, redis_url, s3_server, tmp_path, monkeypatch):
    if backend != "postgresql":
        pytest.skip("several app servers share PostgreSQL; SQLite is the one-server embedded default")
    bucket = f"{s3_server.config['STORAGE_URL']}/{uuid.uuid4().hex[:12]}"
    shared = {"SECRET_KEY": SECRET, "REDIS_URL": redis_url, "RATELIMIT_STORAGE_URI": redis_url,
              "STORAGE_URL": bucket, "S3_ENDPOINT_URL": s3_server.config["S3_ENDPOINT_URL"],
              "LEDGER_ORIGIN": ORIGIN, "LEDGER_SIGNING_KEY": note.generate_key(ORIGIN)[0],
              "DOCUMENT_JOBS": "rq", "RATELIMIT_ENABLED": True}
    servers = [make_app(fresh_database_url, tmp_path / f"instance-{n}", **shared) for n in (1, 2)]
    # The worker builds its app from the environment, as `rq worker amanah` does on its machine.
    worker_env = {"AMANAH_ENV": "testing", "DATABASE_URL": fresh_database_url,
                  "AMANAH_INSTANCE_PATH": str(tmp_path / "instance-worker"), **shared}
    for name, value in worker_env.items():
        monkeypatch.setenv(name, str(value).lower() if isinstance(value, bool) else value)
    yield servers
    for app in servers:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def run_worker(redis_url: str) -> None:
    from redis import Redis
    from rq import Queue, SimpleWorker

    from documents import bulk
    connection = Redis.from_url(redis_url)
    worker = SimpleWorker([Queue(bulk.QUEUE, connection=connection)], connection=connection)
    worker.subscribe = lambda: None  # no pubsub thread in a burst run (its stop waits 60 s)
    worker.work(burst=True)
    connection.close()


def _treasurer_with_money(app):
    with app.app_context():
        treasurer = make_user(None, Role.TREASURER)
        campaign = make_campaign(treasurer=treasurer)
        paid_donation(app, campaign)
        return campaign.public_id, treasurer.id


def test_evidence_stored_through_one_server_is_served_by_the_other(cluster):
    first, second = cluster
    public_id, treasurer_id = _treasurer_with_money(first)
    client = first.test_client()
    with first.app_context():
        login(client, db.session.get(User, treasurer_id))
    document = pdf(11)
    response = client.post(f"/treasury/{public_id}/disbursements/new",
                           data=form_data(amount="25,000", evidence=(document, "nota.pdf"),
                                          paid_on=today_wib().isoformat()),
                           headers=EN, content_type="multipart/form-data")
    assert response.status_code == 303, response.get_data(as_text=True)
    sha = hashlib.sha256(document).hexdigest()
    with second.test_client().get(f"/evidence/{sha}") as served:
        assert served.status_code == 200 and served.data == document
    # Nothing of it is in either server's instance folder: the bucket holds it.
    for app in cluster:
        assert not list(Path(app.instance_path).rglob(sha + "*"))


def test_a_zip_built_by_the_worker_downloads_through_either_server(cluster, redis_url):
    first = cluster[0]
    public_id, treasurer_id = _treasurer_with_money(first)
    clients = [app.test_client() for app in cluster]
    with first.app_context():
        treasurer = db.session.get(User, treasurer_id)
        for client in clients:
            login(client, treasurer)
        from documents.statements import default_range
        start, end = default_range()
    location = clients[0].post(f"/campaigns/{public_id}/documents/receipts",
                               data={"from": start, "to": end}).location
    assert clients[1].get(location + ".json").json["status"] == "queued"  # nothing ran in the request
    run_worker(redis_url)
    for client in clients:
        status = client.get(location + ".json").json
        assert (status["status"], status["total"]) == ("done", 1)
        with client.get(status["download_url"]) as zipped:
            assert zipped.status_code == 200
            assert len(zipfile.ZipFile(io.BytesIO(zipped.data)).namelist()) == 2


def test_rate_limits_count_across_both_servers(cluster):
    clients = [app.test_client() for app in cluster]
    for attempt in range(10):  # the login limit is 10 a minute per address: 5 through each server
        response = clients[attempt % 2].post("/account/login",
                                             data={"email": f"x{attempt}@example.test", "password": "x"})
        assert response.status_code == 422
    for client in clients:
        response = client.post("/account/login", data={"email": "x@example.test", "password": "x"})
        assert response.status_code == 429


def test_both_servers_sign_with_one_key_and_never_two_checkpoints_of_one_size(cluster):
    first = cluster[0]
    with first.app_context():
        campaign_id = make_campaign().id
    keys = {app.test_client().get("/ledger/key").get_data(as_text=True) for app in cluster}
    assert len(keys) == 1
    seen: dict[int, set[str]] = {}
    failures = []
    stop = threading.Event()

    def read_checkpoints(app):
        client = app.test_client()
        while not stop.is_set():
            response = client.get("/ledger/checkpoint")
            if response.status_code != 200:
                failures.append(response.status_code)
                continue
            text = response.get_data(as_text=True)
            size = int(text.splitlines()[1])
            seen.setdefault(size, set()).add(text)  # no witnesses here: the note and its one signature

    readers = [threading.Thread(target=read_checkpoints, args=(app,)) for app in cluster for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        for n in range(6):
            app = cluster[n % 2]
            with app.app_context():
                paid_donation(app, db.session.get(Campaign, campaign_id), amount=1_000_000 * (n + 1))
    finally:
        stop.set()
        for reader in readers:
            reader.join(timeout=30)
    assert not failures
    assert len(seen) >= 2  # the checkpoint moved while both servers signed
    assert all(len(notes) == 1 for notes in seen.values()), seen
    with first.app_context():
        stored = db.session.execute(sa.select(LedgerCheckpoint.size, LedgerCheckpoint.note)).all()
    verifier = note.parse_verifier_key(keys.pop().strip())
    for size, text in stored:
        assert note.open_checkpoint(text, [verifier], ORIGIN).size == size
