"""The reference deployment runs `flask payments reconcile` on a schedule (issue 14): a systemd timer
every 10 minutes, whose service runs the command as the README's cron line does."""
from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

SYSTEMD = Path(__file__).resolve().parents[2] / "deploy" / "systemd"


def _unit(name: str) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.optionxform = str  # systemd's keys are case-sensitive
    unit.read(SYSTEMD / name)
    return unit


def test_the_timer_starts_the_reconcile_service_every_ten_minutes_and_after_downtime():
    timer = _unit("amanah-reconcile.timer")
    assert timer["Timer"]["Unit"] == "amanah-reconcile.service"
    assert timer["Timer"]["OnCalendar"] == "*:0/10"
    assert timer["Timer"]["Persistent"] == "true"
    assert timer["Install"]["WantedBy"] == "timers.target"
    if shutil.which("systemd-analyze"):
        out = subprocess.run(["systemd-analyze", "calendar", "--iterations=2", "*:0/10"],
                             capture_output=True, text=True, check=True).stdout
        assert "Normalized form: *-*-* *:00/10:00" in out


def test_the_service_runs_the_reconcile_command_once_as_the_app_user(app):
    service = _unit("amanah-reconcile.service")["Service"]
    web = _unit("amanah-web@.service")["Service"]
    assert service["Type"] == "oneshot"
    assert (service["User"], service["EnvironmentFile"], service["WorkingDirectory"]) == (
        web["User"], web["EnvironmentFile"], web["WorkingDirectory"])
    program, *args = shlex.split(service["ExecStart"])
    assert program == "/srv/amanah/.venv/bin/flask" and args[:2] == ["--app", "wsgi"]
    # The same command the app knows: a clean run exits 0 (a failed unit means something is unsettled).
    result = app.test_cli_runner().invoke(args=args[2:])
    assert args[2:] == ["payments", "reconcile"] and result.exit_code == 0, result.output


@pytest.mark.parametrize("name", ["amanah-reconcile.service", "amanah-reconcile.timer"])
def test_the_units_say_how_to_enable_them(name):
    text = (SYSTEMD / name).read_text()
    assert text.startswith("#")
    if name.endswith(".timer"):
        assert "systemctl enable --now amanah-reconcile.timer" in text
