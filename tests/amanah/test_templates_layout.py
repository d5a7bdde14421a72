"""Static checks of the page templates that keep narrow screens usable without a browser run:
every table scrolls inside its own box, and that box can be reached and scrolled by keyboard."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
PDF_BASE = '{% extends "documents/base.html" %}'  # PDFs (WeasyPrint) are laid out on a fixed A4 page


def _is_web_page(path: Path) -> bool:
    return path.parent.name != "mail" and PDF_BASE not in path.read_text(encoding="utf-8")


PAGES = sorted(p for p in TEMPLATES.rglob("*.html") if _is_web_page(p))


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_every_table_scrolls_in_a_keyboard_reachable_box(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        where = f"{path.name}:{number + 1}"
        if re.search(r"<table\b", line):
            before = lines[number - 1] if number else ""
            assert 'class="table-scroll"' in before, f"{where}: wrap the table in .table-scroll"
        if 'class="table-scroll"' in line:
            assert 'tabindex="0"' in line, f"{where}: a scrolling box needs tabindex=\"0\""
