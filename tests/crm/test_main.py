"""crm/__main__.py: the owner's command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.__main__ import main
from crm.db import make_engine
from crm.models import Customer, Order
from crm.settings import PROJECT_ROOT

CUSTOMERS = """customer_id,first_name,last_name,email,phone,telegram_user_id,locale,marketing_opt_in
A1,Ada,Lovelace,ada@example.com,07700 900111,,en,yes
A2,Bad,Email,nope,,,en,no
A3,Cy,Young,cy@example.com,,,en,no
"""
ORDERS = """order_number,customer_id,placed_at,status,items,total,currency,carrier,tracking_number,shipped_at,delivered_at
8001,A1,2026-05-01,delivered,1x Mug,10.00,GBP,DPD,1550,2026-05-02,2026-05-03
8002,A2,2026-05-01,paid,1x Mug,10.00,GBP,,,,
8003,A3,2026-05-01,teleported,1x Mug,10.00,GBP,,,,
"""


def _counts(url: str) -> tuple[int, int]:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return (
                session.scalar(select(func.count(Customer.id))) or 0,
                session.scalar(select(func.count(Order.id))) or 0,
            )
    finally:
        engine.dispose()


def test_import_reports_rejected_rows_and_commits_the_rest(
    empty_db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    (tmp_path / "orders.csv").write_text(ORDERS, encoding="utf-8")
    code = main(
        [
            "--database-url", empty_db_url,
            "import", "--customers", str(tmp_path / "customers.csv"), "--orders", str(tmp_path / "orders.csv"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "rejected customers.csv:3: bad e-mail" in out
    assert "rejected orders.csv:3: unknown customer A2" in out
    assert 'rejected orders.csv:4: bad status "teleported"' in out
    assert "customers.csv: 2 imported, 0 updated, 0 unchanged, 1 rejected" in out
    assert "orders.csv: 1 imported, 0 updated, 0 unchanged, 2 rejected" in out
    assert _counts(empty_db_url) == (2, 1)

    # Again: nothing new, nothing duplicated, still a success.
    assert main(["--database-url", empty_db_url, "import", "--customers", str(tmp_path / "customers.csv")]) == 0
    assert "2 unchanged" in capsys.readouterr().out
    assert _counts(empty_db_url) == (2, 1)


def test_import_with_nothing_good_fails(empty_db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.csv").write_text("customer_id,first_name,email\nZ1,Zed,broken\n", encoding="utf-8")
    assert main(["--database-url", empty_db_url, "import", "--customers", str(tmp_path / "bad.csv")]) == 1
    assert "nothing imported" in capsys.readouterr().out
    assert main(["--database-url", empty_db_url, "import"]) == 2
    assert _counts(empty_db_url) == (0, 0)


def test_migrate_seed_and_stats(empty_db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--database-url", empty_db_url, "migrate"]) == 0
    assert main(["--database-url", empty_db_url, "seed-demo", "--today", "2030-06-01"]) == 0
    assert "demo shop loaded: 28 customers, 76 orders" in capsys.readouterr().out
    assert main(["--database-url", empty_db_url, "seed-demo"]) == 0
    assert "already has customers" in capsys.readouterr().out
    assert main(["--database-url", empty_db_url, "stats"]) == 0
    out = capsys.readouterr().out
    assert "customers      28" in out and "orders         76" in out and "returns        3" in out
    assert "@" not in out  # counts only, no contact data


def test_stats_on_a_database_without_tables(empty_db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--database-url", empty_db_url, "stats"]) == 1
    assert "python -m crm migrate" in capsys.readouterr().err


def test_runs_as_a_module(empty_db_url: str, tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "crm", "import", "--customers", str(tmp_path / "customers.csv")],
        cwd=PROJECT_ROOT,
        env={**os.environ, "DATABASE_URL": empty_db_url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "customers.csv: 2 imported" in result.stdout
    assert _counts(empty_db_url) == (2, 0)
