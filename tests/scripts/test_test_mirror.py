"""scripts/test_mirror.py: which source modules have a test module at the mirrored path."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.test_mirror import extra_of, main, mirrored_test, source_modules, unmatched_tests


def _tree(root: Path, files: list[str]) -> None:
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("")


def test_a_module_is_mirrored_by_test_its_name_under_tests() -> None:
    assert mirrored_test(Path("crm/services/orders.py")) == Path("tests/crm/services/test_orders.py")
    assert mirrored_test(Path("bot/channels/sms.py")) == Path("tests/bot/channels/test_sms.py")
    assert mirrored_test(Path("crm/__main__.py")) == Path("tests/crm/test_main.py")


def test_package_inits_and_migrations_are_not_modules_to_mirror(tmp_path: Path) -> None:
    _tree(tmp_path, ["crm/__init__.py", "crm/db.py", "crm/migrations/env.py", "crm/migrations/versions/0001_x.py",
                     "bot/channels/__init__.py", "bot/channels/web.py", "scripts/bench.py"])
    assert list(source_modules(tmp_path)) == [Path("bot/channels/web.py"), Path("crm/db.py")]


def test_tests_that_follow_no_module_are_listed(tmp_path: Path) -> None:
    _tree(tmp_path, ["crm/db.py", "tests/crm/test_db.py", "tests/crm/test_db_fuzz.py"])
    assert unmatched_tests(list(source_modules(tmp_path)), tmp_path) == [Path("tests/crm/test_db_fuzz.py")]


def test_a_test_named_after_a_module_beside_its_mirror_is_an_extra_test_of_it() -> None:
    modules = [Path("bot/routers/sms.py"), Path("bot/settings.py"), Path("bot/settings_parts.py")]
    assert extra_of(Path("tests/bot/routers/test_sms_fuzz.py"), modules) == Path("bot/routers/sms.py")
    assert extra_of(Path("tests/bot/test_settings_sms.py"), modules) == Path("bot/settings.py")
    assert extra_of(Path("tests/bot/test_settings_parts_more.py"), modules) == Path("bot/settings_parts.py")
    assert extra_of(Path("tests/bot/test_sms_fuzz.py"), modules) is None  # not beside bot/routers/sms.py
    assert extra_of(Path("tests/bot/test_browser.py"), modules) is None


def test_the_report_names_every_module_and_strict_fails_on_a_missing_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    report = capsys.readouterr().out
    assert "crm/db.py  ->  tests/crm/test_db.py" in report
    assert "source modules have a mirrored test module." in report
    missing = "MISSING" in report
    assert main(["--strict", "--missing"]) == (1 if missing else 0)
