"""Checks of rasa_ext/http_session.py (one kept HTTP session for Rasa's action calls), run inside
`.venv-rasa` (tests/rasa_env/; test_http_session.py makes each a test).
"""

from __future__ import annotations

from tests.rasa_env.inside import run_checks


async def _calls(count: int) -> tuple[list[object], int]:
    """`count` action-style calls through Rasa's EndpointConfig to a local server; (answers, connections it saw)."""
    from aiohttp import web
    from rasa.utils.endpoints import EndpointConfig

    peers: set[object] = set()

    async def webhook(request: web.Request) -> web.Response:
        assert request.headers["Authorization"] == "Bearer kept-session-token"
        peers.add(request.transport.get_extra_info("peername") if request.transport else None)
        return web.json_response({"events": [], "responses": [await request.json()]})

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    endpoint = EndpointConfig(
        url=f"http://127.0.0.1:{port}/webhook", headers={"Authorization": "Bearer kept-session-token"}
    )
    try:
        answers = [await endpoint.request(json={"n": n}, method="post") for n in range(count)]
    finally:
        from rasa_ext import http_session

        await http_session.close_all()
        await runner.cleanup()
    return answers, len(peers)


def check_rasa_opens_a_connection_per_call_without_the_patch() -> None:
    import asyncio

    from rasa_ext import http_session

    http_session.uninstall()
    answers, connections = asyncio.run(_calls(3))
    assert answers == [{"events": [], "responses": [{"n": n}]} for n in range(3)], answers
    assert connections == 3, connections


def check_action_calls_share_one_connection_once_installed() -> None:
    import asyncio

    from rasa_ext import http_session

    http_session.install()
    try:
        answers, connections = asyncio.run(_calls(3))
        assert answers == [{"events": [], "responses": [{"n": n}]} for n in range(3)], answers
        assert connections == 1, connections
        # A new event loop (a restarted server) gets a session of its own, not the closed one.
        answers, connections = asyncio.run(_calls(2))
        assert len(answers) == 2 and connections == 1, (answers, connections)
    finally:
        http_session.uninstall()


def check_close_resources_closes_the_kept_sessions() -> None:
    import asyncio

    import rasa.core.run
    from rasa.utils.endpoints import EndpointConfig

    from rasa_ext import http_session

    original = rasa.core.run.close_resources
    http_session.install()
    try:
        assert rasa.core.run.close_resources is not original

        async def scenario() -> bool:
            endpoint = EndpointConfig(url="http://127.0.0.1:9/unused")
            async with endpoint.session() as session:
                pass
            assert not session.closed  # kept after the `async with`
            await rasa.core.run.close_resources(type("App", (), {"ctx": object()})(), None)
            return session.closed

        assert asyncio.run(scenario())
    finally:
        http_session.uninstall()
    assert rasa.core.run.close_resources is original


run_checks(globals())
