"""An ASGI app of a test on uvicorn, on 127.0.0.1 and a free port: on the test's own event
loop, or on a loop of its own in a thread (for sync clients and other processes).
Used by the gateway, fake Telegram and fake shop starters."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import uvicorn

STARTUP_SECONDS = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def uvicorn_server(app: Any, port: int, *, lifespan: str = "off", **config: Any) -> uvicorn.Server:
    return uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan=lifespan, **config
        )
    )


async def start_here(server: uvicorn.Server, what: str) -> asyncio.Task[None]:
    """Serve on this event loop; stop with `server.should_exit = True` and await the task."""
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + STARTUP_SECONDS
    while not server.started:
        if task.done():
            task.result()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not start")
        await asyncio.sleep(0.01)
    return task


def start_thread(server: uvicorn.Server, what: str) -> threading.Thread:
    """Serve from a daemon thread with its own loop; stop with `should_exit` and join the thread."""
    thread = threading.Thread(target=server.run, daemon=True, name=what)
    thread.start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.01)
    return thread


@asynccontextmanager
async def served_here(app: Any, what: str) -> AsyncIterator[int]:
    """`app` served on this event loop for the block; yields its port."""
    port = free_port()
    server = uvicorn_server(app, port)
    task = await start_here(server, what)
    try:
        yield port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


@contextmanager
def served_in_thread(app: Any, what: str) -> Iterator[int]:
    """`app` served from a thread for the block; yields its port."""
    port = free_port()
    server = uvicorn_server(app, port)
    thread = start_thread(server, what)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)
