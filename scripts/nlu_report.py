"""NLU report: cross-validation on data/nlu and every held-out set against the trained model.

    make nlu-report                    (FOLDS=5 make nlu-report for a finer estimate)
    .venv-rasa/bin/python -m scripts.nlu_report --help

Writes var/reports/nlu/index.html (per-intent precision, recall and F1, accuracy
per persona, confusion-matrix heat maps, the worst confusions with example
messages) and report.json with the same figures. A measurement, not a test:
tests/e2e/test_paraphrases.py holds the targets.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from scripts.nlu_metrics import Prediction, evaluate
from scripts.nlu_report_html import render

ROOT = Path(__file__).resolve().parents[1]
HELD_OUT_DIR = ROOT / "tests" / "nlu"
HELD_OUT = ("paraphrases.yml", "paraphrases_fresh.yml", "heldout_personas.yml")
# Sidecars naming the persona that wrote each example of a held-out set.
PERSONA_META = {"heldout_personas.yml": "heldout_personas.meta.yml"}
# The same lock scripts/train.sh takes: cross-validation trains one model per fold,
# and two trainings at once on this machine slow each other to a crawl.
TRAIN_LOCK = Path("/tmp/juniper-rasa-train.lock")

log = logging.getLogger("nlu_report")


def load_held_out(path: Path) -> list[tuple[str, str]]:
    """(intent, text) for every example of a Rasa NLU YAML file, annotations kept as written."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    pairs = []
    for block in document.get("nlu", []):
        if "intent" not in block:
            continue
        for line in block["examples"].splitlines():
            text = line.strip().removeprefix("- ").strip()
            if text:
                pairs.append((block["intent"], text))
    return pairs


def load_personas(path: Path) -> dict[str, str]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["examples"]


def _quiet_rasa() -> None:
    # Rasa's dependencies warn about their own deprecations on every run; the report is the output.
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    for noisy in ("rasa", "tensorflow", "absl", "root"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


def parse_held_out(model: Path, names: list[str]) -> tuple[dict[str, list[Prediction]], float]:
    """Predictions for every held-out set from one in-process load of the model.

    Returns the predictions by set name and the mean parse time in milliseconds.
    """
    _quiet_rasa()
    from rasa.core.agent import Agent  # Rasa lives only in .venv-rasa; import it late.
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # else every parse is logged at debug level
    agent = Agent.load(str(model))
    if not agent.is_ready():
        raise SystemExit(f"{model} could not be loaded")
    results: dict[str, list[Prediction]] = {}
    elapsed, parsed = 0.0, 0

    async def parse_all(pairs: list[tuple[str, str]], personas: dict[str, str]) -> list[Prediction]:
        nonlocal elapsed, parsed
        out = []
        for intent, text in pairs:
            start = time.perf_counter()
            parse = await agent.parse_message(text)
            elapsed += time.perf_counter() - start
            parsed += 1
            top = parse.get("intent") or {}
            out.append(
                Prediction(
                    text=text,
                    expected=intent,
                    predicted=top.get("name") or "none",
                    confidence=float(top.get("confidence") or 0.0),
                    group=personas.get(text),
                )
            )
        return out

    for name in names:
        meta = PERSONA_META.get(name)
        personas = load_personas(HELD_OUT_DIR / meta) if meta else {}
        results[name] = asyncio.run(parse_all(load_held_out(HELD_OUT_DIR / name), personas))
    return results, (elapsed / parsed * 1000 if parsed else 0.0)


def _predictions_from_rasa_results(out_dir: Path) -> list[Prediction]:
    predictions = []
    for name in ("intent_successes.json", "intent_errors.json"):
        path = out_dir / name
        if not path.exists():  # Rasa writes no file for an empty list.
            continue
        for item in json.loads(path.read_text(encoding="utf-8")):
            predicted = item.get("intent_prediction") or {}
            predictions.append(
                Prediction(
                    text=item["text"],
                    expected=item["intent"],
                    predicted=predicted.get("name") or "none",
                    confidence=float(predicted.get("confidence") or 0.0),
                )
            )
    return predictions


def cross_validate(folds: int, config: Path, data: Path) -> list[Prediction]:
    """Every training example as predicted by the fold that did not train on it, fallbacks kept."""
    with tempfile.TemporaryDirectory(prefix="nlu-cv-") as tmp, TRAIN_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        command = [
            sys.executable, "-m", "scripts.rasa_test_keep_fallback", "test", "nlu", "--nlu", str(data),
            "--config", str(config), "--cross-validation", "--folds", str(folds),
            "--successes", "--no-plot", "--out", tmp,
        ]  # fmt: skip
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "SQLALCHEMY_SILENCE_UBER_WARNING": "1"}
        completed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        if completed.returncode != 0:
            raise SystemExit(f"rasa test nlu failed:\n{completed.stderr[-4000:]}")
        predictions = _predictions_from_rasa_results(Path(tmp))
    if not predictions:
        raise SystemExit("cross-validation produced no predictions")
    return predictions


def build_report(
    evaluations: dict[str, list[Prediction]], model: Path, notes: dict[str, str]
) -> dict[str, Any]:
    return {
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        + f" on {platform.node()} ({os.cpu_count()} cores)",
        "model": str(model),
        "notes": notes,
        "evaluations": {name: evaluate(preds) for name, preds in evaluations.items()},
    }


def write_report(report: dict[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    index = out_dir / "index.html"
    index.write_text(render(report), encoding="utf-8")
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "assistant.tar.gz")
    parser.add_argument("--folds", type=int, default=3, help="cross-validation folds (default 3)")
    parser.add_argument("--no-cv", action="store_true", help="skip cross-validation")
    parser.add_argument("--sets", nargs="+", default=list(HELD_OUT), help="held-out files in tests/nlu")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "reports" / "nlu")
    args = parser.parse_args(argv)
    if args.folds < 2:
        parser.error("--folds must be at least 2")
    if not args.model.exists():
        parser.error(f"no trained model at {args.model}: run `make train` first")
    for name in args.sets:
        if not (HELD_OUT_DIR / name).exists():
            parser.error(f"no held-out set tests/nlu/{name}")
    os.chdir(ROOT)  # the model refers to build/spacy/en_shop relative to the checkout
    _quiet_rasa()

    evaluations: dict[str, list[Prediction]] = {}
    notes: dict[str, str] = {}
    if not args.no_cv:
        print(f"cross-validation, {args.folds} folds on data/nlu ...", flush=True)
        start = time.monotonic()
        cv_name = f"cross-validation ({args.folds} folds)"
        evaluations[cv_name] = cross_validate(args.folds, ROOT / "config.yml", ROOT / "data" / "nlu")
        notes[cv_name] = (
            f"rasa test nlu --cross-validation on data/nlu with config.yml, fallbacks kept "
            f"(Rasa's own figures revert them), {time.monotonic() - start:.0f} s."
        )
    print(f"parsing {', '.join(args.sets)} with {args.model} ...", flush=True)
    held_out, parse_ms = parse_held_out(args.model, args.sets)
    for name, predictions in held_out.items():
        evaluations[name] = predictions
        notes[name] = f"tests/nlu/{name} against {args.model.name}; mean parse {parse_ms:.1f} ms/message."
    report = build_report(evaluations, args.model, notes)
    report["parse_ms_mean"] = parse_ms
    index = write_report(report, args.out)
    for name, result in report["evaluations"].items():
        print(f"{name:32} accuracy {result['accuracy']:6.1%}  macro {result['accuracy_macro']:6.1%}"
              f"  ({result['examples']} messages, {result['fallbacks']} fallbacks)")
        for group, g in result["per_group"].items():
            print(f"    {group:28} {g['accuracy']:6.1%}  ({g['examples']})")
    print(f"report: {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
