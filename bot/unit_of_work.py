"""One unit of work: a session from the gateway's sessionmaker, committed, or rolled back on any error.

`run` for code already on a worker thread; `run_in_thread` from the event loop
(the database driver blocks). The staff console, the shop inbox and the shop
API use these; a caller passes a function of the session and keyword arguments.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")


def run(db: sessionmaker[Session], fn: Callable[..., T], /, **kwargs: Any) -> T:
    with db() as session:
        try:
            result = fn(session, **kwargs)
            session.commit()
        except BaseException:
            session.rollback()
            raise
        return result


async def run_in_thread(db: sessionmaker[Session], fn: Callable[..., T], /, **kwargs: Any) -> T:
    return await asyncio.to_thread(run, db, fn, **kwargs)
