import datetime as dt

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from amanah.db import UTCDateTime, include_name, now_utc
from amanah.extensions import db
from tests.conftest import make_app


def test_now_utc_is_aware():
    assert now_utc().tzinfo is dt.UTC


def test_migrations_from_empty_give_exactly_the_models_schema(fresh_database_url, tmp_path):
    """The database was built by `flask db upgrade` alone; autogenerate must find nothing to do."""
    app = make_app(fresh_database_url, tmp_path / "i")
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True,
                                                               "include_name": include_name})
        assert compare_metadata(context, db.metadata) == []
        assert context.get_current_revision() is not None or not db.metadata.tables
    with app.app_context():
        db.engine.dispose()


def test_flask_db_check_passes(fresh_database_url, tmp_path):
    app = make_app(fresh_database_url, tmp_path / "i")
    result = app.test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        db.engine.dispose()


def test_utc_datetime_roundtrip(app):
    table = sa.Table("tmp_times", sa.MetaData(), sa.Column("at", UTCDateTime()))
    with app.app_context():
        connection = db.session.connection()
        table.create(connection)
        wib = dt.timezone(dt.timedelta(hours=7))
        connection.execute(table.insert().values(at=dt.datetime(2026, 1, 2, 10, 0, tzinfo=wib)))
        value = connection.execute(sa.select(table.c.at)).scalar_one()
        assert value == dt.datetime(2026, 1, 2, 3, 0, tzinfo=dt.UTC)
        assert value.utcoffset() == dt.timedelta(0)
        with pytest.raises(sa.exc.StatementError, match="naive datetime refused"):
            connection.execute(table.insert().values(at=dt.datetime(2026, 1, 2, 10, 0)))  # noqa: DTZ001
        db.session.rollback()


@pytest.mark.files("local")  # the demo in a bucket: tests/treasury/test_disbursements_api.py
def test_demo_command_is_idempotent(runner):
    first = runner.invoke(args=["demo"])
    second = runner.invoke(args=["demo"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output


def test_pooled_connections_are_pinged_only_after_sitting_idle(databases, tmp_path, monkeypatch):
    """A connection just returned to the pool is reused without a ping; one that sat idle longer
    than DATABASE_PING_IDLE_SECONDS is pinged, and replaced when the server has dropped it."""
    import time

    app = make_app(databases.url, tmp_path / "i", DATABASE_PING_IDLE_SECONDS=0.2)
    with app.app_context():
        engine = db.engine
        pings = []
        real_ping = engine.dialect.do_ping
        monkeypatch.setattr(engine.dialect, "do_ping", lambda conn: pings.append(1) or real_ping(conn))
        with engine.connect() as connection:
            first_pid = connection.exec_driver_sql(_BACKEND_ID[engine.dialect.name]).scalar()
        for _ in range(5):
            with engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        assert pings == []  # just used: no round trip spent on pinging
        if engine.dialect.name == "postgresql":
            # The server drops the idle connection (a restart, an idle timeout...).
            with sa.create_engine(databases.url, poolclass=sa.pool.NullPool).connect() as admin:
                admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first_pid})
        time.sleep(0.3)
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT 1").scalar() == 1
            second_pid = connection.exec_driver_sql(_BACKEND_ID[engine.dialect.name]).scalar()
        assert pings == [1]
        if engine.dialect.name == "postgresql":
            assert second_pid != first_pid  # the dropped connection was replaced, not handed out
        engine.dispose()


_BACKEND_ID = {"postgresql": "SELECT pg_backend_pid()", "sqlite": "SELECT 1"}
