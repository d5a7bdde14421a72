"""Amanah's public, append-only transparency ledger.

The core modules (``ledger.tree``, ``ledger.entry``, ``ledger.note`` and
``ledger.verify``) use only the standard library, ``cryptography`` and
``rfc8785``, so an auditor can run the verifier without the web app.
This file must stay free of imports: importing ``ledger.tree`` must never
pull in Flask or a database.
"""
