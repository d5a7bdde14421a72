"""amanah/config.py declares every setting once: the README's table lists exactly those, the code
reads no environment variable and no config key that is not declared, and a value that cannot be
read stops the start with a ConfigError that names the variable."""
import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from amanah import create_app
from amanah.config import (
    FIXED,
    ROOT,
    SETTINGS,
    SETTINGS_BY_NAME,
    ConfigError,
    load_config,
    normalize_database_url,
    text,
)

# Where the app's code lives: every top-level package and wsgi.py (tests, bench and the migrations'
# env.py, whose `config` is Alembic's, are not the app).
PACKAGES = sorted(p.parent for p in ROOT.glob("*/__init__.py") if p.parent.name != "tests")
CODE = [*sorted(path for package in PACKAGES for path in package.rglob("*.py")), ROOT / "wsgi.py"]
TEMPLATES = sorted((ROOT / "templates").rglob("*.*"))
NAMES = {setting.name for setting in SETTINGS}


@pytest.fixture
def clean_env(monkeypatch):
    """No setting from the machine running the tests (TEST_DATABASE_URL, a developer's ORG_NAME)."""
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


# --- the README ------------------------------------------------------------------------------

def _readme_config_rows() -> list[tuple[set[str], str]]:
    section = (ROOT / "README.md").read_text().split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [(set(re.findall(r"`([A-Z][A-Z0-9_]*)`", row.split("|")[1])), row) for row in rows]


def test_readme_table_lists_exactly_the_declared_settings():
    listed = [name for names, _ in _readme_config_rows() for name in names]
    assert len(listed) == len(set(listed)), "a variable is listed twice"
    assert set(listed) - NAMES == set(), "listed in the README but not declared in amanah/config.py"
    assert NAMES - set(listed) == set(), "declared in amanah/config.py but missing from the README"


def test_readme_marks_exactly_the_settings_production_requires():
    for names, row in _readme_config_rows():
        required = {name for name in names if "production" in SETTINGS_BY_NAME[name].required_in}
        assert ("required in production" in row.lower()) == bool(required), row
        if len(names) > 1:  # a shared row says which of its variables production requires
            for name in required:
                assert f"`{name}` required in production" in row, row


# --- the code ----------------------------------------------------------------------------------

def _module_strings(tree: ast.Module) -> dict[str, str]:
    """Module-level NAME = "text" constants, so `os.environ.get(PASSWORD_ENV)` resolves."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) \
                and isinstance(node.value.value, str):
            found.update({t.id: node.value.value for t in node.targets if isinstance(t, ast.Name)})
    return found


def _is_environ(node: ast.AST) -> bool:
    """`os.environ` (or `environ` imported from os); not a request's WSGI environ."""
    return (isinstance(node, ast.Attribute) and node.attr == "environ"
            and isinstance(node.value, ast.Name) and node.value.id == "os") or \
        (isinstance(node, ast.Name) and node.id == "environ")


def _is_app_config(node: ast.AST) -> bool:
    """`app.config`, `current_app.config`, or a local called config/cfg holding one."""
    return (isinstance(node, ast.Attribute) and node.attr == "config") or \
        (isinstance(node, ast.Name) and node.id in {"config", "cfg"})


def _reads(path: Path) -> tuple[set[str], set[str], list[str]]:
    """(environment variables, config keys, reads whose name is not a constant) in one module."""
    tree = ast.parse(path.read_text(), str(path))
    strings = _module_strings(tree)
    env, keys, unknown = set(), set(), []

    def name_of(node: ast.AST | None) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name) and node.id in strings:
            return strings[node.id]
        return None

    def record(container: ast.AST, key_node: ast.AST | None, where: ast.AST) -> None:
        if _is_environ(container):
            into = env
        elif _is_app_config(container):
            into = keys
        else:
            return
        key = name_of(key_node)
        if key is None:
            unknown.append(f"{path.relative_to(ROOT)}:{where.lineno}")
        else:
            into.add(key)

    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript):
            record(node.value, node.slice, node)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in {"get", "setdefault", "pop"}:
                record(node.func.value, node.args[0] if node.args else None, node)
            elif node.func.attr == "getenv" and isinstance(node.func.value, ast.Name):
                env.add(name_of(node.args[0]) or f"<{path.name}:{node.lineno}>")
        elif isinstance(node, ast.Compare) and isinstance(node.ops[0], ast.In | ast.NotIn):
            record(node.comparators[0], node.left, node)
    return env, keys, unknown


def _code_reads() -> tuple[set[str], set[str], list[str]]:
    env, keys, unknown = set(), set(), []
    for path in CODE:
        more_env, more_keys, more_unknown = _reads(path)
        env |= more_env
        keys |= more_keys
        unknown += more_unknown
    for path in TEMPLATES:
        source = path.read_text()
        keys |= set(re.findall(r"\bconfig\.([A-Z][A-Z0-9_]*)", source))
        keys |= set(re.findall(r"\bconfig\[['\"]([A-Z][A-Z0-9_]*)['\"]\]", source))
    return env, keys, unknown


def test_the_scan_sees_the_reads_it_must_see():
    env, keys, _ = _code_reads()
    assert {"AMANAH_ADMIN_PASSWORD"} <= env
    assert {"DONATION_FEE_RATE_BP", "DOCUMENT_JOBS", "PREFERRED_URL_SCHEME", "ORG_NAME",
            "EXPORT_RETENTION_DAYS", "MAIL_TIMEOUT"} <= keys


def test_every_environment_variable_the_code_reads_is_declared():
    env, _, unknown = _code_reads()
    assert unknown == [], "name every setting with a constant, so it can be checked"
    assert env - NAMES == set()


def test_every_config_key_the_code_uses_is_set_by_load_config(clean_env, tmp_path):
    _, keys, _ = _code_reads()
    assert keys - set(load_config(tmp_path)) == set()


def test_settings_are_declared_once_and_fixed_values_do_not_shadow_them():
    assert len(NAMES) == len(SETTINGS)
    config_keys = {s.config_key for s in SETTINGS if s.config_key}
    assert config_keys.isdisjoint(FIXED)


# --- values ----------------------------------------------------------------------------------------

# What each setting was before the declarative table; unchanged.
DEFAULTS = {
    "AMANAH_ENV": "development", "DATABASE_PING_IDLE_SECONDS": 2.0, "REDIS_URL": None,
    "RATELIMIT_ENABLED": True, "STRIPE_SECRET_KEY": None, "STRIPE_WEBHOOK_SECRET": None,
    "STRIPE_API_BASE": None, "STRIPE_MAX_NETWORK_RETRIES": 2, "CHECKOUT_EXPIRY_MINUTES": 60,
    "DONATION_FEE_RATE_BP": 340, "MAIL_SERVER": None, "MAIL_PORT": 25, "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None, "MAIL_USE_TLS": False, "MAIL_USE_SSL": False,
    "MAIL_DEFAULT_SENDER": "Amanah <no-reply@amanah.localhost>", "LEDGER_ORIGIN": "amanah.localhost/ledger",
    "LEDGER_SIGNING_KEY": None, "ORG_NAME": "Yayasan Amanah Demo",
    "ORG_ADDRESS": "Jl. Contoh Raya No. 1, Jakarta Pusat 10110 (alamat demo)",
    "ORG_REGISTRATION_NO": "AHU-0000000.AH.01.04.Tahun 2026 (nomor demo)", "RECEIPT_PREFIX": "AMN",
    "DOCUMENT_JOBS": None, "EXPORT_RETENTION_DAYS": 7,
    "DOCUMENT_RENDER_PROCESSES": None, "SERVER_NAME": None, "PROXY_HOPS": 0,
    "MAX_CONTENT_LENGTH": 12 * 1024 * 1024, "EVIDENCE_MAX_BYTES": 8 * 1024 * 1024,
    "RATELIMIT_STORAGE_URI": "memory://", "PREFERRED_URL_SCHEME": "http", "SESSION_COOKIE_SECURE": False,
    "REMEMBER_COOKIE_SECURE": False, "TESTING": False, "GUEST_LINK_MAX_AGE_DAYS": 365,
}


def test_defaults_are_what_they_were(clean_env, tmp_path):
    config = load_config(tmp_path)
    assert {key: config[key] for key in DEFAULTS} == DEFAULTS
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'amanah.sqlite3'}"
    assert config["SECRET_KEY"] == (tmp_path / "secret_key").read_text().strip()


@pytest.mark.parametrize(("name", "raw", "value"), [
    ("RATELIMIT_ENABLED", "false", False), ("RATELIMIT_ENABLED", " OFF ", False),
    ("RATELIMIT_ENABLED", "0", False), ("RATELIMIT_ENABLED", "no", False),
    ("MAIL_USE_TLS", "1", True), ("MAIL_USE_TLS", "True", True), ("MAIL_USE_SSL", "yes", True),
    ("MAIL_USE_SSL", "on", True), ("RATELIMIT_ENABLED", "", True),
    ("DONATION_FEE_RATE_BP", "0", 0), ("DONATION_FEE_RATE_BP", "9999", 9_999),
    ("DONATION_FEE_RATE_BP", " 290 ", 290), ("MAIL_PORT", "587", 587), ("PROXY_HOPS", "2", 2),
    ("DATABASE_PING_IDLE_SECONDS", "0.5", 0.5), ("DATABASE_PING_IDLE_SECONDS", "0", 0.0),
    ("CHECKOUT_EXPIRY_MINUTES", "1440", 1440), ("CHECKOUT_EXPIRY_MINUTES", "5", 5),
    ("DOCUMENT_JOBS", "inline", "inline"), ("DOCUMENT_JOBS", "rq", "rq"),
    ("DOCUMENT_RENDER_PROCESSES", "1", 1), ("AMANAH_ENV", "testing", "testing"),
    ("REDIS_URL", "redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
    ("SQLALCHEMY_DATABASE_URI", "postgres://u@h/db", "postgresql+psycopg://u@h/db"),
])
def test_accepted_values(clean_env, tmp_path, name, raw, value):
    variable = "DATABASE_URL" if name == "SQLALCHEMY_DATABASE_URI" else name
    clean_env.setenv(variable, raw)
    assert load_config(tmp_path)[name] == value


@pytest.mark.parametrize(("name", "raw", "message"), [
    ("DONATION_FEE_RATE_BP", "abc", "DONATION_FEE_RATE_BP: expected an integer between 0 and 9999, "
                                    "got 'abc'"),
    ("DONATION_FEE_RATE_BP", "10000", "DONATION_FEE_RATE_BP: expected an integer between 0 and 9999, "
                                      "got '10000'"),
    ("DONATION_FEE_RATE_BP", "3.4", "DONATION_FEE_RATE_BP: expected an integer between 0 and 9999, "
                                    "got '3.4'"),
    ("PROXY_HOPS", "one", "PROXY_HOPS: expected an integer of 0 or more, got 'one'"),
    ("PROXY_HOPS", "-1", "PROXY_HOPS: expected an integer of 0 or more, got '-1'"),
    ("MAX_CONTENT_LENGTH", "0", "MAX_CONTENT_LENGTH: expected an integer of 1 or more, got '0'"),
    ("DOCUMENT_RENDER_PROCESSES", "0", "DOCUMENT_RENDER_PROCESSES: expected an integer of 1 or more, "
                                       "got '0'"),
    ("MAIL_PORT", "70000", "MAIL_PORT: expected an integer between 1 and 65535, got '70000'"),
    ("CHECKOUT_EXPIRY_MINUTES", "1441", "CHECKOUT_EXPIRY_MINUTES: expected an integer between 1 and 1440, "
                                        "got '1441'"),
    ("DATABASE_PING_IDLE_SECONDS", "soon", "DATABASE_PING_IDLE_SECONDS: expected a number of seconds, "
                                           "0 or more, got 'soon'"),
    ("DATABASE_PING_IDLE_SECONDS", "nan", "DATABASE_PING_IDLE_SECONDS: expected a number of seconds, "
                                          "0 or more, got 'nan'"),
    ("RATELIMIT_ENABLED", "flase", "RATELIMIT_ENABLED: expected one of 1, true, yes, on, 0, false, no, off, "
                                   "got 'flase'"),
    ("AMANAH_ENV", "prod", "AMANAH_ENV: expected development, production or testing, got 'prod'"),
    ("DOCUMENT_JOBS", "celery", "DOCUMENT_JOBS: expected rq, thread or inline, got 'celery'"),
])
def test_bad_values_name_the_variable(clean_env, tmp_path, name, raw, message):
    clean_env.setenv(name, raw)
    with pytest.raises(ConfigError) as excinfo:
        load_config(tmp_path)
    assert str(excinfo.value) == message


# Every setting whose parser can refuse something (any text is a name, a secret or, to SQLAlchemy, a URL).
CHECKED = [s for s in SETTINGS if s.parse not in (text, Path, normalize_database_url)]


@pytest.mark.parametrize("setting", CHECKED, ids=lambda s: s.name)
def test_every_checked_setting_refuses_nonsense(clean_env, tmp_path, setting):
    clean_env.setenv(setting.name, "nonsense!")
    with pytest.raises(ConfigError, match=f"^{setting.name}: expected .*, got 'nonsense!'$"):
        load_config(tmp_path)


def test_each_app_gets_its_own_copy_of_the_fixed_values(clean_env, tmp_path):
    first, second = load_config(tmp_path), load_config(tmp_path)
    first["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"] = {"timeout": 30}  # as create_app on SQLite
    assert second["SQLALCHEMY_ENGINE_OPTIONS"] == {"pool_pre_ping": False}
    assert FIXED["SQLALCHEMY_ENGINE_OPTIONS"] == {"pool_pre_ping": False}


def test_string_overrides_are_checked_like_the_environment(clean_env, tmp_path):
    with pytest.raises(ConfigError, match=r"^PROXY_HOPS: "):
        load_config(tmp_path, {"PROXY_HOPS": "many"})
    assert load_config(tmp_path, {"PROXY_HOPS": 3})["PROXY_HOPS"] == 3


# --- startup -----------------------------------------------------------------------------------

def test_create_app_stops_on_a_bad_value_naming_it(clean_env, tmp_path):
    clean_env.setenv("DONATION_FEE_RATE_BP", "abc")
    with pytest.raises(ConfigError, match=r"^DONATION_FEE_RATE_BP: expected an integer"):
        create_app({"INSTANCE_PATH": str(tmp_path)})


def test_the_served_app_fails_with_one_line_not_a_traceback(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in NAMES}
    env.update(AMANAH_INSTANCE_PATH=str(tmp_path), DONATION_FEE_RATE_BP="abc")
    result = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1
    assert result.stderr == ("amanah: configuration error: DONATION_FEE_RATE_BP: expected an integer "
                             "between 0 and 9999, got 'abc'\n")
