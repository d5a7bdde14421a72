"""Campaign text search on PostgreSQL: with its GIN index and without.

    python bench/campaign_search.py --database-url postgresql://postgres@127.0.0.1/EMPTY [--campaigns 5000]

Migrates the (empty) database, adds `--campaigns` published campaigns with stories of about 2.5 KB
(the size of a real campaign's story), and times campaigns.search.search(), the function behind
/campaigns?q=..., for a query that finds one campaign, one that finds a few, and one whose words
are in every campaign. Then it drops the index (inside a transaction it rolls back) and times the
same queries again.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUERIES = {"one campaign": "sumur 4711", "a few campaigns": "nelayan", "every campaign": "air bersih",
           # a province named beside a word: the campaigns there (all are in region 34) by their region
           "a province": "Yogyakarta nelayan"}


def fill(app, count: int) -> None:
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from amanah.db import now_utc
    from amanah.extensions import db
    from campaigns.models import Campaign
    from campaigns.services import today_wib
    from tests.factories import make_user
    with app.app_context():
        upgrade()
        organizer, treasurer = make_user(None, "organizer"), make_user(None, "treasurer")
        story = ("Kami menggalang dana untuk membangun sumur dan pipa air bersih bagi warga desa yang "
                 "kesulitan air pada musim kemarau. ") * 22
        deadline, now = today_wib().replace(year=today_wib().year + 1), now_utc()
        fishers = " Nelayan pesisir ikut terbantu."
        rows = [{"slug": f"kampanye-{n}", "title": f"Air bersih untuk desa {n}",
                 "story": story + (fishers if n % 500 == 0 else "") + f" Sumur {n}.",
                 "goal": 10_000_000_00, "currency": "IDR", "deadline": deadline, "category": "social",
                 "region": "34", "city": f"Kota {n % 50}", "beneficiary": f"Warga desa nomor {n}",
                 "organizer_id": organizer.id, "treasurer_id": treasurer.id, "status": "published",
                 "published_at": now} for n in range(count)]
        for start in range(0, count, 1000):
            db.session.execute(sa.insert(Campaign), rows[start:start + 1000])
        db.session.commit()
        db.session.execute(sa.text("ANALYZE campaigns"))
        db.session.commit()


def timings(app, runs: int, without_index: bool = False) -> dict[str, tuple[float, int]]:
    import sqlalchemy as sa

    from amanah.extensions import db
    from campaigns import search
    from campaigns.models import SEARCH_INDEX
    found = {}
    with app.test_request_context():
        if without_index:  # dropped inside this session's transaction, which is rolled back below
            db.session.execute(sa.text(f"DROP INDEX {SEARCH_INDEX}"))
        for label, q in QUERIES.items():
            filters = search.parse_filters({"q": q})
            search.search(filters)
            times = []
            for _ in range(runs):
                t = time.perf_counter()
                page = search.search(filters)
                times.append(time.perf_counter() - t)
            found[label] = (statistics.median(times) * 1000, page.total)
        db.session.rollback()
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="an empty PostgreSQL database")
    parser.add_argument("--campaigns", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    if not args.database_url.startswith("postgresql"):
        parser.error("the index exists on PostgreSQL only")
    from amanah.extensions import db
    from tests.conftest import make_app

    app = make_app(args.database_url, Path(tempfile.mkdtemp(prefix="amanah-bench-search-")) / "instance")
    started = time.perf_counter()
    fill(app, args.campaigns)
    print(f"setup: {args.campaigns} published campaigns in {time.perf_counter() - started:.1f} s")
    indexed = timings(app, args.runs)
    plain = timings(app, args.runs, without_index=True)
    with app.app_context():
        db.engine.dispose()
    for label in QUERIES:
        (with_ms, total), (without_ms, _) = indexed[label], plain[label]
        print(f"{label:16} ({total:5} found): {with_ms:8.1f} ms with the index, {without_ms:8.1f} ms without "
              f"(median of {args.runs}, search() = count + first page)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
