"""The benchmark's arithmetic and report: percentiles, summaries, ratios, the
JSON file and the printed table. Kept apart from scripts/bench.py (which
starts servers) so tests/scripts/test_bench_stats.py can check it on
synthetic numbers."""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of `values`; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Run:
    """One load against one target: latencies in seconds, wall time of the whole run."""

    latencies: list[float] = field(default_factory=list)
    messages: int = 0
    seconds: float = 0.0
    failures: int = 0

    def summary(self) -> dict[str, float]:
        ms = [x * 1000 for x in self.latencies]
        return {
            "messages": self.messages,
            "failures": self.failures,
            "p50_ms": round(percentile(ms, 50), 1),
            "p95_ms": round(percentile(ms, 95), 1),
            "p99_ms": round(percentile(ms, 99), 1),
            "mean_ms": round(statistics.fmean(ms), 1) if ms else math.nan,
            "msgs_per_s": round(self.messages / self.seconds, 2) if self.seconds else 0.0,
        }


def cpu_profile(cpu_seconds: dict[str, float], messages: int, cores: int) -> dict[str, Any]:
    """CPU per message of each process during one run, and the most msg/s these cores could give
    at that cost if every process ran in parallel with no wait (`cores` x 1000 / total ms)."""
    if not messages:
        return {}
    per_message = {name: round(1000 * seconds / messages, 2) for name, seconds in cpu_seconds.items()}
    total = sum(per_message.values())
    return {
        "cpu_ms_per_msg": per_message,
        "cpu_ms_per_msg_total": round(total, 2),
        "cores_ceiling_msgs_per_s": round(cores * 1000 / total, 1) if total else math.nan,
    }


def ratio(numerator: float, denominator: float) -> float | None:
    if not denominator or math.isnan(denominator) or math.isnan(numerator):
        return None
    return round(numerator / denominator, 2)


def ratios(results: dict[str, dict[str, float]]) -> dict[str, float | None]:
    def get(name: str, key: str) -> float:
        return results.get(name, {}).get(key, math.nan)

    return {
        "stack_over_default_rasa_concurrent": ratio(get("gateway_concurrent", "msgs_per_s"), get("default_concurrent", "msgs_per_s")),
        "rasa_over_default_rasa_concurrent": ratio(get("rasa_concurrent", "msgs_per_s"), get("default_concurrent", "msgs_per_s")),
        "stack_over_rasa_concurrent": ratio(get("gateway_concurrent", "msgs_per_s"), get("rasa_concurrent", "msgs_per_s")),
        "rasa2_over_rasa1_concurrent": ratio(get("rasa2_concurrent", "msgs_per_s"), get("rasa_concurrent", "msgs_per_s")),
        # The most two servers could give over one on these cores, at the CPU a message cost.
        "rasa2_cores_ceiling_over_rasa1_concurrent": ratio(
            get("rasa2_concurrent", "cores_ceiling_msgs_per_s"), get("rasa_concurrent", "msgs_per_s")
        ),
        "gateway_p50_over_rasa_p50_sequential": ratio(get("gateway_sequential", "p50_ms"), get("rasa_sequential", "p50_ms")),
    }


def targets(results: dict[str, dict[str, float]], the_ratios: dict[str, float | None], startup_s: float, rss_mb: dict[str, float]) -> dict[str, bool | None]:
    """The issue's targets, met (True), missed (False) or not measured (None)."""

    def at_most(name: str, key: str, limit: float) -> bool | None:
        value = results.get(name, {}).get(key)
        return None if value is None or math.isnan(value) else value <= limit

    def at_least(value: float | None, limit: float) -> bool | None:
        return None if value is None else value >= limit

    # This project's Rasa servers, not the default bot it is compared with.
    rasa_rss = [v for k, v in rss_mb.items() if k == "rasa" or k.startswith("rasa-") or k == "rasa_second"]
    return {
        "stack >= 1.0x default bot msg/s at 20 concurrent": at_least(the_ratios["stack_over_default_rasa_concurrent"], 1.0),
        "stack p95 <= 800 ms at 20 concurrent": at_most("gateway_concurrent", "p95_ms", 800),
        "stack p95 <= 300 ms at 20 msg/s": at_most("gateway_rate20", "p95_ms", 300),
        "stack p99 <= 800 ms at 20 msg/s": at_most("gateway_rate20", "p99_ms", 800),
        "stack sequential p50 <= 40 ms": at_most("gateway_sequential", "p50_ms", 40),
        "2 Rasa servers >= 1.5x one at 20 concurrent": at_least(the_ratios["rasa2_over_rasa1_concurrent"], 1.5),
        "start to first answer <= 15 s": None if startup_s is None else startup_s <= 15,
        "Rasa <= 1.0 GB RSS": None if not rasa_rss else max(rasa_rss) <= 1024,
    }


def build_report(*, date: str, machine: str, load: str, results: dict[str, dict[str, float]], rss_mb: dict[str, float], startup_s: float) -> dict[str, Any]:
    the_ratios = ratios(results)
    return {
        "date": date,
        "machine": machine,
        "load_average_at_start": load,
        "results": results,
        "rss_mb": rss_mb,
        "startup_to_first_answer_s": startup_s,
        "ratios": the_ratios,
        "targets": targets(results, the_ratios, startup_s, rss_mb),
    }


def write_report(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # NaN is not JSON: a run that measured nothing says null.
    path.write_text(json.dumps(_no_nan(report), indent=2) + "\n")


def _no_nan(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nan(v) for v in value]
    return value


def table(report: dict[str, Any]) -> str:
    lines = [
        f"{'run':28} {'msgs':>6} {'fail':>5} {'msg/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
        f" {'CPU ms/msg':>10} {'ceiling':>8}  CPU ms/msg by process"
    ]
    for name, r in report["results"].items():
        by_process = " ".join(f"{k}={v}" for k, v in r.get("cpu_ms_per_msg", {}).items())
        lines.append(
            f"{name:28} {r['messages']:>6} {r['failures']:>5} {r['msgs_per_s']:>8.1f} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} {r['p99_ms']:>8.1f}"
            f" {r.get('cpu_ms_per_msg_total', math.nan):>10.1f} {r.get('cores_ceiling_msgs_per_s', math.nan):>8.1f}  {by_process}"
        )
    lines.append("")
    lines.extend(f"{k:45} {v}" for k, v in report["ratios"].items())
    lines.append(f"{'start to first answer (s)':45} {report['startup_to_first_answer_s']}")
    lines.extend(f"{'RSS ' + k + ' (MiB)':45} {v}" for k, v in report["rss_mb"].items())
    lines.append("")
    verdict = {True: "met", False: "MISSED", None: "not measured"}
    lines.extend(f"{k:50} {verdict[v]}" for k, v in report["targets"].items())
    return "\n".join(lines)
