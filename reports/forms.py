"""The report form; reports.services decides what is acceptable."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField


class ReportForm(FlaskForm):
    title = StringField(_l("Title"), description=_l("E.g. “Posyandu in March: 84 toddlers weighed”."))
    narrative = TextAreaField(_l("What was done and what changed"), description=_l(
        "Markdown works: **bold**, lists, links."))
    corrects = SelectField(_l("Corrects an earlier report"), validate_choice=False, description=_l(
        "Reports are never changed: to correct one, post a new report that names it."))
    final = BooleanField(_l("This is the campaign's final report"))
