"""`make run` starts demo sign-in only on the demo's own data, and its banner says which."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from bot.supervisor import banner, decide_demo, real_customers
from crm.models import Customer


def _add(db: sessionmaker[Session], external_id: str, *, is_demo: bool) -> None:
    with db() as session:
        session.add(
            Customer(
                external_id=external_id,
                first_name="A",
                last_name="B",
                email=f"{external_id.lower()}@example.com",
                is_demo=is_demo,
            )
        )
        session.commit()


def test_a_crm_with_imported_customers_starts_without_demo_sign_in_and_says_so(
    gateway_db_url: str, db: sessionmaker[Session]
) -> None:
    _add(db, "C001", is_demo=True)
    assert decide_demo({"DEMO_MODE": "true"}, real_customers(gateway_db_url))[0] is True
    _add(db, "SHOP-1", is_demo=False)
    real = real_customers(gateway_db_url)
    assert real == 1
    demo, line = decide_demo({"DEMO_MODE": "true"}, real)
    assert demo is False
    text = banner(url="http://127.0.0.1:8000", seconds=3, demo=demo, demo_line=line)
    assert "Demo sign-in: OFF" in text and "1 customer(s) the demo did not create" in text
    assert "Demo shop" not in text and "Gateway: http://127.0.0.1:8000/" in text


def test_the_demo_banner_names_demo_customers_only_and_off_when_not_asked() -> None:
    demo, line = decide_demo({"DEMO_MODE": "true"}, 0)
    assert demo is True and "demo customers only" in banner(url="u", seconds=1, demo=demo, demo_line=line)
    assert decide_demo({}, 0) == (False, "Demo sign-in: off (DEMO_MODE is not set).")
    assert decide_demo({"DEMO_MODE": "false"}, 5)[0] is False


def test_no_crm_yet_counts_as_no_real_customers(tmp_path) -> None:
    assert real_customers(f"sqlite:///{tmp_path / 'missing.db'}") == 0
