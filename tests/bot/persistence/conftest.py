"""Fixtures of the persistence tests (tests/bot/persistence/): one module per idea of bot/persistence/.

They take `db` (a migrated CRM on SQLite and PostgreSQL), `unit` (the gateway's unit of work over it),
`new_conversation` and `customer` from tests/bot/conftest.py, and the rolled-back `session` from
tests/conftest.py; nothing here is shared with other packages.
"""
