"""The benchmark's arithmetic on numbers whose answers are known."""

from __future__ import annotations

import json
import math
from pathlib import Path

from scripts.bench_stats import Run, build_report, cpu_profile, percentile, ratios, table, write_report


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == 50
    assert percentile(values, 95) == 95
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([7.0], 99) == 7.0
    assert percentile(list(reversed(values)), 95) == 95  # order of arrival does not matter
    assert math.isnan(percentile([], 50))


def test_run_summary_in_milliseconds_and_messages_per_second() -> None:
    run = Run(latencies=[0.010] * 90 + [0.100] * 9 + [1.0], messages=100, seconds=4.0, failures=2)
    summary = run.summary()
    assert summary["p50_ms"] == 10.0
    assert summary["p95_ms"] == 100.0
    assert summary["p99_ms"] == 100.0
    assert summary["mean_ms"] == round((0.010 * 90 + 0.100 * 9 + 1.0) * 10, 1)  # (sum*1000)/100
    assert summary["msgs_per_s"] == 25.0
    assert summary["failures"] == 2


def _result(msgs_per_s: float, p50: float = 20.0, p95: float = 200.0, p99: float = 400.0) -> dict[str, float]:
    return {"messages": 10, "failures": 0, "msgs_per_s": msgs_per_s, "p50_ms": p50, "p95_ms": p95, "p99_ms": p99, "mean_ms": p50}


def test_ratios_and_targets() -> None:
    results = {
        "default_concurrent": _result(40.0),
        "rasa_concurrent": _result(50.0),
        "rasa2_concurrent": _result(70.0),
        "gateway_concurrent": _result(44.0, p95=900.0),
        "rasa_sequential": _result(1.0, p50=25.0),
        "gateway_sequential": _result(1.0, p50=30.0),
        "gateway_rate20": _result(20.0, p95=250.0, p99=900.0),
    }
    the_ratios = ratios(results)
    assert the_ratios["stack_over_default_rasa_concurrent"] == 1.1
    assert the_ratios["rasa2_over_rasa1_concurrent"] == 1.4
    assert the_ratios["gateway_p50_over_rasa_p50_sequential"] == 1.2
    report = build_report(date="d", machine="m", load="1 1 1", results=results, rss_mb={"rasa": 900.0, "rasa_second": 1100.0, "rasa_default_bot": 500.0}, startup_s=14.0)
    targets = report["targets"]
    assert targets["stack >= 1.0x default bot msg/s at 20 concurrent"] is True
    assert targets["stack p95 <= 800 ms at 20 concurrent"] is False
    assert targets["stack p95 <= 300 ms at 20 msg/s"] is True
    assert targets["stack p99 <= 800 ms at 20 msg/s"] is False
    assert targets["stack sequential p50 <= 40 ms"] is True
    assert targets["2 Rasa servers >= 1.5x one at 20 concurrent"] is False
    assert targets["start to first answer <= 15 s"] is True
    assert targets["Rasa <= 1.0 GB RSS"] is False  # the largest Rasa process counts
    small = build_report(date="d", machine="m", load="", results=results, rss_mb={"rasa": 900.0, "rasa_default_bot": 1300.0}, startup_s=14.0)
    assert small["targets"]["Rasa <= 1.0 GB RSS"] is True  # the default bot is not this project's Rasa


def test_missing_runs_are_not_measured_not_passed() -> None:
    report = build_report(date="d", machine="m", load="", results={"gateway_concurrent": _result(10.0)}, rss_mb={}, startup_s=20.0)
    assert report["ratios"]["stack_over_default_rasa_concurrent"] is None
    assert report["targets"]["stack >= 1.0x default bot msg/s at 20 concurrent"] is None
    assert report["targets"]["Rasa <= 1.0 GB RSS"] is None


def test_written_json_has_the_required_keys_and_no_nan(tmp_path: Path) -> None:
    results = {
        "default_concurrent": _result(40.0),
        "gateway_concurrent": _result(20.0),
        "gateway_rate20": _result(20.0),
        "gateway_sequential": Run().summary(),  # nothing measured: NaN percentiles
    }
    report = build_report(date="d", machine="m", load="", results=results, rss_mb={"rasa": 800.0}, startup_s=12.5)
    path = tmp_path / "reports" / "bench.json"
    write_report(report, path)
    data = json.loads(path.read_text())  # strict JSON: NaN would not parse in other readers
    assert "NaN" not in path.read_text()
    assert data["ratios"]["stack_over_default_rasa_concurrent"] == 0.5
    assert data["results"]["gateway_concurrent"]["p95_ms"] == 200.0
    assert data["results"]["gateway_rate20"]["p95_ms"] == 200.0
    assert data["results"]["gateway_rate20"]["p99_ms"] == 400.0
    assert data["results"]["gateway_sequential"]["p50_ms"] is None
    assert data["rss_mb"] == {"rasa": 800.0}
    assert data["startup_to_first_answer_s"] == 12.5
    assert "gateway_rate20" in table(report)


def test_cpu_profile_gives_each_process_per_message_and_the_cores_ceiling() -> None:
    profile = cpu_profile({"rasa": 2.0, "gateway": 1.0, "bench_client": 0.5}, messages=100, cores=2)
    assert profile["cpu_ms_per_msg"] == {"rasa": 20.0, "gateway": 10.0, "bench_client": 5.0}
    assert profile["cpu_ms_per_msg_total"] == 35.0
    assert profile["cores_ceiling_msgs_per_s"] == 57.1  # 2 cores x 1000 ms / 35 ms
    assert cpu_profile({"rasa": 1.0}, messages=0, cores=2) == {}


def test_the_two_server_ceiling_is_reported_beside_the_measured_ratio() -> None:
    one = {**_result(40.0), **cpu_profile({"rasa": 0.8, "actions": 0.1}, messages=40, cores=2)}
    two = {**_result(50.0), **cpu_profile({"rasa": 0.8, "rasa_second": 0.3, "actions": 0.1}, messages=40, cores=2)}
    report = build_report(date="d", machine="m", load="", results={"rasa_concurrent": one, "rasa2_concurrent": two}, rss_mb={}, startup_s=10.0)
    assert report["ratios"]["rasa2_over_rasa1_concurrent"] == 1.25
    # 30 ms a message on 2 cores: at most 66.7 msg/s, 1.67x the one server's 40.
    assert report["ratios"]["rasa2_cores_ceiling_over_rasa1_concurrent"] == 1.67
    assert "rasa_second=7.5" in table(report)
