"""bot/unit_of_work.py: one session per call, committed when the function returns, rolled back when it raises."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.unit_of_work import run, run_in_thread
from crm.models import Customer


def _add(session: Session, *, external_id: str, fail: BaseException | None = None) -> str:
    session.add(Customer(external_id=external_id, first_name="Ada"))
    session.flush()
    if fail is not None:
        raise fail
    return external_id


def _ids(session: Session) -> list[str]:
    return list(session.scalars(select(Customer.external_id).order_by(Customer.external_id)))


@pytest.mark.parametrize("failure", [ValueError("refused"), KeyboardInterrupt()])
def test_run_commits_what_returns_and_rolls_back_what_raises(
    db: sessionmaker[Session], failure: BaseException
) -> None:
    assert run(db, _add, external_id="C1") == "C1"
    with pytest.raises(type(failure)):
        run(db, _add, external_id="C2", fail=failure)
    assert run(db, _ids) == ["C1"]


async def test_run_in_thread_is_the_same_unit_off_the_event_loop(db: sessionmaker[Session]) -> None:
    threads: list[threading.Thread] = []

    def where(session: Session) -> None:
        threads.append(threading.current_thread())

    assert await run_in_thread(db, _add, external_id="C1") == "C1"
    with pytest.raises(ValueError):
        await run_in_thread(db, _add, external_id="C2", fail=ValueError("refused"))
    await run_in_thread(db, where)
    assert await run_in_thread(db, _ids) == ["C1"] and threads[0] is not threading.current_thread()
