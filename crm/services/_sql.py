"""Insert-if-absent that works on SQLite and PostgreSQL without a savepoint.

Both databases settle the race themselves (ON CONFLICT DO NOTHING), so two
processes creating the same row at once both succeed and see one row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crm.models import Base


def insert_if_absent(
    session: Session, model: type[Base], values: dict[str, Any], *, conflict: list[str]
) -> None:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt = postgresql.insert(model).values(**values)
    elif dialect == "sqlite":
        stmt = sqlite.insert(model).values(**values)
    else:  # pragma: no cover - the project supports these two only
        raise NotImplementedError(f"unsupported database {dialect!r}")
    session.execute(stmt.on_conflict_do_nothing(index_elements=conflict))
