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


def _webhook(on_new_message: object, store: object) -> tuple[object, object]:
    """The channel's POST /webhook handler, called as Sanic would with a request for sender c1."""
    import asyncio
    import json
    from types import SimpleNamespace

    from rasa_ext.channel import GatewayInput

    token = "gateway-token-0123456789abcdef"
    blueprint = GatewayInput(token).blueprint(on_new_message)  # type: ignore[arg-type]
    handler = next(r.handler for r in blueprint._future_routes if r.uri == "/webhook")
    request = SimpleNamespace(
        headers={"Authorization": "Bearer " + token},
        json={"sender": "c1", "message": "where is it", "metadata": {"channel": "web"}},
        app=SimpleNamespace(ctx=SimpleNamespace(agent=SimpleNamespace(tracker_store=store))),
    )
    answer = asyncio.run(handler(request))
    header = answer.headers.get("X-Nlu-Parse")
    return json.loads(answer.body), (json.loads(header) if header else None)


def _turn_events() -> list:
    from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered

    ranking = [{"name": "track_order", "confidence": 0.9}, {"name": "greet", "confidence": 0.1}]
    return [
        ActionExecuted("action_listen"),
        UserUttered("where is it", {"name": "track_order", "confidence": 0.9}, parse_data={"intent_ranking": ranking}),
        BotUttered("It shipped."),
    ]


def check_the_parse_comes_from_the_turns_own_save_without_loading_the_tracker_again(directory) -> None:
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    from rasa_ext.tracker_store import ErasingSQLTrackerStore

    store = ErasingSQLTrackerStore(domain=Domain.empty(), url=f"sqlite:///{directory / 'rasa.db'}")

    async def on_new_message(message) -> None:  # type: ignore[no-untyped-def]
        await store.save(DialogueStateTracker.from_events(message.sender_id, _turn_events()))
        await message.output_channel.send_text_message(message.sender_id, "It shipped.")

    class NoSecondLoad:
        async def retrieve(self, sender_id: str) -> None:
            raise AssertionError("the tracker was loaded again after the turn")

    body, parse = _webhook(on_new_message, NoSecondLoad())
    assert body == [{"recipient_id": "c1", "text": "It shipped."}], body
    assert parse == {"intent": "track_order", "confidence": 0.9, "ranking": [["track_order", 0.9], ["greet", 0.1]]}, parse


def check_a_store_that_notes_nothing_still_gets_the_parse_by_loading_the_tracker() -> None:
    from rasa.core.tracker_store import InMemoryTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    store = InMemoryTrackerStore(Domain.empty())

    async def on_new_message(message) -> None:  # type: ignore[no-untyped-def]
        await store.save(DialogueStateTracker.from_events(message.sender_id, _turn_events()))

    body, parse = _webhook(on_new_message, store)
    assert body == [], body
    assert parse is not None and parse["intent"] == "track_order", parse


run_checks(globals())
