"""What `make install` and the server print is worth reading: no alarm about the English catalog
(English is the source language: its translations are empty on purpose), no setuptools warning
about package data, no WeasyPrint progress lines per PDF in the server log."""
from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from amanah import QUIET_LOGGERS
from documents import pdf

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _recipe(target: str) -> list[str]:
    """The commands `make <target>` runs, as make prints them without running them."""
    out = subprocess.run(["make", "-n", "-s", "-o", ".venv/.installed", target], cwd=ROOT,
                         capture_output=True, text=True, check=True, timeout=60).stdout
    return [line for line in out.splitlines() if "pybabel compile" in line]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_compiling_the_catalogs_reports_only_indonesian(tmp_path):
    commands = _recipe("translations")
    assert commands, "the translations target compiles the catalogs"
    shutil.copytree(ROOT / "translations", tmp_path / "translations",
                    ignore=shutil.ignore_patterns("*.mo"))
    output = ""
    for command in commands:
        args = command.replace("$(BIN)", str(BIN)).replace(".venv/bin/", f"{BIN}/").split()
        args = [str(tmp_path / "translations") if a == "translations" else a for a in args]
        result = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True)
        output += result.stdout + result.stderr
    assert (tmp_path / "translations/en/LC_MESSAGES/messages.mo").exists()
    assert (tmp_path / "translations/id/LC_MESSAGES/messages.mo").exists()
    statistics = [line for line in output.splitlines() if "messages" in line and "translated" in line]
    assert statistics and all("/id/" in line for line in statistics), output
    assert all("100%" in line for line in statistics), output  # and Indonesian is complete


def test_building_the_package_gives_no_setuptools_warning(tmp_path):
    """build_py over a copy of the project: what pip's install step prints, without pip."""
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    for package in ("accounts", "amanah", "campaigns", "documents", "donations", "ledger", "treasury"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    result = subprocess.run(
        [sys.executable, "-W", "always", "-c", "from setuptools import setup; setup()", "-q", "build_py",
         "--build-lib", str(tmp_path / "build")], cwd=tmp_path, capture_output=True, text=True, timeout=300,
        check=False)
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr and "!!" not in result.stderr, result.stderr
    built = tmp_path / "build"
    assert (built / "accounts" / "data" / "common-passwords.txt").is_file()  # the data is still packaged
    assert (built / "ledger" / "verify.py").is_file()


def test_rendering_a_pdf_logs_no_progress_lines(app, caplog, monkeypatch):
    def html(template, context, locale):
        return '<html lang="en"><head><title>t</title></head><body><p>Kuitansi</p></body></html>'

    monkeypatch.setattr(pdf, "render_html", html)
    caplog.set_level(logging.INFO)
    with app.app_context():
        assert pdf.render_pdf("receipt.html", {}, locale="en").startswith(b"%PDF-")
    noisy = [r for r in caplog.records if r.name.startswith(("weasyprint", "fontTools"))
             and r.levelno < logging.WARNING]
    assert noisy == []
    for name in QUIET_LOGGERS:
        assert logging.getLogger(name).level == logging.WARNING
