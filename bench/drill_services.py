"""The processes bench/fault_drill.py starts, stops and breaks: all its own, all on loopback.

A PostgreSQL cluster made with initdb in a temporary folder (never the machine's shared server),
a redis-server, gunicorn serving the app, an RQ worker, and the fake Stripe API in this process,
which here also keeps the webhooks Stripe would send in an outbox for the drill to deliver.
"""
from __future__ import annotations

import contextlib
import glob
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ledger.note import generate_key  # noqa: E402
from tests.factories.fake_stripe import FakeStripe, make_event  # noqa: E402
from tests.factories.redis_server import RedisServer  # noqa: E402

VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=5).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up in {timeout:.0f} s")


class Postgres:
    """A throwaway cluster: initdb, pg_ctl start / restart -m fast / stop, on a free loopback port.

    initdb refuses to run as root, so as root every command runs as the `postgres` user."""

    def __init__(self, workdir: Path):
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            raise RuntimeError("no /usr/lib/postgresql/*/bin/initdb: install postgresql")
        self.bin = Path(found[-1]).parent
        self.dir = workdir / "postgres"
        self.dir.mkdir()
        self.data, self.log = self.dir / "data", self.dir / "server.log"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/amanah"
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        self.restarts = 0

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)

    def _options(self) -> str:
        # fsync off: the drill restarts the server cleanly (-m fast), it does not crash the machine.
        return (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c max_connections=200")

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--locale=C", "--no-sync")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", self._options(), "-w", "start")
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "amanah")

    def restart(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", self._options(),
                  "-m", "fast", "-w", "restart")
        self.restarts += 1

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


class Redis(RedisServer):
    """redis-server with an append-only file, as a production Redis keeps its queue across a restart."""

    def __init__(self, workdir: Path):
        super().__init__()
        folder = workdir / "redis"
        folder.mkdir()
        self.extra_args = ("--appendonly", "yes", "--dir", str(folder))
        self.outages = 0


class Gunicorn:
    """`gunicorn -w N -b 127.0.0.1:PORT wsgi:app`, the README's production command."""

    def __init__(self, name: str, env: dict, workers: int, log: Path):
        self.name, self.env, self.workers, self.log = name, env, workers, log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.killed = 0
        self._seen: dict[int, float] = {}  # worker pid -> when first seen
        self.boot_seconds = 0.0  # from start to every worker answering, measured once

    def start(self) -> None:
        self._started = time.monotonic()
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [str(VENV_BIN / "gunicorn"), "-w", str(self.workers), "-b", f"127.0.0.1:{self.port}",
                 "wsgi:app"], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 90) -> None:
        """Up, and with all its workers (the master respawns each one it loses)."""
        wait_for(f"{self.url}/healthz", timeout)
        deadline = time.monotonic() + timeout
        while len(self.worker_pids()) < self.workers and time.monotonic() < deadline:
            time.sleep(0.2)
        if not self.boot_seconds:
            self.boot_seconds = time.monotonic() - self._started

    def worker_pids(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in path.read_text().split()]
        except (OSError, ValueError):
            return []

    def settled(self, seconds: float) -> bool:
        """Whether all its workers have been up for `seconds`, and at least as long as the app
        took to boot at the start (each booted, not only forked): a crash now and then, not a
        crash storm that leaves no worker standing on a slow day."""
        seconds = max(seconds, self.boot_seconds)
        now = time.monotonic()
        pids = self.worker_pids()
        for pid in pids:
            self._seen.setdefault(pid, now)
        return len(pids) >= self.workers and all(now - self._seen[pid] >= seconds for pid in pids)

    def kill_worker(self, rng: random.Random) -> int | None:
        pids = self.worker_pids()
        if not pids:
            return None
        pid = rng.choice(pids)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return None
        self.killed += 1
        return pid

    def stop(self) -> None:
        stop_process(self.process)


class RqWorker:
    """`rq worker amanah`, restarted (as a supervisor would) whenever it exits."""

    def __init__(self, env: dict, log: Path):
        self.env, self.log = env, log
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def ensure_running(self) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [str(VENV_BIN / "rq"), "worker", "amanah", "--url", self.env["REDIS_URL"]], cwd=ROOT,
                env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.starts += 1

    def stop(self) -> None:
        stop_process(self.process)


def stop_process(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class DrillStripe(FakeStripe):
    """The fake Stripe API, which also records the webhooks Stripe would send for what happened on
    its side (a donor paying, a refund made through the API), for the drill to deliver."""

    def __init__(self, api_key: str):
        super().__init__(api_key)
        self.outbox: list[dict] = []
        self._outbox_lock = threading.Lock()

    def start(self, port: int = 0) -> DrillStripe:
        super().start(port)
        # A worker killed while it waits for an answer resets the connection; that is the drill's
        # doing, not news worth a traceback on the console.
        self.server.handle_error = lambda request, client_address: None
        return self

    def emit(self, event_type: str, obj: dict) -> None:
        with self._outbox_lock:
            self.outbox.append(make_event(event_type, self._public(obj)))

    def take_outbox(self) -> list[dict]:
        with self._outbox_lock:
            events, self.outbox = self.outbox, []
        return events

    def create_refund(self, params: dict) -> dict:
        refund = super().create_refund(params)
        # Stripe sends both; the app must book the refund once whichever comes first.
        self.emit("charge.refunded", self.get(refund["charge"] if isinstance(refund["charge"], str)
                                              else refund["charge"]["id"]))
        self.emit("refund.created", self.get(refund["id"]))
        return refund

    def complete(self, session_id: str, **kwargs) -> dict:
        session = super().complete(session_id, **kwargs)
        self.emit("checkout.session.completed", session)
        return session

    def payments(self) -> dict[str, int]:
        """Succeeded payment intents: id -> amount."""
        with self._lock:
            return {o["id"]: o["amount"] for o in self.objects.values()
                    if o["object"] == "payment_intent" and o["status"] == "succeeded"}

    def donations(self) -> dict[str, str]:
        """Payment intents and refunds: id -> the donation id their metadata names."""
        with self._lock:
            return {o["id"]: (o.get("metadata") or {}).get("donation_id") for o in self.objects.values()
                    if o["object"] in ("payment_intent", "refund")}

    def refunds(self) -> dict[str, int]:
        """Succeeded refunds: id -> amount."""
        with self._lock:
            return {o["id"]: o["amount"] for o in self.objects.values()
                    if o["object"] == "refund" and o["status"] == "succeeded"}


def app_environment(database_url: str, redis_url: str, instance: Path) -> tuple[dict, str]:
    """(environment, ledger verifier key): what every process of the app shares, one database, one
    Redis, one instance folder and one ledger signing key (two keys would sign checkpoints that no
    single verifier key checks)."""
    signing, verifier = generate_key("drill.amanah.localhost/ledger")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "AMANAH_", "DATABASE_"))}
    env.update({
        "AMANAH_ENV": "development", "DATABASE_URL": database_url, "REDIS_URL": redis_url,
        "AMANAH_INSTANCE_PATH": str(instance), "SECRET_KEY": secrets.token_urlsafe(48),
        "LEDGER_ORIGIN": "drill.amanah.localhost/ledger", "LEDGER_SIGNING_KEY": signing,
        # The drill's clients say who they are in X-Forwarded-For, so that rate limits count each
        # donor as on a real site behind one proxy, not the drill's single address.
        "PROXY_HOPS": "1", "PYTHONUNBUFFERED": "1",
    })
    return env, verifier
