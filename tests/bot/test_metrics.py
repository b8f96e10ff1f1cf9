"""bot/metrics.py: the gateway's Prometheus metrics, in a registry of each app's own."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from bot.metrics import CONTENT_TYPE, Metrics


def test_each_metrics_object_counts_on_its_own() -> None:
    first, second = Metrics(), Metrics()  # a second registry: no "duplicated timeseries" error
    first.messages.labels("web", "in").inc()
    first.rejected.labels("sms", "bad_signature").inc(2)
    assert first.registry.get_sample_value("gateway_messages_total", {"channel": "web", "direction": "in"}) == 1
    assert second.registry.get_sample_value("gateway_messages_total", {"channel": "web", "direction": "in"}) is None
    assert (
        first.registry.get_sample_value(
            "gateway_rejected_messages_total", {"channel": "sms", "reason": "bad_signature"}
        )
        == 2
    )


def test_render_is_prometheus_text_with_every_family_and_its_help() -> None:
    metrics = Metrics()
    metrics.rasa_latency.observe(0.3)
    metrics.active_websockets.inc()
    families = {f.name: f for f in text_string_to_metric_families(metrics.render().decode())}
    assert {name for name in families if not name.endswith("_created")} == {
        "gateway_messages", "gateway_rasa_latency_seconds", "gateway_failures", "gateway_handoffs",
        "gateway_duplicates_dropped", "gateway_notices", "gateway_rate_limited", "gateway_rejected_messages",
        "gateway_turns_given_up", "gateway_turns_recovered", "gateway_active_websockets",
    }  # fmt: skip
    assert all(family.documentation for family in families.values())
    latency = {s.name: s.value for s in families["gateway_rasa_latency_seconds"].samples if not s.labels.get("le")}
    assert latency == {"gateway_rasa_latency_seconds_count": 1.0, "gateway_rasa_latency_seconds_sum": 0.3}
    assert [s.value for s in families["gateway_active_websockets"].samples] == [1.0]
    assert CONTENT_TYPE.startswith("text/plain; version=0.0.4")
