"""The reference deployment's nginx configuration (deploy/nginx/amanah.conf), run by Debian's
nginx on loopback in front of two app servers: static files, forwarded addresses, body limits,
anonymous pages kept and revalidated by their ETags, and nothing of a signed-in visitor shared."""
from __future__ import annotations

import http.client
import importlib.util
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from flask import request
from werkzeug.serving import make_server

from accounts.models import User
from amanah.extensions import db
from tests.conftest import make_app, serve_until_shutdown
from tests.factories.campaigns import make_campaign, make_people

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "deploy/nginx/amanah.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SHARED_SECRET = "test-only secret shared by both app servers, 32+ chars"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _render_module():
    """deploy/nginx/render.py, which fills amanah.conf's SITE: lines (deploy/ is not a package)."""
    spec = importlib.util.spec_from_file_location("amanah_nginx_render", ROOT / "deploy/nginx/render.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class AppServer:
    def __init__(self, database_url: str, instance: Path):
        # Every app server signs sessions with the same key (in production SECRET_KEY is required;
        # left to each instance folder, a visitor would be signed out by the other server).
        self.app = make_app(database_url, instance, PROXY_HOPS=1, CAMPAIGN_PAGE_CACHE_SECONDS=0,
                            SECRET_KEY=SHARED_SECRET, WTF_CSRF_ENABLED=True)
        self.seen: list[tuple[str, str, str]] = []  # (method, path, remote address as the app sees it)

        @self.app.before_request
        def remember():
            self.seen.append((request.method, request.full_path, request.remote_addr))

        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=serve_until_shutdown, args=(self.server,), daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.thread.join(timeout=5)
        with self.app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="module")
def site(databases, tmp_path_factory):
    if not os.path.exists(NGINX):
        # In CI this cannot happen: .ci/run installs Debian's nginx before running the suite.
        pytest.skip("nginx is not installed (apt-get install nginx)")
    workdir = tmp_path_factory.mktemp("nginx")
    url = databases.fresh()
    servers = [AppServer(url, workdir / f"instance-{n}") for n in (1, 2)]
    port = free_port()
    render = _render_module()
    site_text = render.site(f"127.0.0.1:{port}", [f"127.0.0.1:{s.port}" for s in servers],
                            ROOT / "static", workdir / "cache")
    main = render.standalone(workdir, site_text)
    check = subprocess.run([NGINX, "-t", "-c", str(main)], check=False, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    nginx = subprocess.Popen([NGINX, "-c", str(main), "-g", "daemon off;"])
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.02)
        app = servers[0].app
        people = make_people(app)
        public_id = make_campaign(app, people["owner"], people["treasurer"], admin_id=people["admin"])
        yield {"port": port, "servers": servers, "campaign": public_id, "people": people, "app": app}
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
        for server in servers:
            server.stop()


def fetch(site, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
          port: int | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port or site["port"], timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def test_static_files_are_served_by_nginx_itself(site):
    before = sum(len(s.seen) for s in site["servers"])
    status, headers, body = fetch(site, "GET", "/static/css/app.css")
    assert status == 200 and body == (ROOT / "static/css/app.css").read_bytes()
    assert headers["Server"].startswith("nginx") and "max-age=86400" in headers["Cache-Control"]
    assert sum(len(s.seen) for s in site["servers"]) == before  # no app server was asked


def test_the_app_sees_the_visitors_host_port_and_address_not_a_forged_one(site):
    campaign = site["campaign"]
    status, headers, _ = fetch(site, "GET", f"/campaigns/{campaign}")
    assert status == 301
    # Its redirect and its OpenGraph tags name the address the visitor used: nginx's port.
    location = headers["Location"]
    assert location.startswith("/campaigns/") or f"127.0.0.1:{site['port']}" in location
    path = location.split(f"127.0.0.1:{site['port']}")[-1]
    status, headers, body = fetch(site, "GET", path, headers={"X-Forwarded-For": "203.0.113.9"})
    assert status == 200
    og = re.search(rb'<meta property="og:url" content="([^"]+)"', body).group(1).decode()
    assert og.startswith(f"http://127.0.0.1:{site['port']}/campaigns/{campaign}")
    seen = [entry for server in site["servers"] for entry in server.seen if entry[1].startswith(path)]
    assert seen and all(address == "127.0.0.1" for _, _, address in seen)  # not the forged 203.0.113.9


def test_bodies_larger_than_the_apps_limit_are_refused_by_nginx(site):
    before = sum(len(s.seen) for s in site["servers"])
    status, headers, _ = fetch(site, "POST", "/account/login", body=b"x" * (13 * 1024 * 1024),
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 413 and headers["Server"].startswith("nginx")
    assert sum(len(s.seen) for s in site["servers"]) == before


def test_anonymous_pages_are_kept_then_revalidated_by_their_etag(site):
    headers = {"Accept-Language": "en"}
    first = fetch(site, "GET", "/ledger", headers=headers)
    second = fetch(site, "GET", "/ledger", headers=headers)
    assert first[0] == second[0] == 200 and first[2] == second[2]
    assert first[1]["X-Cache-Status"] in ("MISS", "EXPIRED") and second[1]["X-Cache-Status"] == "HIT"
    time.sleep(2.1)  # nginx counts a page's second of validity in whole seconds
    asked = [entry for server in site["servers"] for entry in server.seen]
    third = fetch(site, "GET", "/ledger", headers=headers)
    assert third[1]["X-Cache-Status"] == "REVALIDATED" and third[2] == first[2]
    # The app was asked once more, and answered "not modified" to nginx's If-None-Match.
    assert len([e for s in site["servers"] for e in s.seen]) == len(asked) + 1
    other_language = fetch(site, "GET", "/ledger", headers={"Accept-Language": "id"})
    assert other_language[2] != first[2]  # each language its own copy


def test_both_app_servers_take_requests(site):
    for server in site["servers"]:
        server.seen.clear()
    for n in range(6):
        fetch(site, "GET", f"/healthz?n={n}")
    assert all(server.seen for server in site["servers"])


def test_nothing_of_a_signed_in_visitor_is_kept_or_shared(site):
    app = site["app"]
    with app.test_request_context():
        donor = db.session.get(User, site["people"]["donor"])
        cookie = app.session_interface.get_signing_serializer(app).dumps(
            {"_user_id": donor.get_id(), "_fresh": True})
    signed_in = {"Cookie": f"session={cookie}", "Accept-Language": "en"}
    for _ in range(2):
        status, headers, body = fetch(site, "GET", "/donations/mine", headers=signed_in)
        assert status == 200 and b"Dewi Donatur" in body and headers["X-Cache-Status"] == "BYPASS"
    status, headers, body = fetch(site, "GET", "/donations/mine", headers={"Accept-Language": "en"})
    assert status in (302, 303) and b"Dewi Donatur" not in body
    # A page that starts a session (a form's CSRF token, here the login form) is never kept.
    for _ in range(2):
        status, headers, _ = fetch(site, "GET", "/account/login", headers={"Accept-Language": "en"})
        assert status == 200 and headers["X-Cache-Status"] != "HIT"

