"""The open-data aggregates: money, gifts, donors and campaigns by month x category x province x currency.

Derived from the ledger and written in the same transaction as each append (opendata.aggregates),
so they can be rebuilt from the entries (`flask opendata rebuild-aggregates`) and, unlike the
ledger, may be updated.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from amanah.extensions import db

# A bucket's month, category or province of `ALL` is the total over every value of that dimension;
# donors and campaigns there are counted distinct, not summed over the finer rows.
ALL = "*"


class Aggregate(db.Model):
    """One bucket: month (YYYY-MM in WIB, or ALL), category (or ALL, or "" for a campaign the
    ledger names but the campaigns table does not), province (BPS code, ALL or "") and currency.

    Money columns are positive magnitudes in the currency's minor units, moved as the ledger's
    running totals move them (ledger.entry.TOTAL_EFFECTS): `refunded` is net of refund reversals,
    `chargebacks` of chargeback reversals, `fees` of fee reversals, `disbursed` of disbursement
    reversals.
    """

    __tablename__ = "opendata_aggregates"

    month: Mapped[str] = mapped_column(sa.String(7), primary_key=True)
    category: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    province: Mapped[str] = mapped_column(sa.String(2), primary_key=True)
    currency: Mapped[str] = mapped_column(sa.String(3), primary_key=True)
    raised: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    refunded: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    chargebacks: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    fees: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    disbursed: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    gifts: Mapped[int] = mapped_column(default=0)  # donation entries
    donors: Mapped[int] = mapped_column(default=0)  # distinct donors among them
    campaigns: Mapped[int] = mapped_column(default=0)  # distinct campaigns with an entry here
    entries: Mapped[int] = mapped_column(default=0)  # entries counted (every kind but `report`)
    first_seq: Mapped[int] = mapped_column(sa.BigInteger)
    last_seq: Mapped[int] = mapped_column(sa.BigInteger)


class AggregateMark(db.Model):
    """That a donor ("d", a hash of their identity) or a campaign ("c", its public id) has been
    counted in a bucket already: the first gift of a donor in a bucket adds one to its donors, any
    later one adds nothing. No name or e-mail address is kept, only SHA-256 of the identity."""

    __tablename__ = "opendata_marks"

    what: Mapped[str] = mapped_column(sa.String(1), primary_key=True)
    who: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    month: Mapped[str] = mapped_column(sa.String(7), primary_key=True)
    category: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    province: Mapped[str] = mapped_column(sa.String(2), primary_key=True)
    currency: Mapped[str] = mapped_column(sa.String(3), primary_key=True)

    __table_args__ = (sa.CheckConstraint("what IN ('d', 'c')", name="what_known"),)
