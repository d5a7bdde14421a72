"""`flask ledger verify` recounts the campaign totals and checks every row that points at an entry,
and the balance rule reads the entries, not the totals row (issue 14, item 7)."""
import pytest
import sqlalchemy as sa

from amanah.extensions import db
from campaigns.services import today_wib
from donations.models import Donation, Refund
from ledger import checkpoints, tree
from ledger.models import CampaignTotal, LedgerEntry, LedgerHash
from tests.factories.documents import make_campaign, paid_donation, refund
from tests.factories.ledger import allow_changes
from tests.factories.treasury import picture
from treasury import disbursements
from treasury.models import Disbursement

RP = 100  # IDR minor units per rupiah


def _verify(app):
    return app.test_cli_runner().invoke(args=["ledger", "verify"])


def _record(campaign, amount: int, n: int) -> Disbursement:
    return disbursements.record(campaign, campaign.treasurer, disbursements.DisbursementInput(
        amount=amount, paid_on=today_wib(), payee_kind="organization",
        payee_name="Toko Maju", purpose="Pembelian alat tulis", category="goods", evidence=picture(n)))


@pytest.fixture
def funded(app):
    """A campaign with a paid donation (and its fee), a refund and a disbursement, all verified."""
    with app.test_request_context():
        campaign = make_campaign()
        donation_id = paid_donation(app, campaign, amount=1_000_000 * RP)
        public_id = campaign.public_id
    refund(app, donation_id, 100_000 * RP)
    with app.test_request_context():
        campaign = db.session.scalar(sa.select(Donation).where(Donation.id == donation_id)).campaign
        _record(campaign, 200_000 * RP, 1)
        db.session.commit()
    verified = _verify(app)
    assert verified.exit_code == 0, verified.output
    assert "campaign totals and references agree" in verified.output
    return public_id, donation_id


def test_an_edited_totals_row_fails_verify_and_authorizes_nothing(app, client, funded):
    public_id, donation_id = funded
    with app.test_request_context():
        campaign = db.session.get(Donation, donation_id).campaign
        before = disbursements.available_balance(campaign)
        db.session.execute(sa.text("UPDATE ledger_campaign_totals SET raised = raised + 1000000000 "
                                   "WHERE campaign = :c"), {"c": public_id})
        db.session.commit()
        assert db.session.get(CampaignTotal, public_id).balance == before + 1_000_000_000
        # The balance rule sums the entries: the edited row adds nothing to spend.
        assert disbursements.available_balance(campaign) == before
        with pytest.raises(disbursements.ValidationError) as refused:
            _record(campaign, before + 1, 2)
        assert "amount" in refused.value.errors
        db.session.rollback()
    shown = client.get(f"/api/v1/campaigns/{public_id}/disbursements").get_json()
    assert shown["balance"] == before
    failed = _verify(app)
    assert failed.exit_code == 1
    assert f"campaign {public_id}: ledger_campaign_totals raised is" in failed.output
    assert "but the entries give" in failed.output


def test_a_deleted_unsigned_tail_entry_is_named_by_its_donation(app, client, funded):
    """After the last checkpoint no Merkle check can see a missing tail: the donation still can."""
    assert funded
    assert client.get("/ledger/checkpoint").status_code == 200
    with app.test_request_context():
        campaign = make_campaign()
        late_id = paid_donation(app, campaign, amount=50_000 * RP)
        late = db.session.get(Donation, late_id)
        seq, size = late.ledger_seq, db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry))
        assert size > seq  # its entry, and its fee's, are the unsigned tail
        for table in ("ledger_entries", "ledger_hashes"):
            allow_changes(table)
        db.session.execute(sa.delete(LedgerEntry).where(LedgerEntry.seq >= seq))
        db.session.execute(sa.delete(LedgerHash).where(LedgerHash.idx >= tree.stored_hash_index(0, seq)))
        db.session.commit()
        assert checkpoints.latest(db.session).size <= seq  # the checkpoint does not cover it
    failed = _verify(app)
    assert failed.exit_code == 1
    assert f"donation {late_id} points at seq {seq}, which is not in the ledger" in failed.output
    assert f"donation {late_id}'s fee points at seq {seq + 1}" in failed.output


def test_a_row_that_says_something_else_than_its_entry_fails_verify(app, funded):
    _, donation_id = funded
    with app.app_context():
        (row,) = db.session.scalars(sa.select(Refund).where(Refund.donation_id == donation_id))
        row.amount += 1
        db.session.commit()
        refund_id, seq = row.id, row.ledger_seq
    failed = _verify(app)
    assert failed.exit_code == 1
    assert (f"seq {seq}: refund {refund_id} does not match its entry: amount is {-100_000 * RP} in the "
            f"ledger but {-100_000 * RP - 1} in refund {refund_id}") in failed.output
