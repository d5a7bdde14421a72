"""`ledger_campaign_totals` recomputed from the entries, for `flask ledger verify`.

The totals row of each campaign is derived data, written in the same transaction as each append
(storage.Appender) but not protected like the ledger. Recounting it from the verified entries,
with the same rule (storage.TOTAL_EFFECTS), shows any row that was edited, added or lost.
"""
from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger.models import CampaignTotal
from ledger.storage import TOTAL_EFFECTS

_TOTAL_COLUMNS = (*sorted({column for column, _sign in TOTAL_EFFECTS.values()}),
                  "donation_count", "entry_count")
COMPARED = (*_TOTAL_COLUMNS, "currency", "last_seq")


class Recount:
    """Running totals per campaign, fed the entries in seq order."""

    def __init__(self) -> None:
        self.totals: dict[str, dict] = defaultdict(lambda: dict.fromkeys(_TOTAL_COLUMNS, 0))

    def add(self, seq: int, kind: str, campaign: str, amount: int, currency: str) -> None:
        totals = self.totals[campaign]
        if totals.setdefault("currency", currency) != currency:
            totals["mixed"] = currency
        if kind in TOTAL_EFFECTS:
            column, sign = TOTAL_EFFECTS[kind]
            totals[column] += sign * amount
        totals["donation_count"] += kind == "donation"
        totals["entry_count"] += 1
        totals["last_seq"] = seq

    def problems(self, session: Session) -> list[str]:
        """One line per campaign whose stored totals differ from the recount, sorted by campaign."""
        stored = {row.campaign: row for row in session.execute(sa.select(CampaignTotal.__table__))}
        found = []
        for campaign in sorted(stored.keys() | self.totals.keys()):
            counted, row = self.totals.get(campaign), stored.get(campaign)
            if counted is None:
                found.append(f"campaign {campaign}: ledger_campaign_totals has a row but the ledger "
                             "has no entry for it")
            elif row is None:
                found.append(f"campaign {campaign}: ledger_campaign_totals has no row for its "
                             f"{counted['entry_count']} entries")
            elif "mixed" in counted:
                found.append(f"campaign {campaign}: entries in {counted['currency']} and {counted['mixed']}")
            else:
                differ = [f"{c} is {getattr(row, c)} but the entries give {counted[c]}"
                          for c in COMPARED if getattr(row, c) != counted[c]]
                if differ:
                    found.append(f"campaign {campaign}: ledger_campaign_totals {'; '.join(differ)}")
        return found
