"""Fixtures of the CRM tests (tests/crm/).

The database fixtures every package shares (`session`, `connection`, `engine`, `db_url`,
`empty_db_url`: SQLite, and PostgreSQL with TEST_DATABASE_URL) are in tests/conftest.py;
rows are made with tests/factories.py. Helpers of the CSV import tests (files as shops save
them) are in tests/crm/import_support.py. Nothing else is shared in this package yet.
"""
