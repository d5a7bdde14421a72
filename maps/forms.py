"""Forms only turn what people type into values; maps.services decides what is acceptable."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, StringField
from wtforms.widgets import CheckboxInput, ListWidget

from campaigns import categories, regions
from maps.services import ServicePointInput


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ServicePointForm(FlaskForm):
    name = StringField(_l("Name of the place"), description=_l(
        "E.g. “Posyandu Melati”, “Taman Baca Pesisir”, “Dapur Umum Masjid Al-Ikhlas”."))
    category = SelectField(_l("Category"), validate_choice=False)
    address = StringField(_l("Address"))
    city = StringField(_l("City or regency"))
    province = SelectField(_l("Province"), validate_choice=False)
    latitude = StringField(_l("Latitude"), description=_l(
        "Decimal degrees, negative south of the equator, e.g. -7.7156. Where JavaScript runs you can "
        "also click the map below."))
    longitude = StringField(_l("Longitude"), description=_l("Decimal degrees, e.g. 110.3556."))
    opening_hours = StringField(_l("Opening hours"), description=_l("E.g. Mon–Sat 08:00–12:00."))
    contact = StringField(_l("Contact"), description=_l("A phone number or e-mail address visitors may use."))
    campaigns = CheckboxesField(_l("Campaigns that fund it"), coerce=int, validate_choice=False)

    def __init__(self, *args, funding=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.category.choices = [("", _l("Choose a category")), *categories.choices()]
        self.province.choices = [("", _l("Choose a province")), *regions.choices()]
        self.campaigns.choices = [(c.id, c.title) for c in funding]

    def to_input(self) -> ServicePointInput:
        return ServicePointInput(
            name=self.name.data or "", category=self.category.data or "", address=self.address.data or "",
            city=self.city.data or "", province=self.province.data or "",
            latitude=self.latitude.data or "", longitude=self.longitude.data or "",
            opening_hours=self.opening_hours.data or "", contact=self.contact.data or "",
            campaign_ids=list(self.campaigns.data or []))
