"""Bad input on every field: refused with a clear message in both languages, nothing saved."""
from __future__ import annotations

import datetime as dt
import io
import re

import pytest
import sqlalchemy as sa

from amanah import storage
from amanah.extensions import db
from campaigns import images, services
from campaigns.models import Campaign
from tests.factories.campaigns import (
    _form,
    campaign_input,
    client_for,
    future,
    image_bytes,
    make_campaign,
    make_people,
    user,
)


def _count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Campaign))


def _gif() -> bytes:
    from PIL import Image
    buffer = io.BytesIO()
    Image.new("P", (300, 300)).save(buffer, "GIF")
    return buffer.getvalue()


BAD_INPUT = [
    ("goal-zero", "goal", {"goal": 0}),
    ("goal-negative", "goal", {"goal": -100}),
    ("goal-missing", "goal", {"goal": None}),
    ("goal-tiny", "goal", {"goal": 5_000_000}),  # Rp 50.000
    ("goal-absurd", "goal", {"goal": 10**15}),
    ("goal-not-int", "goal", {"goal": 2.5}),
    ("currency-unknown", "currency", {"currency": "XYZ"}),
    ("deadline-past", "deadline", {"deadline": dt.date(2020, 1, 1)}),
    ("deadline-today", "deadline", {"deadline": services.today_wib()}),
    ("deadline-far", "deadline", {"deadline": future(800)}),
    ("deadline-missing", "deadline", {"deadline": None}),
    ("category-unknown", "category", {"category": "sports"}),
    ("region-unknown", "region", {"region": "99"}),
    ("region-name-not-code", "region", {"region": "Aceh"}),
    ("title-empty", "title", {"title": "   "}),
    ("title-long", "title", {"title": "x" * 121}),
    ("title-control-char", "title", {"title": "Posyandu\x00Melati"}),
    ("story-short", "story", {"story": "Tolong."}),
    ("story-long", "story", {"story": "a" * 20_001}),
    ("city-long", "city", {"city": "k" * 81}),
    ("beneficiary-empty", "beneficiary", {"beneficiary": ""}),
    ("beneficiary-long", "beneficiary", {"beneficiary": "b" * 2001}),
    ("treasurer-missing", "treasurer_id", {"treasurer_id": None}),
    ("cover-not-image", "cover", {"cover": b"%PDF-1.7 not an image"}),
    ("cover-gif", "cover", {"cover": _gif()}),
    ("cover-tiny", "cover", {"cover": image_bytes(size=(50, 50))}),
    ("cover-empty", "cover", {"cover": b""}),
]


@pytest.mark.parametrize(("field", "overrides"), [pytest.param(*row[1:], id=row[0]) for row in BAD_INPUT])
def test_services_refuse_bad_input_and_save_nothing(app, field, overrides):
    people = make_people(app)
    with app.app_context():
        before = _count()
        with pytest.raises(services.ValidationError) as excinfo:
            services.create_campaign(user(people["owner"]), campaign_input(people["treasurer"], **overrides))
        assert excinfo.value.errors.get(field)
        db.session.rollback()
        assert _count() == before


def test_treasurer_must_hold_the_role(app):
    people = make_people(app)
    with app.app_context():
        with pytest.raises(services.ValidationError) as excinfo:
            services.create_campaign(user(people["owner"]), campaign_input(people["donor"]))
        assert set(excinfo.value.errors) == {"treasurer_id"}


def test_published_campaign_keeps_its_currency(app):
    people = make_people(app)
    public_id = make_campaign(app, people["owner"], people["treasurer"])
    with app.app_context():
        campaign = services.get_by_public_id(public_id)
        with pytest.raises(services.ValidationError) as excinfo:
            services.update_campaign(campaign, user(people["owner"]),
                                     campaign_input(people["treasurer"], currency="USD", goal=500_000))
        assert set(excinfo.value.errors) == {"currency"}


def test_public_id_never_changes(app):
    people = make_people(app)
    public_id = make_campaign(app, people["owner"], people["treasurer"])
    with app.app_context():
        campaign = services.get_by_public_id(public_id)
        assert re.fullmatch(r"[a-z2-7]{12}", public_id)
        with pytest.raises(ValueError, match="never changes"):
            campaign.public_id = "bbbbbbbbbbbb"


def test_title_change_moves_the_slug_and_old_links_redirect(app):
    people = make_people(app)
    public_id = make_campaign(app, people["owner"], people["treasurer"])
    with app.app_context():
        campaign = services.get_by_public_id(public_id)
        old_slug = campaign.slug
        services.update_campaign(campaign, user(people["owner"]),
                                 campaign_input(people["treasurer"], title="Posyandu Mawar: timbangan baru"))
        db.session.commit()
        assert campaign.slug == "posyandu-mawar-timbangan-baru"
    response = app.test_client().get(f"/campaigns/{public_id}/{old_slug}")
    assert response.status_code == 301
    assert response.headers["Location"] == f"/campaigns/{public_id}/posyandu-mawar-timbangan-baru"


def _multipart(data: dict) -> dict:
    """Encode in memory: the test client spools big bodies to a temporary file it never closes."""
    from werkzeug.datastructures import FileStorage
    from werkzeug.test import stream_encode_multipart

    fields = {k: FileStorage(v[0], filename=v[1]) if isinstance(v, tuple) else v for k, v in data.items()}
    stream, _length, boundary = stream_encode_multipart(fields, use_tempfile=False)
    return {"data": stream.getvalue(), "content_type": f"multipart/form-data; boundary={boundary}"}




@pytest.mark.parametrize(("language", "overrides", "field", "message"), [
    ("id", {"goal": "0"}, "goal", "Jumlah harus lebih dari nol."),
    ("en", {"goal": "0"}, "goal", "The amount must be more than zero."),
    ("id", {"goal": "-5.000"}, "goal", "Jumlah harus positif."),
    ("id", {"goal": "sejuta"}, "goal", "Masukkan jumlah dalam angka"),
    ("en", {"goal": "1.500.000"}, "goal", "not a valid amount"),
    ("id", {"goal": "500.000.000.000"}, "goal", "Target tidak boleh lebih dari"),
    ("en", {"goal": "500,000,000,000"}, "goal", "The goal cannot be more than"),
    ("id", {"deadline": "2020-01-01"}, "deadline", "Tenggat harus tanggal di masa depan."),
    ("en", {"deadline": "2020-01-01"}, "deadline", "The deadline must be a date in the future."),
    ("id", {"deadline": "besok"}, "deadline", "Masukkan tanggal seperti 2027-06-30."),
    ("en", {"deadline": "tomorrow"}, "deadline", "Enter a date such as 2027-06-30."),
    ("id", {"category": "olahraga"}, "category", "Pilih salah satu kategori."),
    ("en", {"category": "sports"}, "category", "Choose one of the categories."),
    ("id", {"region": "99"}, "region", "Pilih salah satu provinsi Indonesia."),
    ("en", {"region": "99"}, "region", "Choose one of Indonesia's provinces."),
    ("id", {"title": "x" * 200}, "title", "Tulis paling banyak 120 karakter."),
    ("en", {"title": "x" * 200}, "title", "Write at most 120 characters."),
    ("id", {"story": ""}, "story", "Ceritakan kisah kampanye ini."),
    ("en", {"treasurer_id": "abc"}, "treasurer_id", "Choose a treasurer from the list."),
])
def test_form_errors_in_both_languages_tied_to_their_field(app, language, overrides, field, message):
    people = make_people(app)
    client = client_for(app, people["owner"], language)
    response = client.post("/campaigns/new", data=_form(people["treasurer"], **overrides))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', html)
    assert error and message in error.group(1).replace("&#39;", "'"), html[:200]
    described = re.search(rf'<(?:input|select|textarea)[^>]*id="{field}"[^>]*>', html).group(0)
    assert f"{field}-error" in described and 'aria-invalid="true"' in described
    assert f'<label for="{field}">' in html
    with app.app_context():
        assert _count() == 0


@pytest.mark.parametrize(("language", "payload", "message"), [
    ("id", b"\x89PNG" + b"\0" * (6 * 1024 * 1024), "Gambar lebih besar dari 5 MB."),
    ("en", b"\x89PNG" + b"\0" * (6 * 1024 * 1024), "The image is larger than 5 MB."),
    ("id", b"<?php echo 1; ?>", "Unggah gambar JPEG, PNG, atau WebP."),
    ("en", b"GIF89a not really", "Upload a JPEG, PNG or WebP image."),
])
@pytest.mark.files
def test_bad_uploads_are_refused_and_nothing_is_saved(app, language, payload, message):
    people = make_people(app)
    client = client_for(app, people["owner"], language)
    data = _form(people["treasurer"], cover=(io.BytesIO(payload), "cover.png"))
    response = client.post("/campaigns/new", **_multipart(data))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert _count() == 0
        assert not list(storage.current().keys("uploads/covers/"))


def test_request_over_the_size_limit_is_413(app):
    people = make_people(app)
    client = client_for(app, people["owner"])
    data = _form(people["treasurer"], cover=(io.BytesIO(b"\0" * (13 * 1024 * 1024)), "big.jpg"))
    assert client.post("/campaigns/new", **_multipart(data)).status_code == 413


@pytest.mark.files
def test_cover_is_reencoded_and_served_with_long_cache(app):
    people = make_people(app)
    client = client_for(app, people["owner"])
    jpeg = image_bytes("JPEG", size=(2400, 1600)) + b"trailing-bytes-<script>"
    data = _form(people["treasurer"], cover=(io.BytesIO(jpeg), "foto.jpg"))
    response = client.post("/campaigns/new", **_multipart(data))
    assert response.status_code == 303
    with app.app_context():
        campaign = db.session.scalar(sa.select(Campaign))
        assert re.fullmatch(r"[0-9a-f]{64}\.webp", campaign.cover)
        stored = storage.read(images.cover_key(campaign.cover))
    assert stored[:4] == b"RIFF" and stored[8:12] == b"WEBP" and b"<script>" not in stored
    with app.test_client().get(f"/campaigns/covers/{campaign.cover}") as served:
        assert served.status_code == 200 and served.mimetype == "image/webp"
        cache = served.headers["Cache-Control"]
        assert "immutable" in cache and "max-age=31536000" in cache
        assert served.data == stored
    from PIL import Image
    with Image.open(io.BytesIO(stored)) as image:
        assert image.size == (1500, 1000)
    assert app.test_client().get("/campaigns/covers/../../secret_key").status_code == 404
    assert app.test_client().get("/campaigns/covers/" + "0" * 64 + ".webp").status_code == 404


def test_script_in_story_is_rendered_inert(app):
    people = make_people(app)
    story = ("Halo warga!\n\n<script>alert('x')</script>\n\n<img src=x onerror=alert(1)>\n\n"
             "[klik](javascript:alert(1)) <a href='https://contoh.id' onclick='steal()'>tautan</a>\n\n"
             "<iframe src='https://evil.example'></iframe> **tebal**")
    public_id = make_campaign(app, people["owner"], people["treasurer"], story=story)
    html = app.test_client().get(f"/campaigns/{public_id}", follow_redirects=True).get_data(as_text=True)
    story_html = html.split('<div class="prose">', 1)[1].split("</div>", 1)[0]
    assert "<strong>tebal</strong>" in story_html
    for bad in ("<script", "onerror", "javascript:", "onclick", "<iframe", "<img"):
        assert bad not in story_html
    assert 'rel="nofollow noopener noreferrer ugc"' in story_html


def test_an_edit_that_sends_no_goal_asks_for_one(app):
    """The form is filled from the campaign, whose goal is an int of minor units: a POST without the
    goal field kept that int and validating it was a 500. A goal left out is a goal not entered."""
    people = make_people(app)
    public_id = make_campaign(app, people["owner"], people["treasurer"], status="draft")
    client = client_for(app, people["owner"], "en")
    form = {k: v for k, v in _form(people["treasurer"]).items() if k != "goal"}
    response = client.post(f"/campaigns/{public_id}/edit", data=form)
    assert response.status_code == 422
    assert re.search(r'id="goal-error">[^<]*Enter the goal', response.get_data(as_text=True))
    with app.app_context():
        campaign = services.get_by_public_id(public_id)
        assert campaign.title.startswith("Posyandu Melati") and campaign.goal == 2_500_000_000
    assert client.post(f"/campaigns/{public_id}/edit", data={}).status_code == 422


def test_editing_a_draft_keeps_what_is_valid_and_refuses_the_rest(app):
    people = make_people(app)
    public_id = make_campaign(app, people["owner"], people["treasurer"], status="draft")
    client = client_for(app, people["owner"])
    form = client.get(f"/campaigns/{public_id}/edit").get_data(as_text=True)
    assert 'value="25.000.000"' in form  # the goal, as an Indonesian would type it
    response = client.post(f"/campaigns/{public_id}/edit", data=_form(people["treasurer"], goal="0"))
    assert response.status_code == 422
    with app.app_context():
        assert services.get_by_public_id(public_id).title.startswith("Posyandu Melati")
    response = client.post(f"/campaigns/{public_id}/edit", data=_form(people["treasurer"]))
    assert response.status_code == 303
    with app.app_context():
        campaign = services.get_by_public_id(public_id)
        assert campaign.title == "Taman baca untuk anak nelayan Kupang" and campaign.goal == 1_500_000_000
