"""deploy/nginx/amanah.conf with a site's values in place of its `SITE:` lines.

    python deploy/nginx/render.py --listen 80 --server-name amanah.example.org \\
        --upstream 127.0.0.1:8000 --upstream 127.0.0.1:8001 \\
        --static /srv/amanah/static --cache /var/cache/nginx/amanah > /etc/nginx/sites-available/amanah

With `--standalone DIR` it writes DIR/nginx.conf, a whole configuration that runs nginx without
the system's (its pid file, logs and temporary folders in DIR), including the site: what the tests
(tests/deploy/test_nginx.py) and the scale-out benchmark (bench/scale_out.py) start.
Standard library only.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "amanah.conf"
ROOT = HERE.parent.parent
TEMP_FOLDERS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def site(listen: str, upstreams: list[str], static: Path, cache: Path,
         server_name: str = "amanah.example.org") -> str:
    """The site file (what Debian's nginx.conf includes inside `http { }`)."""
    text = TEMPLATE.read_text()
    lines = text.splitlines(keepends=True)
    servers = [i for i, line in enumerate(lines) if line.strip().startswith("server 127.0.0.1:")]
    if not servers or servers != list(range(servers[0], servers[-1] + 1)):
        raise SystemExit(f"{TEMPLATE}: expected the upstream's server lines together")
    pattern = lines[servers[0]]
    replaced = [re.sub(r"127\.0\.0\.1:\d+", upstream, pattern) for upstream in upstreams]
    lines[servers[0]:servers[-1] + 1] = replaced
    text = "".join(lines)
    for old, new in (("listen 80;", f"listen {listen};"),
                     ("server_name amanah.example.org;", f"server_name {server_name};"),
                     ("/var/cache/nginx/amanah", str(cache)),
                     ("alias /srv/amanah/static/;", f"alias {static}/;")):
        if old not in text:
            raise SystemExit(f"{TEMPLATE}: no {old!r} to replace")
        text = text.replace(old, new)
    return text


def standalone(workdir: Path, site_text: str, worker_processes: int = 1) -> Path:
    """DIR/nginx.conf running `site_text` with everything else in DIR; returns its path."""
    for name in (*TEMP_FOLDERS, "cache"):
        (workdir / name).mkdir(parents=True, exist_ok=True)
    (workdir / "amanah.conf").write_text(site_text)
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers read the caller's files
    temp = "".join(f"    {name}_temp_path {workdir / name};\n" for name in TEMP_FOLDERS)
    conf = workdir / "nginx.conf"
    conf.write_text(
        f"{user}worker_processes {worker_processes};\npid {workdir / 'nginx.pid'};\n"
        f"error_log {workdir / 'error.log'} warn;\nevents {{ worker_connections 1024; }}\n"
        f"http {{\n    include /etc/nginx/mime.types;\n    access_log off;\n{temp}"
        f"    include {workdir / 'amanah.conf'};\n}}\n")
    return conf


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="80")
    parser.add_argument("--server-name", default="amanah.example.org")
    parser.add_argument("--upstream", action="append", required=True, help="host:port of an app server")
    parser.add_argument("--static", type=Path, default=ROOT / "static")
    parser.add_argument("--cache", type=Path, default=Path("/var/cache/nginx/amanah"))
    parser.add_argument("--standalone", type=Path, help="write DIR/nginx.conf (and its site) instead")
    args = parser.parse_args(argv)
    if args.standalone:
        text = site(args.listen, args.upstream, args.static.resolve(), args.standalone.resolve() / "cache",
                    args.server_name)
        print(standalone(args.standalone.resolve(), text))
    else:
        text = site(args.listen, args.upstream, args.static.resolve(), args.cache, args.server_name)
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
