"""`rasa run` with the API token from the environment, not the command line.

`rasa run --auth-token TOKEN` puts the token in /proc/<pid>/cmdline, where
every local user sees it with `ps`. Rasa reads the token only from that flag,
so this entry point adds it to Rasa's own argument list inside the process:
`python -m rasa_ext.serve run --model ... --enable-api` with RASA_TOKEN set.
The process's visible command line never holds it.

It also installs four patches that make a turn cheaper, each documented in
its module with its patch point: rasa_ext.http_session (one kept HTTP session
for the action calls instead of a new one per call), rasa_ext.action_validation
(the action server's answers checked with a schema validator built once, not
rebuilt and re-checked on every call), rasa_ext.graph_runner (the model's
graph run in order, without dask's scheduler) and rasa_ext.rule_policy (rules
matched against the last states only as far as the longest rule reaches).
"""

from __future__ import annotations

import os
import sys

MIN_TOKEN_CHARS = 16


def rasa_arguments(argv: list[str], token: str) -> list[str]:
    if any(arg == "--auth-token" or arg.startswith("--auth-token=") for arg in argv):
        raise SystemExit("Pass the API token as RASA_TOKEN, not --auth-token (the command line is public).")
    if len(token) < MIN_TOKEN_CHARS:
        raise SystemExit(f"RASA_TOKEN must be set ({MIN_TOKEN_CHARS}+ characters): it guards Rasa's HTTP API.")
    return ["rasa", *argv, "--auth-token", token]


def main() -> None:
    sys.argv = rasa_arguments(sys.argv[1:], os.environ.get("RASA_TOKEN", ""))
    # skops (the intent classifier's safe model format) works out its trusted
    # types at import by scanning every loaded module: 1.5 s on its own, 5 s
    # once Rasa has loaded TensorFlow's thousands. So it comes first.
    import skops.io  # noqa: F401

    from rasa.__main__ import main as rasa_main

    install_patches()
    rasa_main()


def install_patches() -> None:
    """The patches Rasa runs with here (also what scripts/profile_turn.py profiles)."""
    from rasa_ext import action_validation, graph_runner, http_session, rule_policy

    http_session.install()
    action_validation.install()
    graph_runner.install()
    rule_policy.install()


if __name__ == "__main__":
    main()
