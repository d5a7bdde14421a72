"""What the map costs next to hello world: wrk against the README's production command.

    python bench/map_page.py [--entries 100000] [--duration 10] [--connections 8]

The same world as bench/donor_pages.py (whose `demo_server` and `measure` it uses): a throwaway
PostgreSQL database with the demo data (service points included) and N more ledger entries spread
over the demo campaigns, served by `gunicorn -w 4`. Drives /healthz (the baseline), /campaigns/
(another cached page, for comparison), /map, /map shaded by active health campaigns, and "nearest
to me" from a town, each for the same time and connections; prints requests/s, each route's share
of /healthz and its p99, then drops the database. Targets (issue 18): /map >= 40% of /healthz,
p99 <= 50 ms.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from donor_pages import demo_server, measure  # bench/ is scripts, not a package


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    with demo_server(args.entries, label="map") as (base, _ids):
        routes = {"/healthz": "/healthz", "/campaigns/": "/campaigns/", "/map": "/map",
                  "/map health": "/map?measure=active&category=health&sort=raised",
                  "nearest": "/map/nearest?place=Semarang"}
        measure(base, routes, args.duration, args.connections, args.entries)


if __name__ == "__main__":
    main()
