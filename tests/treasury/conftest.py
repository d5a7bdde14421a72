"""Fixtures shared by the treasury tests."""
import pytest

from tests.factories.treasury import RP, fund, make_campaign


@pytest.fixture
def funded(app):
    """A published campaign with Rp 1.000.000 raised and a Rp 40.000 fee: Rp 960.000 available."""
    with app.app_context():
        campaign = make_campaign()
        fund(campaign, 1_000_000 * RP, fee=40_000 * RP)
        return campaign.public_id, campaign.treasurer_id
