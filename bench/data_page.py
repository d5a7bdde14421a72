"""What /data costs next to hello world: wrk against the README's production command.

    python bench/data_page.py [--entries 100000] [--duration 10] [--connections 8]

The same setup as bench/donor_pages.py (whose helpers it uses): a throwaway PostgreSQL database
with `flask demo` and N more ledger entries spread over the demo campaigns, `gunicorn -w 4`, wrk
on /healthz (the baseline), /data as it first opens, /data filtered (donors in one category over a
range of months) and /data/aggregates.json, with /campaigns/ (cached the same way) for
comparison. Prints requests/s, each route's share of /healthz and its p99, then drops the database.
Targets (issue 18): /data >= 40% of /healthz, p99 <= 50 ms.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from donor_pages import demo_server, measure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    with demo_server(args.entries, "data") as (base, _ids):
        routes = {"/healthz": "/healthz", "/campaigns/": "/campaigns/", "/data": "/data",
                  "/data filtered": "/data?measure=donors&category=health&from=2026-01&to=2026-06",
                  "aggregates.json": "/data/aggregates.json"}
        measure(base, routes, args.duration, args.connections, args.entries)


if __name__ == "__main__":
    main()
