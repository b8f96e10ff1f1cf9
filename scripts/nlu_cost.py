"""Accuracy, parse latency and memory of a trained model on held-out NLU files.

Run with the Rasa environment, one model at a time:
  PYTHONPATH=. .venv-rasa/bin/python scripts/nlu_cost.py models/assistant.tar.gz tests/nlu/paraphrases.yml ...
Prints, per file, the share of messages whose top intent is the labelled one
(a fallback counts as wrong), then the mean and 95th-percentile parse time in
milliseconds per message
(NLU_SHOW_MISSES=1 also lists every misunderstood message) (in-process, one message at a time, as the server
parses) and the process's peak resident memory after loading and parsing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import sys
import time
from collections import Counter
from pathlib import Path

import yaml


def _examples(path: Path) -> list[tuple[str, str]]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    pairs = []
    for item in document.get("nlu", []):
        for line in (item.get("examples") or "").splitlines():
            line = line.strip()
            if "intent" in item and line.startswith("- "):
                pairs.append((item["intent"], line[2:].strip()))
    return pairs


async def _main(model: str, files: list[str]) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from rasa.core.agent import Agent
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    # Debug logging of every parse would be timed too.
    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)

    agent = Agent.load(model)
    await agent.parse_message("hello")  # first call builds lazy state
    timings: list[float] = []
    for name in files:
        pairs = _examples(Path(name))
        wrong: Counter[tuple[str, str]] = Counter()
        right = 0
        for intent, text in pairs:
            start = time.perf_counter()
            parsed = await agent.parse_message(text)
            timings.append((time.perf_counter() - start) * 1000)
            predicted = parsed["intent"]["name"]
            if predicted == intent:
                right += 1
            else:
                wrong[(intent, predicted)] += 1
                if os.environ.get("NLU_SHOW_MISSES"):
                    print(f"  miss: {intent} -> {predicted} ({parsed['intent']['confidence']:.2f}): {text}")
        print(f"{name}: {right}/{len(pairs)} = {100 * right / len(pairs):.1f} %")
        for (gold, predicted), count in wrong.most_common(12):
            print(f"    {gold} -> {predicted}: {count}")
    timings.sort()
    mean = sum(timings) / len(timings)
    p95 = timings[int(0.95 * (len(timings) - 1))]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"parse: mean {mean:.1f} ms, p95 {p95:.1f} ms over {len(timings)} messages; peak RSS {rss:.0f} MiB")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    asyncio.run(_main(sys.argv[1], sys.argv[2:]))
