"""Links: redirect targets that stay on this site, and absolute links built from configuration.

A request's Host header and scheme are whatever the client (or a proxy) sent, so links that leave
the request, in mail above all, are built from SERVER_NAME and PREFERRED_URL_SCHEME instead."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app

# Development and tests may leave SERVER_NAME unset; production requires it (amanah.config).
UNCONFIGURED_HOST = "localhost"


def safe_next(target: str | None) -> str | None:
    """`target` when it is a path on this site, else None: never an open redirect, never a header
    split by control characters."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(char) < 32 or ord(char) == 127 for char in target):
        return None
    return target


def absolute_url(endpoint: str, **values) -> str:
    """url_for(endpoint, _external=True) as configured, the same inside a request or outside one."""
    config = current_app.config
    adapter = current_app.url_map.bind(config.get("SERVER_NAME") or UNCONFIGURED_HOST,
                                       url_scheme=config["PREFERRED_URL_SCHEME"])
    return adapter.build(endpoint, values, force_external=True)
