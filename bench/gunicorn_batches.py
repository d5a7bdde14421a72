"""gunicorn configuration for bench/webhooks_wrk.py: the README's command plus one log line per
confirmation batch (logger donations.confirmations at DEBUG, to gunicorn's stderr).

Nothing else changes: no hooks around requests, no profiling."""
from __future__ import annotations

import logging

errorlog = "-"
loglevel = "warning"


def post_worker_init(worker) -> None:
    logger = logging.getLogger("donations.confirmations")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
