"""One aiohttp session per event loop for Rasa's outgoing calls (a patch of Rasa 3.6, see rasa_ext.serve).

Rasa 3.6's `EndpointConfig.request` (rasa/utils/endpoints.py), which every
custom action call to the action server goes through, does
`async with self.session() as session:` and so opens a new `ClientSession`
(its own connection pool) for each call and closes it after: one to three new
TCP connections per customer turn, each set up and torn down. `install()`
replaces `EndpointConfig.session` with one that hands back a session kept per
event loop and per (headers, basic auth), in a context manager that leaves it
open; its connections are reused (aiohttp's keep-alive, 15 s idle, well under
the action server's 120 s, so the client always lets go of an idle connection
first). Rasa's two callers of `session()` (`request`, and the model-server pull
in rasa/core/agent.py) both use it that way. The kept sessions close when Rasa's
server stops (`rasa.core.run.close_resources`).

The patch point is this one method: on a Rasa upgrade, check that
`EndpointConfig.request` still opens its session with `async with self.session()`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

_originals: dict[str, Any] = {}
_sessions: dict[tuple[Any, ...], aiohttp.ClientSession] = {}


class _Kept:
    """`async with` gives the kept session and leaves it open."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self._session

    async def __aexit__(self, *_exc: Any) -> None:
        return None


def _key(endpoint: Any, loop: asyncio.AbstractEventLoop) -> tuple[Any, ...]:
    headers = tuple(sorted((str(k), str(v)) for k, v in (endpoint.headers or {}).items()))
    auth = tuple(sorted((endpoint.basic_auth or {}).items()))
    return (id(loop), headers, auth)


def kept_session(endpoint: Any, new_session: Any) -> _Kept:
    """The kept session for `endpoint` on the running loop (made with `new_session(endpoint)` at first)."""
    loop = asyncio.get_running_loop()
    key = _key(endpoint, loop)
    session = _sessions.get(key)
    # A session belongs to the loop it was made on (aiohttp's own `_loop`).
    if session is None or session.closed or session._loop is not loop:  # noqa: SLF001
        session = new_session(endpoint)
        _sessions[key] = session
    return _Kept(session)


async def close_all() -> None:
    """Close the kept sessions of the running loop (the others belong to loops already gone)."""
    loop = asyncio.get_running_loop()
    for key, session in list(_sessions.items()):
        if key[0] == id(loop):
            del _sessions[key]
            await session.close()


def install() -> None:
    """Patch Rasa's EndpointConfig.session and close_resources (once per process)."""
    if _originals:
        return
    import rasa.core.run
    from rasa.utils.endpoints import EndpointConfig

    new_session = _originals["session"] = EndpointConfig.session

    def session(self: EndpointConfig) -> Any:
        return kept_session(self, new_session)

    EndpointConfig.session = session  # type: ignore[method-assign]

    close_resources = _originals["close_resources"] = rasa.core.run.close_resources

    async def close_resources_and_sessions(app: Any, loop: Any) -> None:
        try:
            await close_resources(app, loop)
        finally:
            await close_all()

    rasa.core.run.close_resources = close_resources_and_sessions


def uninstall() -> None:
    """Rasa as it was (for checks and profiles that compare)."""
    if not _originals:
        return
    import rasa.core.run
    from rasa.utils.endpoints import EndpointConfig

    EndpointConfig.session = _originals.pop("session")  # type: ignore[method-assign]
    rasa.core.run.close_resources = _originals.pop("close_resources")
