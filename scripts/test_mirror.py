"""Which source modules have a test module at the mirrored path.

For every module under bot/, actions/, crm/ and rasa_ext/ (packages' __init__.py and
Alembic's crm/migrations/ aside), prints whether tests/<same path>/test_<name>.py exists
(`__main__.py` is mirrored by test_main.py), then the test modules that mirror no source
module: extra tests of a module beside its mirror (tests/bot/routers/test_sms_fuzz.py for
bot/routers/sms.py), then the rest; then a summary:

    .venv/bin/python scripts/test_mirror.py            # the report
    .venv/bin/python scripts/test_mirror.py --missing  # only what is missing
    .venv/bin/python scripts/test_mirror.py --strict   # exit 1 if anything is missing
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "actions", "crm", "rasa_ext")
SKIPPED_DIRS = {"migrations", "__pycache__"}


def source_modules(root: Path = ROOT) -> Iterator[Path]:
    """Source modules, relative to `root`, in path order."""
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root)
            if path.name == "__init__.py" or SKIPPED_DIRS & set(relative.parts):
                continue
            yield relative


def mirrored_test(module: Path) -> Path:
    """tests/<package path>/test_<name>.py for <package path>/<name>.py."""
    name = "main" if module.stem == "__main__" else module.stem
    return Path("tests", *module.parent.parts, f"test_{name}.py")


def unmatched_tests(modules: list[Path], root: Path = ROOT) -> list[Path]:
    """Test modules under tests/<package>/ whose name follows no source module."""
    expected = {mirrored_test(m) for m in modules}
    found = [p.relative_to(root) for package in PACKAGES for p in sorted((root / "tests" / package).rglob("test_*.py"))]
    return [p for p in found if p not in expected]


def extra_of(test: Path, modules: list[Path]) -> Path | None:
    """The module whose extra tests `test` holds: test_<name>_<more>.py beside test_<name>.py."""
    stem = test.stem.removeprefix("test_")
    here = [m for m in modules if mirrored_test(m).parent == test.parent]
    named = [m for m in here if stem.startswith(mirrored_test(m).stem.removeprefix("test_") + "_")]
    return max(named, key=lambda m: len(m.stem), default=None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--missing", action="store_true", help="print only modules without a mirrored test")
    parser.add_argument("--strict", action="store_true", help="exit 1 if any module has no mirrored test")
    args = parser.parse_args(argv)

    modules = list(source_modules())
    missing = 0
    for module in modules:
        test = mirrored_test(module)
        present = (ROOT / test).is_file()
        missing += not present
        if not (args.missing and present):
            print(f"{'ok     ' if present else 'MISSING'}  {module}  ->  {test}")
    if not args.missing:
        unmatched = unmatched_tests(modules)
        extras = {test: extra_of(test, modules) for test in unmatched}
        print("\nextra test modules of a module, beside its mirror:")
        for test, module in extras.items():
            if module is not None:
                print(f"         {test}  ->  {module}")
        print("\ntest modules that mirror no source module (cross-cutting, or misplaced):")
        for test, module in extras.items():
            if module is None:
                print(f"         {test}")
    print(f"\n{len(modules) - missing} of {len(modules)} source modules have a mirrored test module.")
    return 1 if args.strict and missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
