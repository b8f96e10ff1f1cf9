"""crm.services.insights_sql: the SQL helpers behind the insights figures."""

from __future__ import annotations

from crm.services.insights_sql import percentile


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([1, 2, 3, 4], 0.5) == 2
    assert percentile(list(range(1, 11)), 0.9) == 9
    assert percentile([7], 0.9) == 7
