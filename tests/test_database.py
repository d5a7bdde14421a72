import datetime as dt

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from conftest import make_app

from amanah.db import UTCDateTime, now_utc
from amanah.extensions import db


def test_now_utc_is_aware():
    assert now_utc().tzinfo is dt.UTC


def test_migrations_from_empty_give_exactly_the_models_schema(fresh_database_url, tmp_path):
    """The database was built by `flask db upgrade` alone; autogenerate must find nothing to do."""
    app = make_app(fresh_database_url, tmp_path / "i")
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
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


def test_demo_command_is_idempotent(runner):
    first = runner.invoke(args=["demo"])
    second = runner.invoke(args=["demo"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
