"""crm.demo_gen: the demo shop's CSV files are what the generator makes."""

from __future__ import annotations

from crm.demo_gen import DEMO_DATA, build_demo_csv


def test_the_checked_in_csv_files_are_what_the_generator_makes() -> None:
    customers, orders = build_demo_csv()
    assert (DEMO_DATA / "customers.csv").read_text(encoding="utf-8") == customers
    assert (DEMO_DATA / "orders.csv").read_text(encoding="utf-8") == orders
    assert build_demo_csv() == (customers, orders)
