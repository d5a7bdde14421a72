"""Query parameters of the ledger's machine endpoints and JSON API, checked one by one.

A bad value raises ParamError naming the parameter; each blueprint that reads parameters registers
param_error, which answers 400 with JSON ({"error": ..., "field": ...}).
"""
from __future__ import annotations

from flask import jsonify, request
from flask_babel import gettext as _

from amanah.extensions import db
from ledger import storage


class ParamError(Exception):
    def __init__(self, param: str, message: str):
        super().__init__(message)
        self.param = param
        self.message = message


def param_error(exc: ParamError):
    return jsonify({"error": exc.message, "field": exc.param}), 400


def int_param(name: str, *, default: int | None = None, minimum: int = 0, maximum: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        if default is None:
            raise ParamError(name, _("The parameter %(name)s is required.", name=name))
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19:
        raise ParamError(name, _("The parameter %(name)s must be a non-negative integer.", name=name))
    value = int(raw)
    if value < minimum:
        raise ParamError(name, _("The parameter %(name)s must be at least %(minimum)d.",
                                 name=name, minimum=minimum))
    if maximum is not None and value > maximum:
        raise ParamError(name, _("The parameter %(name)s must be at most %(maximum)d.",
                                 name=name, maximum=maximum))
    return value


def size_param(name: str = "size", *, minimum: int = 0) -> int:
    current = storage.size(db.session)
    value = int_param(name, minimum=minimum)
    if value > current:
        raise ParamError(name, _("The parameter %(name)s is larger than the ledger, which has "
                                 "%(current)d entries.", name=name, current=current))
    return value
