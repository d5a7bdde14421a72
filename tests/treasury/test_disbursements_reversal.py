"""Correcting a disbursement recorded in error: a `disbursement_reversal` entry, never an edit."""
from __future__ import annotations

import hashlib
import json
import re

import pytest
import sqlalchemy as sa

from accounts.models import Role, User
from accounts.permissions import Action, can
from amanah.extensions import db
from campaigns.models import Campaign
from campaigns.services import today_wib
from ledger.models import CampaignTotal, LedgerEntry
from tests.conftest import make_app, one_rolled_back_transaction
from tests.factories import login, make_user
from tests.factories.treasury import EN, RP, fund, make_campaign, picture
from treasury import disbursements
from treasury.models import Disbursement, DisbursementReversal

# The refusals, in English or in the default Indonesian.
ALREADY_CORRECTED = r"already been corrected|sudah dikoreksi"
NOT_ALLOWED = r"treasurer or an admin|bendahara kampanye atau admin"
REASON = "Tercatat dua kali, pembayaran yang sama"


def _record(campaign: Campaign, amount: int, n: int) -> Disbursement:
    row = disbursements.record(campaign, campaign.treasurer, disbursements.DisbursementInput(
        amount=amount, paid_on=today_wib(), payee_kind="organization", payee_name=f"Toko {n}",
        purpose=f"Pembelian bahan tahap {n}", category="goods", evidence=picture(200 + n)))
    db.session.commit()
    return row


@pytest.fixture
def recorded(app):
    """A published campaign with Rp 1.000.000 raised and one disbursement of Rp 300.000."""
    with app.test_request_context():
        campaign = make_campaign()
        fund(campaign, 1_000_000 * RP)
        row = _record(campaign, 300_000 * RP, 1)
        return campaign.public_id, row.id, campaign.treasurer_id


def _campaign(public_id: str) -> Campaign:
    return db.session.scalar(sa.select(Campaign).where(Campaign.public_id == public_id))


def _reversal_entries(public_id: str) -> list[LedgerEntry]:
    return list(db.session.scalars(sa.select(LedgerEntry).where(
        LedgerEntry.campaign == public_id, LedgerEntry.kind == "disbursement_reversal")))


# ---- the service ----

@pytest.mark.files
def test_reversing_appends_a_counter_entry_and_restores_the_balance(app, recorded):
    public_id, disbursement_id, treasurer_id = recorded
    with app.test_request_context():
        campaign = _campaign(public_id)
        row = db.session.get(Disbursement, disbursement_id)
        assert disbursements.available_balance(campaign) == 700_000 * RP
        reversal = disbursements.reverse(row, db.session.get(User, treasurer_id), f"  {REASON}\n")
        db.session.commit()
        (entry,) = _reversal_entries(public_id)
        leaf = json.loads(entry.leaf)
        assert leaf["kind"] == "disbursement_reversal" and leaf["amount"] == 300_000 * RP
        assert leaf["ref"] == row.ledger_seq and leaf["memo"] == REASON and leaf["currency"] == "IDR"
        assert (reversal.ledger_seq, reversal.reason) == (entry.seq, REASON)
        assert reversal.reversed_by_id == treasurer_id
        assert reversal.created_at.tzinfo is not None
        totals = db.session.get(CampaignTotal, public_id)
        assert (totals.disbursed, totals.balance) == (0, 1_000_000 * RP)
        assert disbursements.available_balance(campaign) == 1_000_000 * RP
        # The disbursement and its entry are untouched: the ledger only grows.
        assert db.session.get(LedgerEntry, row.ledger_seq).amount == -300_000 * RP
        assert db.session.get(Disbursement, disbursement_id).amount == 300_000 * RP
        # The money is there to spend again.
        _record(campaign, 1_000_000 * RP, 2)
        assert disbursements.available_balance(campaign) == 0
    verified = app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert verified.exit_code == 0, verified.output


@pytest.mark.files
def test_a_disbursement_is_reversed_at_most_once(app, recorded):
    public_id, disbursement_id, treasurer_id = recorded
    with app.test_request_context():
        row = db.session.get(Disbursement, disbursement_id)
        admin = make_user(None, Role.ADMIN)
        disbursements.reverse(row, db.session.get(User, treasurer_id), REASON)
        db.session.commit()
        with pytest.raises(disbursements.ReversalRefused, match=ALREADY_CORRECTED):
            disbursements.reverse(row, admin, "Salah kampanye, bukan di sini")
        db.session.rollback()
        assert len(_reversal_entries(public_id)) == 1
        assert db.session.get(CampaignTotal, public_id).disbursed == 0


@pytest.mark.files
def test_the_unique_constraint_refuses_a_second_reversal_that_missed_the_check(app, recorded, monkeypatch):
    """What makes two simultaneous corrections safe is the lock and the unique disbursement_id;
    with the check under the lock gone, the constraint still refuses the second one."""
    public_id, disbursement_id, treasurer_id = recorded
    with app.test_request_context():
        row = db.session.get(Disbursement, disbursement_id)
        disbursements.reverse(row, db.session.get(User, treasurer_id), REASON)
        db.session.commit()
        monkeypatch.setattr(disbursements, "reversal_of", lambda d: None)
        with pytest.raises(disbursements.ReversalRefused, match=ALREADY_CORRECTED):
            disbursements.reverse(row, db.session.get(User, treasurer_id), REASON)
        db.session.rollback()
        assert len(_reversal_entries(public_id)) == 1


@pytest.mark.files
@pytest.mark.parametrize("who", ["donor", "other treasurer", "organizer", "auditor"])
def test_only_the_treasurer_or_an_admin_may_reverse(app, recorded, who):
    public_id, disbursement_id, _ = recorded
    with app.test_request_context():
        campaign = _campaign(public_id)
        actor = {"donor": make_user, "other treasurer": lambda: make_user(None, Role.TREASURER),
                 "organizer": lambda: campaign.organizer,
                 "auditor": lambda: make_user(None, Role.AUDITOR)}[who]()
        with pytest.raises(disbursements.ReversalRefused, match=NOT_ALLOWED):
            disbursements.reverse(db.session.get(Disbursement, disbursement_id), actor, REASON)
        assert _reversal_entries(public_id) == []


@pytest.mark.parametrize("reason, message", [
    ("", "Say why"),
    ("  oops ", "few words"),
    ("x" * 501, "At most 500"),
    ("Salah transfer, hubungi bendahara@example.org", "published in the ledger forever"),
    ("Rekening 1234 5678 90 salah", "published in the ledger forever"),
])
@pytest.mark.files
def test_the_reason_is_required_and_free_of_personal_data(app, recorded, reason, message):
    public_id, disbursement_id, treasurer_id = recorded
    with app.test_request_context(headers=EN):
        with pytest.raises(disbursements.ValidationError) as caught:
            disbursements.reverse(db.session.get(Disbursement, disbursement_id),
                                  db.session.get(User, treasurer_id), reason)
        assert message in caught.value.errors["reason"]
        assert _reversal_entries(public_id) == []


@pytest.mark.files
def test_database_refuses_to_change_or_delete_a_reversal(app, recorded):
    from sqlalchemy.exc import DBAPIError

    _, disbursement_id, treasurer_id = recorded
    with app.test_request_context():
        reversal = disbursements.reverse(db.session.get(Disbursement, disbursement_id),
                                         db.session.get(User, treasurer_id), REASON)
        db.session.commit()
        where = DisbursementReversal.id == reversal.id
        for statement in (sa.update(DisbursementReversal).where(where).values(reason="Alasan lain sekali"),
                          sa.update(DisbursementReversal).where(where).values(ledger_seq=999),
                          sa.delete(DisbursementReversal).where(where)):
            with pytest.raises(DBAPIError, match="immutable"), db.session.begin_nested():
                db.session.execute(statement)
        with db.session.begin_nested():  # deleting the user who reversed it may clear the reference
            db.session.execute(sa.update(DisbursementReversal).where(where).values(reversed_by_id=None))
        if db.engine.dialect.name == "postgresql":
            with pytest.raises(DBAPIError, match="immutable"), db.session.begin_nested():
                db.session.execute(sa.text("TRUNCATE disbursement_reversals CASCADE"))


# ---- the pages ----

ROLES = ["anonymous", "donor", "organizer", "auditor", "other campaign's treasurer", "campaign treasurer",
         "admin"]
ALLOWED = {"campaign treasurer", "admin"}


def _people(campaign: Campaign) -> dict[str, int | None]:
    other = make_campaign()  # its treasurer looks after another campaign, not this one
    return {"anonymous": None, "donor": make_user().id, "organizer": campaign.organizer_id,
            "auditor": make_user(None, Role.AUDITOR).id, "other campaign's treasurer": other.treasurer_id,
            "campaign treasurer": campaign.treasurer_id, "admin": make_user(None, Role.ADMIN).id}


def _client(app, user_id: int | None):
    client = app.test_client()
    if user_id is not None:
        with app.app_context():
            login(client, db.session.get(User, user_id))
    return client


@pytest.mark.files
def test_reverse_page_is_404_to_everyone_who_may_not_correct(app, recorded):
    public_id, disbursement_id, _ = recorded
    with app.test_request_context():
        people = _people(_campaign(public_id))
    url = f"/treasury/{public_id}/disbursements/{disbursement_id}/reverse"
    for role in ROLES:
        client = _client(app, people[role])
        page = client.get(url, headers=EN)
        assert page.status_code == (200 if role in ALLOWED else 404), role
        with app.app_context():
            who = db.session.get(User, people[role]) if people[role] else None
            assert can(who, Action.REVERSE_DISBURSEMENT, db.session.get(Disbursement, disbursement_id)) == (
                role in ALLOWED), role
        campaign_page = client.get(f"/campaigns/{public_id}/air-bersih", headers=EN).get_data(as_text=True)
        assert (url in campaign_page) == (role in ALLOWED), role
        if role not in ALLOWED:
            assert client.post(url, data={"reason": REASON}).status_code == 404, role
    with app.app_context():
        assert _reversal_entries(public_id) == []
    # Whoever may correct: each of the two allowed corrects a disbursement of their own.
    for n, role in enumerate(sorted(ALLOWED)):
        with app.test_request_context():
            row_id = _record(_campaign(public_id), 1_000 * RP, 10 + n).id
        response = _client(app, people[role]).post(
            f"/treasury/{public_id}/disbursements/{row_id}/reverse", data={"reason": REASON})
        assert response.status_code == 303, role
    with app.app_context():
        assert len(_reversal_entries(public_id)) == 2


@pytest.mark.files
def test_another_campaigns_disbursement_is_404_under_this_campaign(app, recorded):
    public_id, disbursement_id, _ = recorded
    with app.test_request_context():
        other = make_campaign()
        fund(other, 100_000 * RP)
        theirs = _record(other, 10_000 * RP, 5).id
        other_treasurer, other_id = other.treasurer_id, other.public_id
        admin = make_user(None, Role.ADMIN).id
    # Their own disbursement's id under this campaign's address: the other treasurer gets 404.
    client = _client(app, other_treasurer)
    assert client.get(f"/treasury/{public_id}/disbursements/{disbursement_id}/reverse").status_code == 404
    assert client.post(f"/treasury/{public_id}/disbursements/{theirs}/reverse",
                       data={"reason": REASON}).status_code == 404
    # Even an admin cannot reach a disbursement through the wrong campaign.
    admin_client = _client(app, admin)
    assert admin_client.get(f"/treasury/{public_id}/disbursements/{theirs}/reverse").status_code == 404
    wrong_campaign = f"/treasury/{other_id}/disbursements/{disbursement_id}/reverse"
    assert admin_client.get(wrong_campaign).status_code == 404
    assert admin_client.get(f"/treasury/{public_id}/disbursements/999999/reverse").status_code == 404
    with app.app_context():
        assert _reversal_entries(public_id) == [] and _reversal_entries(other_id) == []


@pytest.mark.files
def test_treasurer_corrects_a_disbursement_through_the_form(app, recorded):
    public_id, disbursement_id, treasurer_id = recorded
    client = _client(app, treasurer_id)
    url = f"/treasury/{public_id}/disbursements/{disbursement_id}/reverse"
    form = client.get(url, headers=EN).get_data(as_text=True)
    assert '<label for="reason">Reason for the correction</label>' in form
    assert 'aria-describedby="reason-hint"' in form and "IDR 300,000" in form and 'method="post"' in form

    # No reason: the form again with a clear error, nothing written.
    empty = client.post(url, data={"reason": "  "}, headers=EN)
    assert empty.status_code == 422
    assert "Say why this disbursement is corrected." in empty.get_data(as_text=True)
    assert 'aria-invalid="true"' in empty.get_data(as_text=True)

    done = client.post(url, data={"reason": REASON}, headers=EN)
    assert done.status_code == 303
    assert done.location.endswith(f"/campaigns/{public_id}/air-bersih#disbursement-{disbursement_id}")
    with app.app_context():
        (entry,) = _reversal_entries(public_id)
        seq = entry.seq
    page = client.get(done.location, headers=EN).get_data(as_text=True)
    assert f"The disbursement is corrected by ledger entry {seq}" in page
    row = re.search(rf'<tr id="disbursement-{disbursement_id}" class="reversed">(.*?)</tr>',
                    page, re.S).group(1)
    assert "Reversed" in row and REASON in row and f'href="/ledger/entries/{seq}"' in row
    assert f"/disbursements/{disbursement_id}/reverse" not in page  # no second correction offered
    assert re.search(r'data-figure="disbursed">IDR\s*0', page)

    # Anyone sees it reversed, with the reason; the entry page shows the reason and the reference.
    public = app.test_client()
    public_page = public.get(f"/campaigns/{public_id}/air-bersih", headers=EN).get_data(as_text=True)
    assert "Reversed" in public_page and REASON in public_page
    entry_page = public.get(f"/ledger/entries/{seq}", headers=EN).get_data(as_text=True)
    assert "Disbursement reversed" in entry_page and "Reason for the correction" in entry_page
    assert REASON in entry_page
    with app.app_context():
        disbursement_seq = db.session.get(Disbursement, disbursement_id).ledger_seq
    assert f'href="/ledger/entries/{disbursement_seq}"' in entry_page

    # A second attempt (another tab, a colleague) is refused with a message; nothing is appended.
    again = client.post(url, data={"reason": "Salah kampanye sekali lagi"}, headers=EN)
    assert again.status_code == 303
    assert "already been corrected" in client.get(again.location, headers=EN).get_data(as_text=True)
    with app.app_context():
        assert len(_reversal_entries(public_id)) == 1
    assert app.test_cli_runner().invoke(args=["ledger", "verify"]).exit_code == 0


@pytest.mark.files
def test_the_treasury_overview_shows_reversed_disbursements(app, recorded):
    public_id, disbursement_id, treasurer_id = recorded
    with app.test_request_context():
        campaign = _campaign(public_id)
        kept = _record(campaign, 50_000 * RP, 2)
        disbursements.reverse(db.session.get(Disbursement, disbursement_id),
                              db.session.get(User, treasurer_id), REASON)
        db.session.commit()
        (entry,) = _reversal_entries(public_id)
        kept_id, seq = kept.id, entry.seq
    html = _client(app, treasurer_id).get("/treasury/", headers=EN).get_data(as_text=True)
    reversed_row = re.search(rf'<tr id="disbursement-{disbursement_id}" class="reversed">(.*?)</tr>',
                             html, re.S).group(1)
    assert "Reversed" in reversed_row and REASON in reversed_row
    assert f'href="/ledger/entries/{seq}"' in reversed_row
    assert "/reverse" not in reversed_row
    kept_row = re.search(rf'<tr id="disbursement-{kept_id}">(.*?)</tr>', html, re.S).group(1)
    assert f"/disbursements/{kept_id}/reverse" in kept_row
    assert "IDR 950,000" in html  # the balance: 1.000.000 - 50.000, the reversed 300.000 is back


def test_the_reverse_form_requires_a_csrf_token(databases, tmp_path):
    app = make_app(databases.url, tmp_path / "csrf", WTF_CSRF_ENABLED=True)
    with one_rolled_back_transaction(app):
        with app.test_request_context():
            campaign = make_campaign()
            fund(campaign, 100_000 * RP)
            row_id, public_id, treasurer_id = _record(campaign, 1_000 * RP, 1).id, campaign.public_id, \
                campaign.treasurer_id
        client = _client(app, treasurer_id)
        client.environ_base["HTTP_REFERER"] = "https://localhost/"
        url = f"/treasury/{public_id}/disbursements/{row_id}/reverse"
        assert client.post(url, data={"reason": REASON}).status_code == 400
        html = client.get(url).get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
        assert client.post(url, data={"reason": REASON, "csrf_token": token}).status_code == 303
        with app.app_context():
            assert len(_reversal_entries(public_id)) == 1



@pytest.mark.files
def test_the_campaign_report_lists_the_reversal_beside_the_disbursement(app, recorded):
    from tests.factories.documents import pdf_text

    public_id, disbursement_id, treasurer_id = recorded
    with app.test_request_context():
        row = db.session.get(Disbursement, disbursement_id)
        reversal = disbursements.reverse(row, db.session.get(User, treasurer_id), REASON)
        db.session.commit()
        disbursement_seq, reversal_seq = row.ledger_seq, reversal.ledger_seq
    response = _client(app, treasurer_id).get(f"/campaigns/{public_id}/documents/report.pdf", headers=EN)
    assert response.status_code == 200
    text = pdf_text(response.data).replace("\n", " ")
    assert "Pembelian bahan tahap 1" in text
    assert f"Reversal of entry {disbursement_seq}, recorded in error: {REASON}" in text
    assert str(reversal_seq) in text


# ---- the evidence of a reversed disbursement proves the right one ----

@pytest.mark.files
def test_the_evidence_of_a_reversed_disbursement_can_prove_the_corrected_one(app, recorded):
    public_id, disbursement_id, _ = recorded
    with app.test_request_context():
        campaign = _campaign(public_id)
        wrong = db.session.get(Disbursement, disbursement_id)
        same = dict(paid_on=today_wib(), payee_kind="organization", payee_name="Toko 1",
                    purpose="Pembelian bahan tahap 1", category="goods", evidence=picture(201))
        # While the first stands, its invoice cannot prove a second payment.
        with pytest.raises(disbursements.ValidationError, match=r"already the evidence|sudah menjadi bukti"):
            disbursements.record(campaign, campaign.treasurer,
                                 disbursements.DisbursementInput(amount=30_000 * RP, **same))
        db.session.rollback()
        disbursements.reverse(wrong, campaign.treasurer, "Jumlah salah ketik: seharusnya Rp 30.000")
        db.session.commit()
        # Reversed, it frees the invoice for the right amount, but not the invoice's visibility.
        with pytest.raises(disbursements.ValidationError) as refused:
            disbursements.record(campaign, campaign.treasurer, disbursements.DisbursementInput(
                amount=30_000 * RP, evidence_public=False, **same))
        assert set(refused.value.errors) == {"evidence_visibility"}
        db.session.rollback()
        right = disbursements.record(campaign, campaign.treasurer,
                                     disbursements.DisbursementInput(amount=30_000 * RP, **same))
        db.session.commit()
        wrong = db.session.get(Disbursement, disbursement_id)
        assert right.evidence_sha256 == wrong.evidence_sha256 and right.id != wrong.id
        assert disbursements.by_evidence(right.evidence_sha256).id == right.id  # the one that stands
        assert disbursements.available_balance(campaign) == (1_000_000 - 30_000) * RP
        # ...and now the right one stands, a third use is refused again.
        with pytest.raises(disbursements.ValidationError, match=r"already the evidence|sudah menjadi bukti"):
            disbursements.record(campaign, campaign.treasurer,
                                 disbursements.DisbursementInput(amount=10_000 * RP, **same))
        db.session.rollback()
        sha, seqs = right.evidence_sha256, (wrong.ledger_seq, right.ledger_seq)
    client = app.test_client()
    with client.get(f"/evidence/{sha}") as served:
        assert served.status_code == 200 and hashlib.sha256(served.data).hexdigest() == sha
    for seq in seqs:  # both entries link the same public document
        assert f"/evidence/{sha}" in client.get(f"/ledger/entries/{seq}").get_data(as_text=True)


@pytest.mark.files
def test_a_withheld_document_stays_withheld_when_it_proves_the_corrected_disbursement(app):
    with app.test_request_context():
        campaign = make_campaign()
        fund(campaign, 1_000_000 * RP)
        same = dict(paid_on=today_wib(), payee_kind="individual", payee_name="Pak Darto",
                    purpose="Ongkos angkut material", category="services", evidence=picture(250))
        wrong = disbursements.record(campaign, campaign.treasurer, disbursements.DisbursementInput(
            amount=50_000 * RP, evidence_public=False, **same))
        db.session.commit()
        disbursements.reverse(wrong, campaign.treasurer, "Penerima salah")
        db.session.commit()
        with pytest.raises(disbursements.ValidationError) as refused:
            disbursements.record(campaign, campaign.treasurer,
                                 disbursements.DisbursementInput(amount=5_000 * RP, **same))
        assert re.search(r"stays withheld|tetap ditahan", refused.value.errors["evidence_visibility"])
        db.session.rollback()
        right = disbursements.record(campaign, campaign.treasurer, disbursements.DisbursementInput(
            amount=5_000 * RP, evidence_public=False, **same))
        db.session.commit()
        sha = right.evidence_sha256
    assert app.test_client().get(f"/evidence/{sha}").status_code == 404


@pytest.mark.files
def test_the_form_says_why_a_reused_document_keeps_its_visibility(app, client, recorded):
    from tests.factories.treasury import form_data
    public_id, disbursement_id, treasurer_id = recorded
    with app.test_request_context():
        disbursements.reverse(db.session.get(Disbursement, disbursement_id),
                              db.session.get(User, treasurer_id), "Jumlah salah")
        db.session.commit()
        login(client, db.session.get(User, treasurer_id))
    data = form_data(evidence=(picture(201), "nota.png"), evidence_visibility="withheld", amount="30000")
    response = client.post(f"/treasury/{public_id}/disbursements/new", data=data, headers=EN)
    assert response.status_code == 422
    assert "already published with ledger entry" in response.get_data(as_text=True)
    data = form_data(evidence=(picture(201), "nota.png"), evidence_visibility="public", amount="30000")
    assert client.post(f"/treasury/{public_id}/disbursements/new", data=data).status_code == 303


@pytest.mark.files
def test_a_photo_recorded_before_metadata_was_removed_cannot_prove_a_second_payment(app, monkeypatch):
    """Evidence recorded before uploads were cleaned carries the hash of the file as uploaded; the
    same photo uploaded again (now cleaned, so with another hash) is still the same document."""
    import io

    from amanah import image_metadata
    from tests.factories.treasury import drawing, rich_exif
    out = io.BytesIO()
    drawing().save(out, "JPEG", quality=90, exif=rich_exif())  # GPS, camera, time: a phone photo
    photo = out.getvalue()
    with app.test_request_context():
        campaign = make_campaign()
        fund(campaign, 1_000_000 * RP)
        same = dict(paid_on=today_wib(), payee_kind="organization", payee_name="Toko Sinar",
                    purpose="Semen dan pasir", category="goods", evidence=photo)
        with monkeypatch.context() as before_cleaning:  # as the app stored it until now
            before_cleaning.setattr(image_metadata, "clean",
                                    lambda data: image_metadata.Cleaned(data, removed=False))
            old = disbursements.record(campaign, campaign.treasurer,
                                       disbursements.DisbursementInput(amount=10_000 * RP, **same))
            db.session.commit()
        assert old.evidence_sha256 == hashlib.sha256(photo).hexdigest()
        assert image_metadata.clean(photo).removed  # so the upload is now stored under another hash
        with pytest.raises(disbursements.ValidationError, match=r"already the evidence|sudah menjadi bukti"):
            disbursements.record(campaign, campaign.treasurer,
                                 disbursements.DisbursementInput(amount=10_000 * RP, **same))
        db.session.rollback()


@pytest.mark.files
def test_a_reversed_disbursements_evidence_cannot_move_to_another_campaign(app):
    with app.test_request_context():
        first, second = make_campaign(), make_campaign()
        for campaign in (first, second):
            fund(campaign, 1_000_000 * RP)
        same = dict(paid_on=today_wib(), payee_kind="organization", payee_name="Toko Sinar",
                    purpose="Semen dan pasir", category="goods", evidence=picture(260))
        wrong = disbursements.record(first, first.treasurer,
                                     disbursements.DisbursementInput(amount=10_000 * RP, **same))
        db.session.commit()
        disbursements.reverse(wrong, first.treasurer, "Kampanye yang salah")
        db.session.commit()
        with pytest.raises(disbursements.ValidationError, match=r"already the evidence|sudah menjadi bukti"):
            disbursements.record(second, second.treasurer,
                                 disbursements.DisbursementInput(amount=10_000 * RP, **same))
        db.session.rollback()
        # ...while on its own campaign it proves the corrected one.
        disbursements.record(first, first.treasurer,
                             disbursements.DisbursementInput(amount=9_000 * RP, **same))
        db.session.commit()
