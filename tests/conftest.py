"""Fixtures: app, client, runner, isolated database state, live server.

Every test that takes `app` runs once per backend: SQLite always, PostgreSQL as well when
TEST_DATABASE_URL is set. The schema comes from the migrations, never from create_all().
A test's database work happens inside one outer transaction that is rolled back at its end; tests
that need real commits seen by other processes or threads use `fresh_database_url` instead.

Tests marked `files` (the ones that store evidence, covers, report evidence or bulk ZIPs) also run
once per file store: the instance folder, and an S3 bucket served by moto's server on loopback
(`file_storage`); every other test runs on the instance folder only, and fails if it stores a
file without the mark.
"""
from __future__ import annotations

import copy
import os
import shutil
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from amanah import create_app, mail
from amanah.config import normalize_database_url
from amanah.extensions import db, limiter, login_manager

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])
# Under pytest-xdist each worker ("gw0", "gw1", ...) has its own databases, so workers never see
# each other's rows; without xdist this is empty and the names are TEST_DATABASE_URL's own.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def worker_database_name(base: str) -> str:
    """The database this worker uses for TEST_DATABASE_URL's `base` (.ci/run drops `base_*`)."""
    return f"{base}_{WORKER}" if WORKER else base


_SIGNING_DIR: list[Path] = []


def session_signing_p12() -> str:
    """One self-signed document signing certificate for the whole test session (per worker):
    generating an RSA key for every app would cost more than the tests that sign."""
    if not _SIGNING_DIR:
        import atexit
        import tempfile

        from documents.signing import generate_p12
        folder = Path(tempfile.mkdtemp(prefix="amanah-signing-"))
        atexit.register(shutil.rmtree, folder, True)
        generate_p12(folder / "signing.p12", "Amanah test documents", "Yayasan Amanah Demo", b"test-password")
        _SIGNING_DIR.append(folder)
    return str(_SIGNING_DIR[0] / "signing.p12")


def make_app(database_url: str, instance_path: Path, **extra):
    config = {
        "DOCUMENT_SIGNING_P12": session_signing_p12(),
        "DOCUMENT_SIGNING_PASSWORD": "test-password",
        "AMANAH_ENV": "testing",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "INSTANCE_PATH": str(instance_path),
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "SERVER_NAME": None,
        "MAIL_SERVER": None,
        # Tests read a page right after changing what it shows; tests/campaigns/test_page_cache.py
        # turns the cache on to test it.
        "CAMPAIGN_PAGE_CACHE_SECONDS": 0,
    }
    config.update(extra)
    return create_app(config)


def migrate_to_head(database_url: str, instance_path: Path) -> None:
    from flask_migrate import upgrade

    app = make_app(database_url, instance_path)
    with app.app_context():
        upgrade()
        db.engine.dispose()


class TestDatabases:
    """One migrated database for rollback-isolated tests, and fresh copies on demand."""

    def __init__(self, backend: str, workdir: Path):
        self.backend = backend
        self.workdir = workdir
        self.instance_path = workdir / "instance"
        self._created: list[str] = []
        if backend == "sqlite":
            self.template = workdir / "template.sqlite3"
            self.url = f"sqlite:///{workdir / 'test.sqlite3'}"
            migrate_to_head(f"sqlite:///{self.template}", self.instance_path)
            shutil.copy(self.template, workdir / "test.sqlite3")
        else:
            given = sa.engine.make_url(normalize_database_url(os.environ["TEST_DATABASE_URL"]))
            base = given.set(database=worker_database_name(given.database))
            self.url = base.render_as_string(False)
            self.admin_url = base.set(database="postgres")
            self.template_name = f"{base.database}_tpl"
            self._admin(f'DROP DATABASE IF EXISTS "{self.template_name}" WITH (FORCE)',
                        f'CREATE DATABASE "{self.template_name}"')
            migrate_to_head(base.set(database=self.template_name).render_as_string(False),
                            self.instance_path)
            self._admin(f'DROP DATABASE IF EXISTS "{base.database}" WITH (FORCE)',
                        f'CREATE DATABASE "{base.database}" TEMPLATE "{self.template_name}"')

    def _admin(self, *statements: str) -> None:
        engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
        engine.dispose()

    def fresh(self) -> str:
        """A new, migrated, empty database that allows real commits; dropped at session end."""
        name = self._fresh_name()
        if self.backend == "sqlite":
            path = self.workdir / f"{name}.sqlite3"
            shutil.copy(self.template, path)
            return f"sqlite:///{path}"
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template_name}"')
        self._created.append(name)
        return sa.engine.make_url(self.url).set(database=name).render_as_string(False)

    def _fresh_name(self) -> str:
        """A new database's name: `<worker database>_<random>` on PostgreSQL, so .ci/run's
        cleanup of `<TEST_DATABASE_URL's database>_*` finds any that a crash left behind."""
        suffix = uuid.uuid4().hex[:12]
        if self.backend == "sqlite":
            return f"amanah_{suffix}"
        return f"{sa.engine.make_url(self.url).database}_{suffix}"

    def drop_fresh(self) -> None:
        if self.backend == "postgresql":
            self._admin(*(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in self._created))


@pytest.fixture(scope="session", params=BACKENDS)
def databases(request, tmp_path_factory):
    dbs = TestDatabases(request.param, tmp_path_factory.mktemp(request.param))
    yield dbs
    dbs.drop_fresh()


@pytest.fixture
def backend(databases) -> str:
    return databases.backend


@contextmanager
def one_rolled_back_transaction(app, dispose: bool = True):
    """Bind every session of `app` to one connection whose transaction is rolled back at the end.

    Sessions (requests, CLI commands, services) only ever open savepoints inside it, so a test's
    commits are real to the code under test and leave nothing behind.
    """
    with app.app_context():
        engines = db._app_engines[app]
        engine = engines[None]
        connection = engine.connect()
        outer = connection.begin()
        engines[None] = connection
        factory = db.session.session_factory
        factory.configure(join_transaction_mode="create_savepoint")
    try:
        yield connection
    finally:
        # A background task (a password reset's mail) still running would use the next test's
        # connection: every session of the app is bound to the current test's.
        mail.wait_for_background()
        with app.app_context():
            db.session.remove()
            factory.configure(join_transaction_mode="conditional_savepoint")
            engines[None] = engine
            outer.rollback()
            connection.close()
            if dispose:  # the shared app keeps its pool: its next test reuses the connection
                engine.dispose()


class SharedApp:
    """One app per backend and worker, handed to every test that takes `app`, reset between tests.

    create_app costs ~35 ms, paid by thousands of tests. Whatever a test can change on the app is
    put back after it: the whole config (from a deep copy taken at creation), the per-app caches
    in app.extensions (fragments, chart series, checkpoint notes, framed pages...), the instance
    folder (outbox, uploads, exports, generated keys) and the rate limiter's storage. Database
    rows need nothing: each test runs in one_rolled_back_transaction. A test that needs an app
    built with other settings calls make_app itself (or uses a fixture that does).
    """

    def __init__(self, database_url: str, instance_path: Path):
        self.app = make_app(database_url, instance_path)
        self.instance_path = instance_path
        self.snapshot()

    def snapshot(self) -> None:
        """Take what reset() restores: the app as it is now."""
        self._config = copy.deepcopy(dict(self.app.config))
        self._extensions = dict(self.app.extensions)
        self._instance_files = {path.name for path in self.instance_path.iterdir()}
        # The extension objects are process-wide and init_app writes the app's settings onto
        # them (the limiter's enabled flag and storage, the login view...): a test that builds
        # its own app rewrites them, so they are put back before each test of the shared app.
        self._extension_states = {id(ext): (ext, dict(vars(ext))) for ext in (limiter, login_manager)}

    def restore_extension_objects(self) -> None:
        for ext, state in self._extension_states.values():
            vars(ext).clear()
            vars(ext).update(state)

    def reset(self) -> None:
        app = self.app
        app.config.clear()
        app.config.update(copy.deepcopy(self._config))
        for key in set(app.extensions) - set(self._extensions):
            del app.extensions[key]
        app.extensions.update(self._extensions)
        for path in self.instance_path.iterdir():
            if path.name not in self._instance_files:
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        if limiter.enabled and getattr(limiter, "_storage", None) is not None:
            limiter.reset()

    @contextmanager
    def test(self):
        """The app for one test: its extension objects set back, its database work rolled back."""
        self.restore_extension_objects()
        try:
            with one_rolled_back_transaction(self.app, dispose=False):
                yield self.app
        finally:
            self.reset()


@pytest.fixture(scope="session")
def shared_app(databases, tmp_path_factory) -> SharedApp:
    shared = SharedApp(databases.url, tmp_path_factory.mktemp(f"{databases.backend}-app") / "instance")
    yield shared
    with shared.app.app_context():
        db.engine.dispose()


# ---- file stores ----

FILE_STORAGES = ("local", "s3")
S3_TEST_BUCKET = "amanah-tests"


@dataclass
class FileStorage:
    """The file store a `files` test runs on; `config` goes into the app's configuration."""
    name: str
    config: dict = field(default_factory=dict)


def pytest_generate_tests(metafunc):
    """`files` runs a test on every store; `files("local")` on those named (the demo loaders' tests:
    loading the demo costs ~20 s, and test_disbursements_api.py loads it into the bucket)."""
    marker = metafunc.definition.get_closest_marker("files")
    if marker is not None:
        if "file_storage" not in metafunc.fixturenames:
            # Named for parametrize's check only: pytest prunes it from the test's fixtures again,
            # so the `app` fixture asks for it by the test's parameter (storage_of below).
            metafunc.fixturenames.append("file_storage")
        metafunc.parametrize("file_storage", marker.args or FILE_STORAGES, indirect=True)


def storage_of(request) -> FileStorage | None:
    """The file store the test runs on: None unless it is marked `files` (or asks for one)."""
    callspec = getattr(request.node, "callspec", None)
    if "file_storage" in request.fixturenames or (callspec is not None and "file_storage" in callspec.params):
        return request.getfixturevalue("file_storage")
    return None


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 server (real HTTP, boto3 unmocked) on 127.0.0.1 at a free port, with one bucket;
    tests keep apart by prefix. Credentials are moto's fakes, in the variables boto3 reads."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.delenv("AWS_SESSION_TOKEN", raising=False)
        url = f"http://{host}:{port}"
        boto3.session.Session().client("s3", endpoint_url=url).create_bucket(Bucket=S3_TEST_BUCKET)
        try:
            yield FileStorage("s3", {"S3_ENDPOINT_URL": url, "STORAGE_URL": f"s3://{S3_TEST_BUCKET}"})
        finally:
            server.stop()


@pytest.fixture
def file_storage(request) -> FileStorage:
    """The instance folder, or (param "s3") a prefix of its own in the moto bucket."""
    if getattr(request, "param", "local") == "local":
        return FileStorage("local", {"STORAGE_URL": None, "S3_ENDPOINT_URL": None})
    server = request.getfixturevalue("s3_server")
    prefix = f"{server.config['STORAGE_URL']}/{uuid.uuid4().hex[:12]}"
    return FileStorage("s3", {**server.config, "STORAGE_URL": prefix})


def storage_config(request) -> dict:
    """For a test that builds its own app: the settings of its file store (none unless `files`)."""
    storage = storage_of(request)
    return storage.config if storage is not None else {}


def stored_in_folder(instance_path: Path) -> list[str]:
    """Files the file store keeps that sit in the instance folder (uploads/, exports/)."""
    return sorted(p.relative_to(instance_path).as_posix() for folder in ("uploads", "exports")
                  for p in (instance_path / folder).rglob("*") if p.is_file())


def check_stored_files(instance_path: Path, storage: FileStorage | None) -> None:
    stored = stored_in_folder(instance_path)
    if storage is None and stored:
        pytest.fail(f"this test stores files ({stored[0]}): mark it `files` (pytest.mark.files) so "
                    "that it runs on the S3 backend too", pytrace=False)
    if storage is not None and storage.name == "s3" and stored:
        pytest.fail(f"{stored[0]} was written to the instance folder, not through the file store",
                    pytrace=False)


@pytest.fixture
def app(request, databases, shared_app):
    """The app on the test's backend, in a transaction rolled back at the end of the test.

    Shared between tests (see SharedApp) unless the test is marked `own_app`: one that changes
    the app itself, e.g. adds a route, gets a new app of its own as every test once did. A test
    marked `files` gets the file store of its `file_storage` parameter.
    """
    storage = storage_of(request)
    if request.node.get_closest_marker("own_app"):
        instance_path = request.getfixturevalue("tmp_path") / "instance"
        app = make_app(databases.url, instance_path, **(storage.config if storage else {}))
        with one_rolled_back_transaction(app):
            yield app
        check_stored_files(instance_path, storage)
        return
    with shared_app.test() as app:
        if storage is not None:
            app.config.update(storage.config)
        yield app
        check_stored_files(shared_app.instance_path, storage)


class World:
    """Rows built once and committed, for a module whose many cases all look at the same world
    (the permission tables: every route against every kind of visitor).

    The world lives in a fresh database of its own, so it never shows in other tests; its app is
    a SharedApp, and each case runs in one_rolled_back_transaction, so what a case changes (a
    campaign it closes, a role it grants) is gone before the next. `data` is what `build(app)`
    returned (ids, never ORM objects). A module uses it as

        @pytest.fixture(scope="module")
        def world(databases, tmp_path_factory):
            yield from World.serve(databases, tmp_path_factory, build)

        @pytest.fixture
        def app(world):
            with world.shared.test() as app:
                yield app
    """

    def __init__(self, shared: SharedApp, data):
        self.shared = shared
        self.data = data

    @classmethod
    def serve(cls, databases, tmp_path_factory, build):
        shared = SharedApp(databases.fresh(), tmp_path_factory.mktemp("world") / "instance")
        data = build(shared.app)
        with shared.app.app_context():
            db.session.remove()
        shared.snapshot()
        yield cls(shared, data)
        with shared.app.app_context():
            db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def fresh_database_url(databases) -> str:
    return databases.fresh()


@pytest.fixture
def empty_database_url(databases, tmp_path):
    """An empty database (no migrations run) of the test's backend, for tests of the migrations."""
    if databases.backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    name = databases._fresh_name()
    databases._admin(f'CREATE DATABASE "{name}"')
    yield sa.engine.make_url(databases.url).set(database=name).render_as_string(False)
    databases._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def serve_until_shutdown(server) -> None:
    """serve_forever, checking for shutdown() every 10 ms rather than 0.5 s: teardown is instant."""
    server.serve_forever(poll_interval=0.01)


@pytest.fixture
def live_server(request, databases, tmp_path):
    """The app on a fresh database, served by a real HTTP server in a thread (on the test's file
    store, for a test marked `files`)."""
    storage = storage_of(request)
    app = make_app(databases.fresh(), tmp_path / "live-instance", **(storage.config if storage else {}))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=serve_until_shutdown, args=(server,), daemon=True)
    thread.start()
    server.app = app
    server.url = f"http://127.0.0.1:{server.server_port}"
    yield server
    server.shutdown()
    thread.join(timeout=5)
    with app.app_context():
        db.engine.dispose()


# ---- accounts and mail ----

class SmtpCatcher:
    """An aiosmtpd handler that keeps every message it receives, parsed, in `.messages`."""

    def __init__(self):
        self.messages = []
        self.envelopes = []
        self.port = None

    async def handle_DATA(self, server, session, envelope):
        import email
        import email.policy

        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.original_content or envelope.content,
                                                      policy=email.policy.default))
        return "250 Message accepted for delivery"


@contextmanager
def running_smtp_server(**smtp_options):
    """A real SMTP server on 127.0.0.1 at a free port, in a thread; yields its SmtpCatcher."""
    from aiosmtpd.controller import Controller

    class AnyPortController(Controller):
        def _trigger_server(self):
            # Bound to port 0: learn the port the system chose before the readiness check uses it.
            self.port = self.server.sockets[0].getsockname()[1]
            super()._trigger_server()

    catcher = SmtpCatcher()
    controller = AnyPortController(catcher, hostname="127.0.0.1", port=0, **smtp_options)
    controller.start()
    catcher.port = controller.port
    try:
        yield catcher
    finally:
        controller.stop()


@pytest.fixture
def smtp_server(app):
    """Mail from `app` goes over SMTP to a local server; the test reads `smtp_server.messages`."""
    with running_smtp_server() as catcher:
        app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=catcher.port, MAIL_USE_TLS=False,
                          MAIL_USE_SSL=False, MAIL_USERNAME=None, MAIL_PASSWORD=None)
        yield catcher


@pytest.fixture
def fast_hashing(app):
    """Cheap argon2id parameters: the default profile costs ~0.15 s a hash, too slow for many tests."""
    app.config["ARGON2_PARAMETERS"] = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}
    return app
