"""The file store: one contract, two backends (the instance folder, an S3 bucket on moto's server),
the 503 when the bucket is away, and `flask storage migrate`."""
from __future__ import annotations

import hashlib
import io
import shutil
import socket
import time
import uuid
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from amanah import evidence, storage
from amanah.extensions import db
from amanah.storage import s3
from campaigns.models import Campaign
from campaigns.services import today_wib
from tests.factories.treasury import RP, form_data, fund, make_campaign, pdf, picture, stored_nothing
from treasury import disbursements
from treasury.models import Disbursement

KEY = "uploads/evidence/" + "ab" * 32


def _use_bucket(app, s3_server) -> None:
    """The moto bucket, under a prefix of this test's own (the suite may run twice: SQLite, PostgreSQL)."""
    app.config.update(s3_server.config, STORAGE_URL=f"{s3_server.config['STORAGE_URL']}/{uuid.uuid4().hex}")


# ---- the contract, on both backends ----

@pytest.mark.files
def test_put_is_whole_once_and_reports_whether_it_wrote(app, file_storage):
    with app.app_context():
        files = storage.current()
        assert type(files).__name__ == {"local": "LocalStore", "s3": "S3Store"}[file_storage.name]
        assert not files.exists(KEY)
        with pytest.raises(FileNotFoundError):
            storage.read(KEY)
        assert files.put(KEY, b"first", "application/pdf") is True
        assert files.put(KEY, b"second", "application/pdf") is False  # content-addressed: kept
        assert files.exists(KEY) and storage.read(KEY) == b"first"
        assert storage.sha256_of(files, KEY) == hashlib.sha256(b"first").hexdigest()
        assert list(files.keys("uploads/evidence/")) == [KEY]
        assert list(files.keys("uploads/covers/")) == []
        files.delete(KEY)
        files.delete(KEY)  # nothing there: nothing happens
        assert not files.exists(KEY) and storage.sha256_of(files, KEY) is None


@pytest.mark.files
def test_put_file_copies_or_moves_and_replaces(app, file_storage, tmp_path):
    source = tmp_path / "built.part"
    source.write_bytes(b"PK\x03\x04 one")
    with app.app_context():
        files = storage.current()
        files.put_file("exports/job.zip", source, "application/zip")
        assert source.exists() and storage.read("exports/job.zip") == b"PK\x03\x04 one"
        source.write_bytes(b"PK\x03\x04 two")
        files.put_file("exports/job.zip", source, "application/zip", move=True)
        assert not source.exists() and storage.read("exports/job.zip") == b"PK\x03\x04 two"


@pytest.mark.parametrize("key", [
    "../secret_key", "/etc/passwd", "uploads/../secret_key", "uploads/.upload-x.part", "uploads", "Uploads/x",
    "uploads/evidence/x y", ""])
def test_keys_are_plain_relative_paths(app, key):
    with app.app_context(), pytest.raises(ValueError):
        storage.current().exists(key)
    with pytest.raises(ValueError):
        s3.S3Store("amanah-tests", "p", None).exists(key)


@pytest.mark.files
def test_send_is_conditional_on_the_hash_and_serves_ranges(app, file_storage):
    data = bytes(range(256)) * 40
    sha = hashlib.sha256(data).hexdigest()
    with app.app_context():
        storage.current().put(f"uploads/evidence/{sha}", data, "application/pdf")
    with app.test_request_context(), evidence.send(sha, "application/pdf", max_age=60) as whole:
        assert whole.status_code == 200 and whole.headers["ETag"] == f'"{sha}"'
        assert whole.content_length == len(data) and b"".join(whole.response) == data
    with app.test_request_context(headers={"If-None-Match": f'"{sha}"'}), \
            evidence.send(sha, "application/pdf") as unchanged:
        assert unchanged.status_code == 304
    with app.test_request_context(headers={"Range": "bytes=10-19"}), \
            evidence.send(sha, "application/pdf") as part:
        assert part.status_code == 206 and b"".join(part.response) == data[10:20]
    with app.test_request_context(), pytest.raises(FileNotFoundError):
        evidence.send("cd" * 32, "application/pdf")


def test_a_bucket_answers_304_without_being_asked_and_streams_large_files(app, s3_server, monkeypatch):
    _use_bucket(app, s3_server)
    data = b"x" * 5000
    sha = hashlib.sha256(data).hexdigest()
    with app.app_context():
        files = storage.current()
        files.put(f"uploads/evidence/{sha}", data, "application/pdf")
        monkeypatch.setattr(s3, "IN_MEMORY_BYTES", 1000)
        with app.test_request_context(), evidence.send(sha, "application/pdf") as streamed:
            assert streamed.content_length == len(data)
            assert b"".join(streamed.response) == data
        files.delete(f"uploads/evidence/{sha}")
        with app.test_request_context(headers={"If-None-Match": f'"{sha}"'}):
            assert evidence.send(sha, "application/pdf").status_code == 304  # the ETag is the hash


@pytest.mark.files
def test_nothing_is_written_to_the_instance_folder_with_a_bucket(app, file_storage, funded):
    """The `app` fixture fails a test that finds files in uploads/ or exports/ with the S3 store;
    here the whole recording of a disbursement goes through it."""
    public_id, _ = funded
    document = picture(40)
    with app.test_request_context():
        campaign = db.session.scalar(sa.select(Campaign).where(Campaign.public_id == public_id))
        row = disbursements.record(campaign, campaign.treasurer, disbursements.DisbursementInput(
            amount=1_000 * RP, paid_on=today_wib(), payee_kind="organization", payee_name="Toko Maju",
            purpose="Pembelian alat tulis", category="goods", evidence=document))
        db.session.commit()
        assert evidence.read(row.evidence_sha256) == document
        assert evidence.key_for(row.evidence_sha256) in list(storage.current().keys("uploads/"))


# ---- a bucket that is away ----

def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def bucket_away(app, s3_server):
    """The app's bucket is at a port where nothing listens."""
    app.config.update(STORAGE_URL="s3://amanah-tests/away", S3_ENDPOINT_URL=f"http://127.0.0.1:{_closed_port()}")
    return app


def test_an_upload_while_the_bucket_is_away_is_a_503_and_writes_nothing(bucket_away, funded):
    app, (public_id, treasurer_id) = bucket_away, funded
    from accounts.models import User
    from tests.factories import login
    client = app.test_client()
    with app.app_context():
        login(client, db.session.get(User, treasurer_id))
    started = time.monotonic()
    response = client.post(f"/treasury/{public_id}/disbursements/new", data=form_data(),
                           content_type="multipart/form-data", headers={"Accept-Language": "en"})
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert "briefly unavailable" in response.get_data(as_text=True)
    assert time.monotonic() - started < 10
    app.config.update(STORAGE_URL=None, S3_ENDPOINT_URL=None)
    assert stored_nothing(app)  # no row, no entry (and nothing in the folder either)


def test_serving_while_the_bucket_is_away_is_a_503(app, s3_server, funded):
    public_id, _ = funded
    document = pdf(41)
    _use_bucket(app, s3_server)
    with app.test_request_context():
        campaign = db.session.scalar(sa.select(Campaign).where(Campaign.public_id == public_id))
        row = disbursements.record(campaign, campaign.treasurer, disbursements.DisbursementInput(
            amount=1_000 * RP, paid_on=today_wib(), payee_kind="organization", payee_name="Toko Maju",
            purpose="Pembelian alat tulis", category="goods", evidence=document))
        db.session.commit()
        sha = row.evidence_sha256
    assert app.test_client().get(f"/evidence/{sha}").data == document
    app.config["S3_ENDPOINT_URL"] = f"http://127.0.0.1:{_closed_port()}"
    away = app.test_client().get(f"/evidence/{sha}", headers={"Accept": "application/json"})
    assert away.status_code == 503 and away.headers["Retry-After"] == "5" and "error" in away.json
    cover = app.test_client().get(f"/campaigns/covers/{'ab' * 32}.webp")
    assert cover.status_code == 503


def test_a_row_is_never_written_when_its_file_could_not_be(app, s3_server, funded, monkeypatch):
    """Object first, then the row: a failed store leaves the transaction without the row."""
    public_id, _ = funded
    _use_bucket(app, s3_server)

    def refuse(*args, **kwargs):
        raise storage.StorageUnavailable("the bucket went away")
    monkeypatch.setattr(s3.S3Store, "put", refuse)
    with app.test_request_context():
        campaign = db.session.scalar(sa.select(Campaign).where(Campaign.public_id == public_id))
        with pytest.raises(storage.StorageUnavailable):
            disbursements.record(campaign, campaign.treasurer, disbursements.DisbursementInput(
                amount=1_000 * RP, paid_on=today_wib(), payee_kind="organization", payee_name="Toko Maju",
                purpose="Pembelian alat tulis", category="goods", evidence=pdf(42)))
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Disbursement)) == 0


# ---- flask storage migrate ----

def _instance_with_files(root):
    """An instance folder as Amanah has always written it, with one of each kind of file."""
    files = {}
    for kind, data in (("evidence", pdf(50)), ("organization-documents", picture(51))):
        sha = hashlib.sha256(data).hexdigest()
        files[f"uploads/{kind}/{sha}"] = data
    cover = picture(52, "WEBP")
    files[f"uploads/covers/{hashlib.sha256(cover).hexdigest()}.webp"] = cover
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("index.csv", "file\n")
    files["exports/tok123.zip"] = archive.getvalue()
    for key, data in files.items():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(data)
    (root / "uploads/evidence/.upload-x.part").write_bytes(b"half")  # a write that never finished
    (root / "exports/other.part").write_bytes(b"half")
    (root / "secret_key").write_text("not a file the store keeps")
    return files


def _migrate(app, source, *args):
    return app.test_cli_runner().invoke(args=["storage", "migrate", "--from", str(source), *args])


def test_migrate_copies_verifies_and_skips_what_is_there(app, s3_server, tmp_path):
    source = tmp_path / "old-instance"
    files = _instance_with_files(source)
    _use_bucket(app, s3_server)
    first = _migrate(app, source, "-v")
    assert first.exit_code == 0, first.output
    assert "4 copied, 0 already there, 0 mismatched" in first.output
    with app.app_context():
        bucket = storage.current()
        assert sorted(bucket.keys("")) == sorted(files)
        for key, data in files.items():
            assert storage.read(key) == data
        # a copy that went wrong in the bucket is copied again, and verified
        bucket.delete("exports/tok123.zip")
        bucket.put("exports/tok123.zip", b"damaged", "application/zip")
    again = _migrate(app, source)
    assert again.exit_code == 0, again.output
    assert "1 copied, 3 already there, 0 mismatched" in again.output
    with app.app_context():
        assert storage.read("exports/tok123.zip") == files["exports/tok123.zip"]


def test_migrate_refuses_a_file_that_does_not_match_its_name_and_exits_1(app, s3_server, tmp_path):
    source = tmp_path / "old-instance"
    files = _instance_with_files(source)
    damaged = next(key for key in files if key.startswith("uploads/evidence/"))
    (source / damaged).write_bytes(b"%PDF-1.4 bit rot")
    _use_bucket(app, s3_server)
    result = _migrate(app, source)
    assert result.exit_code == 1
    assert f"MISMATCH {damaged}: the file's SHA-256 is" in result.output
    assert "3 copied, 0 already there, 1 mismatched" in result.output
    with app.app_context():
        assert not storage.current().exists(damaged)


def test_migrate_exits_1_when_the_bucket_gives_back_other_bytes(app, s3_server, tmp_path, monkeypatch):
    source = tmp_path / "old-instance"
    _instance_with_files(source)
    _use_bucket(app, s3_server)
    upload = s3.S3Store.put_file

    def lossy(self, key, path, content_type, *, move=False):
        damaged = path.with_name(".damaged")
        damaged.write_bytes(path.read_bytes()[:-1])
        upload(self, key, damaged, content_type)
    monkeypatch.setattr(s3.S3Store, "put_file", lossy)
    result = _migrate(app, source)
    assert result.exit_code == 1
    assert result.output.count("MISMATCH") == 4 and "the store gives back" in result.output


def test_migrate_needs_a_bucket_and_says_so(app, tmp_path):
    result = _migrate(app, tmp_path)
    assert result.exit_code == 2 and "STORAGE_URL names no bucket" in result.output


def test_an_instance_folder_migrated_to_a_bucket_is_served_from_it(app, s3_server, funded):
    """Recorded on the instance folder, migrated, then served by an app that only knows the bucket."""
    public_id, _ = funded
    document = pdf(53)
    with app.test_request_context():
        campaign = db.session.scalar(sa.select(Campaign).where(Campaign.public_id == public_id))
        row = disbursements.record(campaign, campaign.treasurer, disbursements.DisbursementInput(
            amount=1_000 * RP, paid_on=today_wib(), payee_kind="organization", payee_name="Toko Maju",
            purpose="Pembelian alat tulis", category="goods", evidence=document))
        db.session.commit()
        sha = row.evidence_sha256
    _use_bucket(app, s3_server)
    assert app.test_client().get(f"/evidence/{sha}").status_code == 404  # not in the bucket yet
    assert _migrate(app, app.instance_path).exit_code == 0
    served = app.test_client().get(f"/evidence/{sha}")
    assert served.status_code == 200 and served.data == document
    assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    # The folder's copy goes: the `app` fixture keeps tests that leave files there to `files` ones.
    shutil.rmtree(Path(app.instance_path) / "uploads")


@pytest.fixture
def funded(app):
    with app.app_context():
        campaign = make_campaign()
        fund(campaign, 1_000_000 * RP)
        return campaign.public_id, campaign.treasurer_id


def test_a_bulk_zip_that_cannot_be_stored_fails_its_job_with_a_plain_reason(app, funded, tmp_path):
    from accounts.models import Role
    from documents import bulk
    from documents.models import DocumentJob
    from tests.factories import make_user
    app.config.update(STORAGE_URL="s3://amanah-tests/away", S3_ENDPOINT_URL=f"http://127.0.0.1:{_closed_port()}",
                      DOCUMENT_JOBS="inline")
    with app.test_request_context(headers={"Accept-Language": "en"}):
        campaign = db.session.scalar(sa.select(Campaign).where(Campaign.public_id == funded[0]))
        admin = make_user(None, Role.ADMIN)
        job = bulk.start_job(admin, campaign, today_wib(), today_wib(), base_url="http://localhost/",
                             locale="en")
        db.session.commit()  # runs the job, inline
        job = db.session.get(DocumentJob, job.id)
        assert job.status == "failed" and job.error == "storage"
        assert "file storage is not available" in bulk.status_of(job)["error"]
    assert list((Path(app.instance_path) / "exports").iterdir()) == []  # the half-built ZIP went too


@pytest.mark.parametrize(("raw", "accepted"), [
    ("s3://amanah-files", True), ("s3://amanah-files/prod/evidence", True), ("s3://my.bucket-1/", True),
    ("s3://B", False), ("s3://Amanah", False), ("file:///srv/amanah", False), ("amanah-files", False),
])
def test_storage_url_names_a_bucket(tmp_path, monkeypatch, raw, accepted):
    from amanah.config import ConfigError, load_config
    monkeypatch.delenv("STORAGE_URL", raising=False)
    if accepted:
        assert load_config(tmp_path, {"STORAGE_URL": raw})["STORAGE_URL"] == raw
    else:
        with pytest.raises(ConfigError, match=r"^STORAGE_URL: expected s3://bucket or s3://bucket/prefix"):
            load_config(tmp_path, {"STORAGE_URL": raw})


def test_the_store_follows_the_configuration(app, tmp_path):
    with app.app_context():
        assert isinstance(storage.current(), storage.LocalStore)
        assert storage.current().describe() == app.instance_path
        app.config.update(STORAGE_URL="s3://amanah-files/prod/", S3_ENDPOINT_URL="http://127.0.0.1:9000")
        bucket = storage.current()
        assert isinstance(bucket, storage.S3Store) and bucket.describe() == "s3://amanah-files/prod"
        assert bucket.endpoint_url == "http://127.0.0.1:9000"
