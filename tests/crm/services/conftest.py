"""Fixtures of the CRM service tests (tests/crm/services/).

Each service test takes the shared `session` (tests/conftest.py: rolled back after the
test, on SQLite and PostgreSQL) and makes its rows with tests/factories.py; the insights
tests' conversations and messages at given times come from insights_support.py.
"""
