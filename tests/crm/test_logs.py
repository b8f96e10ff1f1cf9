"""crm/logs.py: the project's scrubbing JSON log lines, installed on the root logger of a process."""

from __future__ import annotations

import json
import logging

import pytest

from crm.logs import install_json_handler, request_id_var


@pytest.fixture
def root_logger() -> logging.Logger:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def _lines(err: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def test_one_handler_per_name_even_when_installed_twice(root_logger: logging.Logger, capsys: pytest.CaptureFixture[str]) -> None:
    install_json_handler("test-json", "INFO")
    install_json_handler("test-json", "INFO")
    assert [h.get_name() for h in root_logger.handlers].count("test-json") == 1
    logging.getLogger("anything").info("started")
    assert [line["msg"] for line in _lines(capsys.readouterr().err)] == ["started"]


def test_records_are_scrubbed_and_carry_the_request_id(root_logger: logging.Logger, capsys: pytest.CaptureFixture[str]) -> None:
    install_json_handler("test-json", "WARNING")
    token = request_id_var.set("req-7")
    try:
        logging.getLogger("sqlalchemy").warning("DETAIL: Key (email)=(bo@shop.example) exists", extra={"phone": "+1 415 555 0100"})
        logging.getLogger("sqlalchemy").info("below the level")
    finally:
        request_id_var.reset(token)
    (line,) = _lines(capsys.readouterr().err)
    assert line["msg"] == "DETAIL: Key (email)=([email]) exists"
    assert line["phone"] == "[phone]"
    assert line["request_id"] == "req-7" and line["level"] == "WARNING"
