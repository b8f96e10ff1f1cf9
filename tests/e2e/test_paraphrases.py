"""Intent accuracy on paraphrases the model was never trained on.

The file tests/nlu/paraphrases.yml is kept out of data/; a drop below 90 %
means the training data stopped generalising to the way people write.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import httpx
import pytest
import yaml

from bot.supervisor import ROOT, Stack

HELD_OUT = ["paraphrases.yml", "paraphrases_fresh.yml", "heldout_personas.yml"]
TARGET = 0.90
# The 1,290 messages written from eight customer personas (tests/nlu/heldout_personas.yml;
# `make nlu-report` breaks it down by persona). Issue 8 aims at 93 %; the model reached
# 89.5 % on 2026-12-06 (84.8 % before), 91.2 % with data/nlu/customer_voices.yml,
# 92.5 % with data/nlu/customer_voices_2.yml and 94.2 % with data/nlu/customer_voices_3.yml
# (every persona >= 89.7 %); the guard sits about a point below that.
TARGET_PERSONAS = 0.93
TARGETS = {"heldout_personas.yml": TARGET_PERSONAS}


def load_paraphrases(name: str) -> list[tuple[str, str]]:
    data = yaml.safe_load((ROOT / "tests" / "nlu" / name).read_text())
    pairs = []
    for block in data["nlu"]:
        if "intent" not in block:
            continue
        for line in block["examples"].splitlines():
            text = line.strip().removeprefix("- ").strip()
            if text:
                pairs.append((block["intent"], text))
    return pairs


@pytest.mark.parametrize("held_out", HELD_OUT)
def test_paraphrase_accuracy(held_out: str, stack: Stack, stack_env: dict[str, str]) -> None:
    pairs = load_paraphrases(held_out)
    report = ROOT / "var" / "reports" / f"accuracy_{held_out.removesuffix('.yml')}.json"
    assert len(pairs) >= 200, "the held-out set is too small to say anything"
    misses: list[dict[str, str]] = []
    per_intent: Counter[str] = Counter()
    correct: Counter[str] = Counter()
    with httpx.Client(base_url=stack.rasa_url, timeout=30) as client:
        for intent, text in pairs:
            response = client.post(
                "/model/parse", params={"token": stack_env["RASA_TOKEN"]}, json={"text": text}
            )
            response.raise_for_status()
            predicted = response.json()["intent"]["name"]
            per_intent[intent] += 1
            if predicted == intent:
                correct[intent] += 1
            else:
                misses.append({"text": text, "expected": intent, "predicted": predicted})
    accuracy = sum(correct.values()) / len(pairs)
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(
        json.dumps(
            {
                "accuracy": accuracy,
                "examples": len(pairs),
                "per_intent": {i: correct[i] / n for i, n in sorted(per_intent.items())},
                "misses": misses,
            },
            indent=2,
        )
    )
    print(f"\nparaphrase accuracy: {accuracy:.1%} on {len(pairs)} held-out examples ({report})")
    target = TARGETS.get(held_out, TARGET)
    assert accuracy >= target, f"accuracy {accuracy:.1%} < {target:.0%}; misses: {misses[:20]}"
