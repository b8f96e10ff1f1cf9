"""Where the stack's CPU goes under load: the real stack (scratch SQLite CRM and tracker store),
20 concurrent conversations of scripts/bench.py, the CPU each process spent per message and,
optionally, a sampling profile of chosen processes by py-spy.

    .venv/bin/python scripts/profile_stack.py [--target rasa|gateway] [--concurrency 20] [--rounds 6]
        [--py-spy /path/to/py-spy --spy rasa --spy gateway]

py-spy is not a dependency of the project: install it where you like (`python3 -m venv
/tmp/tools && /tmp/tools/bin/pip install py-spy`) and pass its path. It samples the chosen
processes (`--gil`: only threads holding the GIL, i.e. Python's CPU, not waits) while the load
runs, and this prints the functions with the largest share of samples, inclusive and self, and
writes the raw samples to var/reports/spy-<process>.txt. Sampling slows the profiled process;
read shares, not absolute times, from a profiled run. `--wall` samples every thread, waits
included (py-spy `--idle`), for where one message's latency goes (with `--concurrency 1`).
docs/performance.md (fourth and fifth rounds) has what this found.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts import bench  # noqa: E402
from scripts.bench_stats import cpu_profile  # noqa: E402

_LINE = re.compile(r":\d+\)")


def aggregate(raw_lines: list[str]) -> tuple[int, collections.Counter[str], collections.Counter[str]]:
    """py-spy's raw (collapsed) output: (samples, inclusive samples per function, self samples per function).

    Each line is `process;frame;frame;... count`, outermost first. A function counts once per
    sample however often it recurses; line numbers are dropped so a function is one entry.
    """
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw_lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = [_LINE.sub(")", frame) for frame in stack.split(";")[1:]]
        for frame in set(frames):
            inclusive[frame] += samples
        if frames:
            own[frames[-1]] += samples
    return total, inclusive, own


def report(name: str, raw_lines: list[str], top: int = 40) -> str:
    total, inclusive, own = aggregate(raw_lines)
    if not total:
        return f"{name}: no samples"
    lines = [f"== {name}: {total} samples; inclusive"]
    lines += [f"{100 * n / total:5.1f}% {frame}" for frame, n in inclusive.most_common(top)]
    lines.append(f"== {name}: self")
    lines += [f"{100 * n / total:5.1f}% {frame}" for frame, n in own.most_common(top // 2)]
    return "\n".join(lines)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", choices=("rasa", "gateway"), default="gateway")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--py-spy", dest="py_spy", type=Path, help="path of a py-spy executable")
    parser.add_argument("--spy", action="append", default=[], help="process to sample: rasa, gateway, actions")
    parser.add_argument(
        "--wall",
        action="store_true",
        help="sample wall time (every thread, waits included: where a message's latency goes) instead of CPU",
    )
    args = parser.parse_args()

    from bot.supervisor import Stack, free_port
    from crm.db import session_scope
    from crm.demo import seed_demo
    from crm.migrate import upgrade

    work = Path(tempfile.mkdtemp(prefix="juniper-profile-"))
    env = {**os.environ, **bench.bench_env(work)}
    upgrade(env["DATABASE_URL"])
    with session_scope(env["DATABASE_URL"]) as session:
        seed_demo(session)
    stack = Stack(env=env, rasa_port=free_port(), action_port=free_port(), gateway_port=free_port(), quiet=True, log_dir=work / "logs")
    await stack.start()
    reports = ROOT / "var" / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    try:
        await stack.wait_healthy(240)
        if args.target == "rasa":
            target = bench.Target("rasa", urls=[stack.rasa_url], token=env["RASA_TOKEN"])
        else:
            target = bench.Target("gateway", gateway_port=stack.gateway_port, secret=env["WIDGET_IDENTITY_SECRET"])
        await bench.measure(target, 2, 1)  # warm-up
        pids = {name: proc.pid for name, proc in stack.processes.items()}
        before = {name: bench.cpu_seconds(pid) for name, pid in pids.items()}
        spies = {
            name: subprocess.Popen(
                [str(args.py_spy), "record", *(["--idle"] if args.wall else ["--gil"]), "-r", "200", "-f", "raw", "-o", str(reports / f"spy-{name}.txt"), "-p", str(pids[name])],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            for name in (args.spy if args.py_spy else [])
        }
        run = await bench.measure(target, args.concurrency, args.rounds)
        for spy in spies.values():
            spy.send_signal(2)  # py-spy writes its file on Ctrl-C
        for spy in spies.values():
            spy.wait(60)
        used = {name: bench.cpu_seconds(pid) - before[name] for name, pid in pids.items()}
        print(run.summary())
        print(cpu_profile(used, run.messages, os.cpu_count() or 1))
        for name in spies:
            print(report(name, (reports / f"spy-{name}.txt").read_text().splitlines()))
    finally:
        await stack.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
