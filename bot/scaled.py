"""Several Rasa servers on one or more machines: what `RASA_SERVERS=N` adds to the supervisor.

N Rasa servers and N action servers (Rasa server i calls action server i),
all on the shared PostgreSQL tracker store (TRACKER_STORE_URL) and Rasa's
Redis lock store (REDIS_URL, endpoints.scaled.yml), so any server can take
any conversation; the gateway spreads conversations over them (RASA_URLS,
bot/rasa_pool.py). With one server nothing here applies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

SCALED_ENDPOINTS = "endpoints.scaled.yml"


class ScaledConfigError(ValueError):
    """Settings that cannot run several Rasa servers (said in a sentence for the operator)."""


def server_count(env: Mapping[str, str]) -> int:
    raw = env.get("RASA_SERVERS", "1").strip() or "1"
    try:
        count = int(raw)
    except ValueError as exc:
        raise ScaledConfigError(f"RASA_SERVERS must be a whole number, not {raw!r}") from exc
    if not 1 <= count <= 16:
        raise ScaledConfigError("RASA_SERVERS must be between 1 and 16")
    return count


def check(env: Mapping[str, str]) -> None:
    """Several servers need stores they can share: a SQLite file or the in-memory lock store is per process."""
    tracker = env.get("TRACKER_STORE_URL", "")
    if not tracker.startswith("postgresql"):
        raise ScaledConfigError("RASA_SERVERS > 1 needs TRACKER_STORE_URL on PostgreSQL (postgresql+psycopg://...)")
    if not env.get("REDIS_URL", "").startswith("redis://"):
        raise ScaledConfigError("RASA_SERVERS > 1 needs REDIS_URL (redis://host:port/db) for Rasa's lock store")


def lock_store_env(redis_url: str) -> dict[str, str]:
    """endpoints.scaled.yml's REDIS_HOST/PORT/LOCK_DB from one REDIS_URL.

    The lock store gets the database after the gateway's (db n -> n+1), so
    Rasa's locks never share keys with the gateway's."""
    parts = urlsplit(redis_url)
    db = int((parts.path or "/0").lstrip("/") or 0)
    return {
        "REDIS_HOST": parts.hostname or "127.0.0.1",
        "REDIS_PORT": str(parts.port or 6379),
        "REDIS_LOCK_DB": str(db + 1),
    }


def instance(name: str) -> int:
    """0 for 'rasa'/'actions', i-1 for 'rasa-i'/'actions-i'."""
    _, sep, number = name.partition("-")
    return int(number) - 1 if sep and number.isdigit() else 0


def expand(
    commands: dict[str, list[str]],
    *,
    count: int,
    rasa_port: Callable[[int], int],
    action_port: Callable[[int], int],
) -> dict[str, list[str]]:
    """The one-server commands, with Rasa on the scaled endpoints and N of each server."""
    if count == 1:
        return commands
    rasa = [SCALED_ENDPOINTS if part == "endpoints.yml" else part for part in commands["rasa"]]
    out = dict(commands)
    out["rasa"] = rasa
    for i in range(1, count):
        port_flag = rasa.index("-p") + 1
        out[f"rasa-{i + 1}"] = [*rasa[:port_flag], str(rasa_port(i)), *rasa[port_flag + 1:]]
        out[f"actions-{i + 1}"] = list(commands["actions"])
    return out


def process_env(name: str, env: Mapping[str, str], *, action_port: Callable[[int], int]) -> dict[str, str]:
    """Rasa server i calls action server i; action server i listens on its own port."""
    out = dict(env)
    i = instance(name)
    if i and name.startswith("rasa"):
        out["ACTION_ENDPOINT_URL"] = f"http://127.0.0.1:{action_port(i)}/webhook"
    if i and name.startswith("actions"):
        out["ACTION_PORT"] = str(action_port(i))
    return out
