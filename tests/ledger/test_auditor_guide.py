"""The auditor guide at /ledger/verify: the programs it prints work, exactly as printed.

The Go program runs against Go's own golang.org/x/mod/sumdb packages (Debian's golang-go and
golang-golang-x-mod-dev, which .ci/run installs), so a standard transparency-log implementation,
not ours, agrees with the export, the checkpoint and the key the app serves.
"""
from __future__ import annotations

import contextlib
import html
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from amanah.extensions import db
from ledger import note
from tests.factories.ledger import add, fill

GO_MODULES = Path("/usr/share/gocode")  # Debian's golang-golang-x-mod-dev puts golang.org/x/mod here


def code_blocks(page: str) -> list[str]:
    return [html.unescape(block) for block in re.findall(r"<pre><code>(.*?)</code></pre>", page, re.S)]


def download_files(client, folder: Path) -> None:
    (folder / "ledger.jsonl").write_bytes(client.get("/ledger/export.jsonl").data)
    (folder / "cp.txt").write_bytes(client.get("/ledger/checkpoint").data)
    (folder / "key.txt").write_bytes(client.get("/ledger/key").data)


def test_python_snippet_of_the_guide_checks_an_entry(app, client, tmp_path):
    with app.app_context():
        fill(12)
    page = client.get("/ledger/verify").get_data(as_text=True)
    snippet = next(block for block in code_blocks(page) if "verify_inclusion" in block)
    download_files(client, tmp_path)
    (tmp_path / "proof.json").write_bytes(client.get("/ledger/entries/7/proof.json").data)
    output = io.StringIO()
    cwd = os.getcwd()
    try:
        os.chdir(tmp_path)
        with contextlib.redirect_stdout(output):
            exec(compile(snippet, "guide-snippet", "exec"), {})  # noqa: S102 - our own page's code
        assert output.getvalue().strip() == "True"

        proof = json.loads((tmp_path / "proof.json").read_text())
        proof["leaf"] = proof["leaf"].replace('"amount":', '"amount":1')
        (tmp_path / "proof.json").write_text(json.dumps(proof))
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            exec(compile(snippet, "guide-snippet", "exec"), {})  # noqa: S102
        assert output.getvalue().strip() == "False"
    finally:
        os.chdir(cwd)


@pytest.mark.skipif(shutil.which("go") is None or not (GO_MODULES / "src/golang.org/x/mod").is_dir(),
                    reason="needs Debian's golang-go and golang-golang-x-mod-dev (.ci/run installs them)")
def test_go_program_of_the_guide_verifies_the_export_with_x_mod_sumdb(app, client, tmp_path):
    with app.app_context():
        fill(37)
        add(kind="disbursement", amount=-5_000, memo="Beras 50 kg", evidence="ab" * 32)
        add(kind="report", amount=0, memo="Laporan bulan Maret", evidence="cd" * 32,
            files=["0" * 64, "ef" * 32])  # a progress report's anchor: amount 0 and a list
        db.session.commit()
    page = client.get("/ledger/verify").get_data(as_text=True)
    program = next(block for block in code_blocks(page) if "package main" in block)
    source = tmp_path / "gopath/src/check"
    source.mkdir(parents=True)
    (source / "main.go").write_text(program)
    download_files(client, source)
    env = {**os.environ, "GO111MODULE": "off", "GOPATH": f"{tmp_path / 'gopath'}:{GO_MODULES}",
           "GOCACHE": str(tmp_path / "gocache"), "GOFLAGS": "", "CGO_ENABLED": "0"}
    build = subprocess.run(["go", "build", "-o", str(tmp_path / "check"), "."], cwd=source, env=env,
                           capture_output=True, text=True, timeout=600, check=False)
    assert build.returncode == 0, build.stderr

    def run_check():
        return subprocess.run([str(tmp_path / "check")], cwd=source, capture_output=True, text=True,
                              timeout=60, check=False)

    ok = run_check()
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "OK: 39 entries match the signed checkpoint"

    # One changed byte in one leaf: Go's tlog no longer reaches the signed root.
    original = (source / "ledger.jsonl").read_bytes().split(b"\n")
    lines = list(original)
    lines[20] = lines[20].replace(b'"kind":"', b'"kind":"x', 1)
    (source / "ledger.jsonl").write_bytes(b"\n".join(lines))
    tampered = run_check()
    assert tampered.returncode != 0 and "does not match the signed root" in tampered.stderr

    # The same checkpoint checked with another key of the same name: Go's note package refuses it.
    (source / "ledger.jsonl").write_bytes(b"\n".join(original))
    assert run_check().returncode == 0
    name = (source / "key.txt").read_text().split("+", 1)[0]
    _signing, other_verifier = note.generate_key(name)
    (source / "key.txt").write_text(other_verifier + "\n")
    wrong_key = run_check()
    assert wrong_key.returncode != 0 and "OK:" not in wrong_key.stdout
