"""The WSGI entry point: `flask run` finds it, `gunicorn wsgi:app` serves it."""
from amanah import create_app

app = create_app()
