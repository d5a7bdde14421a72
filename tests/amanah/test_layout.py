"""Each top-level package says its one job, in its docstring and in the README's layout table."""
import ast

import pytest

from amanah.config import ROOT

PACKAGES = sorted(p.parent.name for p in ROOT.glob("*/__init__.py") if p.parent.name != "tests")


def _layout_table() -> str:
    return (ROOT / "README.md").read_text().split("\n## Project layout\n", 1)[1].split("\n## ", 1)[0]


def test_the_packages_are_the_ones_the_layout_names():
    assert PACKAGES == ["accounts", "amanah", "campaigns", "documents", "donations", "ledger", "maps",
                        "opendata", "organizations", "reports", "treasury"]


@pytest.mark.parametrize("package", PACKAGES)
def test_package_opens_with_a_docstring(package):
    docstring = ast.get_docstring(ast.parse((ROOT / package / "__init__.py").read_text()))
    assert docstring and len(docstring.splitlines()[0]) > 20


@pytest.mark.parametrize("package", [*PACKAGES, "tests/factories"])
def test_readme_layout_table_describes_the_package(package):
    assert f"\n| `{package}/` | " in _layout_table()
