"""One app server against two behind nginx, on this machine: wrk on the public pages.

    python bench/scale_out.py [--entries 100000] [--duration 10] [--connections 16]

The database of bench/donor_pages.py (a throwaway PostgreSQL database with `flask demo` and N more
ledger entries). Then, in one run, wrk at the same connections and duration on each route:

1. one app server, `gunicorn -w 4` (the README's production command), reached directly;
2. two app servers, `gunicorn -w 2` each, behind Debian's nginx running deploy/nginx/amanah.conf
   (deploy/nginx/render.py fills its SITE lines): the same four workers, split over two servers,
   with nginx's one-second page cache and ETag revalidation in front;
3. the same two servers behind nginx with its page cache off (`X-Cache-Status` BYPASS through a
   session cookie), to show what the proxy alone costs.

Prints requests/s and p99 per route and setup. On one 2-core machine the two servers share the
cores, so this measures the deployment's overhead and its cache, not added capacity.
"""
from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from donor_pages import ROOT, demo_database, free_port, get, gunicorn_server, wrk

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def _render():
    spec = importlib.util.spec_from_file_location("amanah_nginx_render", ROOT / "deploy/nginx/render.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextmanager
def nginx_in_front(upstreams: list[str]):
    """nginx (two worker processes) on a free port in front of `upstreams`; yields its address."""
    render = _render()
    workdir = Path(tempfile.mkdtemp(prefix="amanah-nginx-"))
    port = free_port()
    conf = render.standalone(workdir, render.site(f"127.0.0.1:{port}", upstreams, ROOT / "static",
                                                  workdir / "cache"), worker_processes=2)
    process = subprocess.Popen([NGINX, "-c", str(conf), "-g", "daemon off;"])
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                get(f"{base}/healthz")
                break
            except OSError:
                time.sleep(0.05)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def run(base: str, routes: dict[str, str], duration: int, connections: int,
        headers: dict | None = None) -> dict[str, tuple[float, float]]:
    for path in routes.values():
        for _ in range(8):
            get(base + path)
    return {label: wrk(base + path, duration, connections, headers) for label, path in routes.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    for tool in ("wrk", NGINX):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is not installed (apt-get install {Path(tool).name})")
    results = {}
    with demo_database(args.entries, "scale") as (env, ids):
        with gunicorn_server(env, 4) as base:
            campaign, _ = get(f"{base}/campaigns/{ids[0]}")
            routes = {"/healthz": "/healthz", "/campaigns/": "/campaigns/",
                      "campaign page": campaign.removeprefix(base), "/ledger": "/ledger",
                      "ledger entry": f"/ledger/entries/{args.entries // 2}"}
            results["one server, -w 4"] = run(base, routes, args.duration, args.connections)
        with ExitStack() as stack:
            servers = [stack.enter_context(gunicorn_server(env, 2)) for _ in range(2)]
            front = stack.enter_context(nginx_in_front([s.removeprefix("http://") for s in servers]))
            results["two servers -w 2, nginx"] = run(front, routes, args.duration, args.connections)
            # A session cookie makes nginx pass every request through (it is not checked by the
            # app for these anonymous pages): the proxy's own cost, without its cache.
            results["the same, cache bypassed"] = run(front, routes, args.duration, args.connections,
                                                      {"Cookie": "session=bench"})
    print(f"wrk -c {args.connections} -d {args.duration}s, {args.entries:,}-entry PostgreSQL ledger, "
          "requests/s (p99 ms):")
    setups = list(results)
    print(f"  {'route':<14}" + "".join(f"{name:>30}" for name in setups))
    for label in routes:
        cells = "".join(f"{results[s][label][0]:>20.0f} ({results[s][label][1]:6.1f})" for s in setups)
        print(f"  {label:<14}{cells}")


if __name__ == "__main__":
    main()
