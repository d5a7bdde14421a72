"""Migration files are named YYYYMMDD_HHMM_<rev>_<slug>.py, after their Create Date and revision,
so a listing sorts in the order they were written and a name says which revision the file holds."""
import ast
import configparser
import re
from pathlib import Path

import pytest

from amanah.config import ROOT

VERSIONS = ROOT / "migrations" / "versions"
FILE_NAME = re.compile(r"(?P<date>\d{8})_(?P<time>\d{4})_(?P<rev>[0-9a-f]{12})_(?P<slug>[a-z0-9_]+)\.py")
CREATE_DATE = re.compile(r"^Create Date: (\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2})", re.MULTILINE)
FILES = sorted(VERSIONS.glob("*.py"))


def _module_string(tree: ast.Module, name: str) -> str:
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return ast.literal_eval(node.value)
    raise AssertionError(f"no {name} = ... in the module")


def test_there_are_migrations():
    assert len(FILES) >= 16


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_file_name_carries_create_date_and_revision(path: Path):
    match = FILE_NAME.fullmatch(path.name)
    assert match, f"{path.name} is not YYYYMMDD_HHMM_<rev>_<slug>.py"
    source = path.read_text()
    tree = ast.parse(source)
    assert match["rev"] == _module_string(tree, "revision")
    year, month, day, hour, minute = CREATE_DATE.search(ast.get_docstring(tree)).groups()
    assert (match["date"], match["time"]) == (year + month + day, hour + minute)


def test_new_revisions_follow_the_same_pattern():
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(ROOT / "migrations" / "alembic.ini")
    template = ini["alembic"]["file_template"].replace("%%", "%")
    name = template % {"year": 2026, "month": 12, "day": 4, "hour": 9, "minute": 5,
                       "rev": "0123456789ab", "slug": "a_change"} + ".py"
    assert name == "20261204_0905_0123456789ab_a_change.py"
    assert FILE_NAME.fullmatch(name)
    assert ini["alembic"]["timezone"] == "UTC"
