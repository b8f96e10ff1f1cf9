"""Helpers of the CSV import tests (crm.importer, crm.csvfile, crm.import_orders): files as
shops save them, and the rows they leave in the CRM."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.csvfile import ImportReport
from crm.models import Customer, Order

CUSTOMER_HEADER = "customer_id,first_name,last_name,email,phone,telegram_user_id,locale,marketing_opt_in"
ORDER_HEADER = "order_number,customer_id,placed_at,status,items,total,currency,carrier,tracking_number,shipped_at,delivered_at"


def write(tmp_path: Path, name: str, *lines: str, bom: bool = False, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + "\n".join(lines).encode(encoding) + b"\n")
    return path


def count(session: Session, model: type, *where: object) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))  # type: ignore[arg-type]


def customer(session: Session, external_id: str) -> Customer:
    return session.scalars(select(Customer).where(Customer.external_id == external_id)).one()


def order(session: Session, number: str) -> Order:
    return session.scalars(select(Order).where(Order.number == number)).one()


def rejected(report: ImportReport) -> dict[int, str]:
    return {problem.line: problem.reason for problem in report.rejected}


def assert_rejected(problems: dict[int, str], expected: dict[int, str]) -> None:
    """Each expected line was rejected for (at least) its reason; the lines are taken out of `problems`."""
    for line, reason in expected.items():
        assert reason in problems.pop(line), line
