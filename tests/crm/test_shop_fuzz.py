"""Property-based: any shop.yml an owner can write either loads or says what is
wrong (ShopProfileError); a profile that loads always answers "are you open?"."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.settings import PROJECT_ROOT
from crm.shop import ShopProfile, ShopProfileError, load_shop_profile

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
REAL = yaml.safe_load((PROJECT_ROOT / "shop.yml").read_text(encoding="utf-8"))

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
    | st.sampled_from(["09:00-17:30", "closed", "25:00-26:00", "17:00-09:00", "Mars/Olympus", "2026-02-30"])
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            found += paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += paths(value, (*prefix, index))
    return found


PATHS = paths(REAL)[1:]
# A new file each time: the loader caches by path and modification time.
_NAMES = itertools.count()


def mutated(path: tuple[Any, ...], value: Any, delete: bool) -> Any:
    data = yaml.safe_load(yaml.safe_dump(REAL))
    node = data
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


def check(file: Path, text: str) -> None:
    file.write_text(text, encoding="utf-8")
    try:
        profile = load_shop_profile(file)
    except ShopProfileError as exc:
        assert str(exc)
        return
    assert isinstance(profile, ShopProfile)
    now = datetime(2026, 12, 6, 15, 0, tzinfo=UTC)
    assert profile.is_open(now) in (True, False)
    try:
        assert profile.next_opening(now) >= now
    except ValueError as exc:  # a shop that never opens says so
        assert "no opening hours" in str(exc)


def test_any_edit_of_the_real_profile_loads_or_is_refused_clearly(tmp_path: Path) -> None:
    @FUZZ
    @given(path=st.sampled_from(PATHS), value=values, delete=st.booleans())
    def run(path: tuple[Any, ...], value: Any, delete: bool) -> None:
        check(tmp_path / f"shop{next(_NAMES)}.yml", yaml.safe_dump(mutated(path, value, delete), allow_unicode=True))

    run()


def test_any_text_as_a_profile_is_refused_clearly(tmp_path: Path) -> None:
    @FUZZ
    @given(text=st.text(max_size=300))
    def run(text: str) -> None:
        check(tmp_path / f"shop{next(_NAMES)}.yml", text)

    run()
