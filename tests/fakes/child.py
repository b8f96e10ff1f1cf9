"""A small stand-in for a supervised child: a leader that forks a worker holding an HTTP port,
the way the action server (Sanic) does.

    python -m tests.fakes.child PORT RECORD_DIR NAME [--drain SECONDS --needs PORT]

The worker answers GET /health with 200 (503 while RECORD_DIR/NAME.sick exists).
On SIGTERM the leader (with --drain) waits, then records whether the port given
by --needs still answered during its drain, then stops its worker and exits.
Each start appends the leader's and the worker's pids to RECORD_DIR/NAME.pids.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path


def _serve(port: int, sick: Path) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(503 if sick.exists() else 200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    HTTPServer(("127.0.0.1", port), Handler).serve_forever()


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("record", type=Path)
    parser.add_argument("name")
    parser.add_argument("--drain", type=float, default=0.0)
    parser.add_argument("--needs", type=int)
    args = parser.parse_args()
    sick = args.record / f"{args.name}.sick"
    worker = os.fork()
    if worker == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _serve(args.port, sick)
        os._exit(0)
    with (args.record / f"{args.name}.pids").open("a") as pids:
        pids.write(f"{os.getpid()} {worker}\n")

    def stop(*_: object) -> None:
        if args.drain:
            began = time.monotonic()
            seen = []
            while time.monotonic() - began < args.drain:
                seen.append(_answers(args.needs) if args.needs else True)
                time.sleep(0.1)
            (args.record / f"{args.name}.drained").write_text("ok" if all(seen) else "peer gone")
        os.kill(worker, signal.SIGKILL)
        os.waitpid(worker, 0)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    while True:
        # The leader lives as long as its worker does (as Sanic's manager would, or not).
        time.sleep(0.2)


if __name__ == "__main__":
    main()
