"""Checks of rasa_ext/channel.py (the gateway's channel in Rasa), run inside `.venv-rasa`
(tests/rasa_env/; test_channel.py makes each a test).
"""

from __future__ import annotations

from tests.rasa_env.inside import run_checks


def check_gateway_channel_reports_how_the_message_was_read() -> None:
    import asyncio
    from types import SimpleNamespace

    from rasa.core.tracker_store import InMemoryTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import UserUttered

    from rasa_ext.channel import GatewayInput, parse_summary

    assert parse_summary(None) is None
    assert parse_summary({"intent": {"name": None}}) is None
    store = InMemoryTrackerStore(Domain.empty())
    tracker = store.init_tracker("c1")
    ranking = [{"name": n, "confidence": c} for n, c in [("track_order", 0.81234), ("delivery_info", 0.1), ("greet", 0.05), ("deny", 0.04)]]
    tracker.update(UserUttered("where is it", {"name": "track_order", "confidence": 0.81234}, parse_data={"intent_ranking": ranking}))
    asyncio.run(store.save(tracker))
    request = SimpleNamespace(app=SimpleNamespace(ctx=SimpleNamespace(agent=SimpleNamespace(tracker_store=store))))
    summary = asyncio.run(GatewayInput._parse_of(request, "c1"))  # type: ignore[arg-type]
    assert summary == {
        "intent": "track_order",
        "confidence": 0.8123,
        "ranking": [["track_order", 0.8123], ["delivery_info", 0.1], ["greet", 0.05]],
    }, summary
    assert asyncio.run(GatewayInput._parse_of(request, "nobody")) is None  # type: ignore[arg-type]
def check_gateway_channel_refuses_a_non_ascii_token_without_raising() -> None:
    from rasa_ext.channel import GatewayInput

    class _Request:
        def __init__(self, authorization: str) -> None:
            self.headers = {"Authorization": authorization}

    token = "gateway-token-0123456789abcdef"
    channel = GatewayInput(token)
    # compare_digest raises TypeError on non-ASCII str: that was a 500, not a 403.
    for guess in ("Bearer é" + token, "Bearer \udcff", "Bearer 😀"):
        assert channel._authorised(_Request(guess)) is False
    assert channel._authorised(_Request("Bearer " + token)) is True


run_checks(globals())
