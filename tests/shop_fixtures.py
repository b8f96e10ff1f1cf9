"""The documented webhook bodies under tests/fixtures/shop/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "shop"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def fixture(name: str) -> dict[str, Any]:
    return json.loads(fixture_bytes(name))  # type: ignore[no-any-return]
