"""Prometheus metrics, in a registry of the app's own (two apps in one test never collide)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.messages = Counter(
            "gateway_messages",
            "Messages through the gateway, by channel and direction (in: from customers).",
            ["channel", "direction"],
            registry=self.registry,
        )
        self.rasa_latency = Histogram(
            "gateway_rasa_latency_seconds",
            "Time Rasa took to answer one customer message, failures included.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0),
            registry=self.registry,
        )
        self.failures = Counter(
            "gateway_failures",
            "Customer messages the assistant could not answer, by kind "
            "(down, timeout, http_error, malformed, empty, lock, database).",
            ["kind"],
            registry=self.registry,
        )
        self.handoffs = Counter(
            "gateway_handoffs",
            "Conversations the assistant handed to staff.",
            ["channel"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "gateway_duplicates_dropped",
            "Inbound messages dropped because their channel message id was already stored.",
            ["channel"],
            registry=self.registry,
        )
        self.notices = Counter(
            "gateway_notices",
            "Order notices the shop sent first, by outcome (sent, deferred, suppressed, failed, dead, "
            "replied), reason (no_consent, quiet_hours, cap, merged, no_channel) and channel.",
            ["outcome", "reason", "channel"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "gateway_rate_limited",
            "Frames or connections refused by a rate limit, by scope (session, ip, connect).",
            ["scope"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "gateway_rejected_messages",
            "Customer messages refused or not passed to the assistant, by reason.",
            ["channel", "reason"],
            registry=self.registry,
        )
        self.turns_given_up = Counter(
            "gateway_turns_given_up",
            "Acknowledged customer messages that ended in an apology instead of an answer, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.turns_recovered = Counter(
            "gateway_turns_recovered",
            "Turns left open by a crash, deploy or database error and closed by the recovery pass, "
            "by how (replied: the answer was already stored; resumed: asked the assistant again; "
            "apologised; held: staff have the conversation; written: stored once the database was back; "
            "redelivered: a reply stored but never sent, sent after a restart).",
            ["how"],
            registry=self.registry,
        )
        self.active_websockets = Gauge(
            "gateway_active_websockets",
            "Open widget WebSocket connections.",
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
