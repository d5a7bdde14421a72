"""The WSGI entry point: `flask run` finds it, `gunicorn wsgi:app` serves it."""
import sys

from amanah import create_app
from amanah.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    # An operator's mistake, not a bug: one line naming the setting, exit status 1, no traceback.
    sys.exit(f"amanah: configuration error: {exc}")
