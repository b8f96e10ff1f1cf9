"""Intent metrics for `make nlu-report`: plain Python, so the maths is testable anywhere.

A prediction is right only if the predicted intent is the expected one: a
fallback ("nlu_fallback", the customer is asked to rephrase) counts as a miss,
and shows up as its own column in the confusion matrix.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

FALLBACK = "nlu_fallback"


@dataclass(frozen=True)
class Prediction:
    text: str
    expected: str
    predicted: str
    confidence: float = 0.0
    group: str | None = None  # e.g. the persona who wrote the message

    @property
    def correct(self) -> bool:
        return self.predicted == self.expected


def _ratio(numerator: int, denominator: int) -> float:
    # sklearn's convention: an undefined precision or recall counts as 0.
    return numerator / denominator if denominator else 0.0


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def per_intent_scores(predictions: list[Prediction]) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support for every expected intent."""
    true_pos: Counter[str] = Counter()
    predicted: Counter[str] = Counter()
    support: Counter[str] = Counter()
    for p in predictions:
        support[p.expected] += 1
        predicted[p.predicted] += 1
        true_pos[p.expected] += p.correct
    scores = {}
    for intent in sorted(support):
        precision = _ratio(true_pos[intent], predicted[intent])
        recall = _ratio(true_pos[intent], support[intent])
        scores[intent] = {
            "precision": precision,
            "recall": recall,
            "f1": _f1(precision, recall),
            "support": support[intent],
            "predicted": predicted[intent],
        }
    return scores


def confusion_matrix(predictions: list[Prediction]) -> dict[str, Any]:
    """Rows: expected intents; columns: the same, then anything else predicted (fallback last)."""
    rows = sorted({p.expected for p in predictions})
    extra = sorted({p.predicted for p in predictions} - set(rows) - {FALLBACK})
    columns = rows + extra + ([FALLBACK] if any(p.predicted == FALLBACK for p in predictions) else [])
    counts: Counter[tuple[str, str]] = Counter((p.expected, p.predicted) for p in predictions)
    return {
        "rows": rows,
        "columns": columns,
        "counts": [[counts[(r, c)] for c in columns] for r in rows],
    }


def worst_confusions(
    predictions: list[Prediction], limit: int = 15, examples: int = 4
) -> list[dict[str, Any]]:
    """The most frequent (expected, predicted) mistakes, each with example messages."""
    by_pair: dict[tuple[str, str], list[Prediction]] = defaultdict(list)
    for p in predictions:
        if not p.correct:
            by_pair[(p.expected, p.predicted)].append(p)
    support = Counter(p.expected for p in predictions)
    ranked = sorted(by_pair.items(), key=lambda item: (-len(item[1]), item[0]))
    return [
        {
            "expected": expected,
            "predicted": predicted,
            "count": len(misses),
            "share_of_expected": len(misses) / support[expected],
            "examples": [
                {"text": m.text, "confidence": round(m.confidence, 3), "group": m.group}
                for m in sorted(misses, key=lambda m: -m.confidence)[:examples]
            ],
        }
        for (expected, predicted), misses in ranked[:limit]
    ]


def group_accuracy(predictions: list[Prediction]) -> dict[str, dict[str, float]]:
    """Accuracy, misses and fallbacks per group (persona); ungrouped predictions are left out."""
    grouped: dict[str, list[Prediction]] = defaultdict(list)
    for p in predictions:
        if p.group is not None:
            grouped[p.group].append(p)
    return {
        group: {
            "accuracy": _ratio(sum(p.correct for p in members), len(members)),
            "examples": len(members),
            "misses": sum(not p.correct for p in members),
            "fallbacks": sum(p.predicted == FALLBACK for p in members),
        }
        for group, members in sorted(grouped.items())
    }


def evaluate(predictions: Iterable[Prediction], worst: int = 15) -> dict[str, Any]:
    """Everything the report shows for one set of predictions, JSON-serialisable."""
    predictions = list(predictions)
    if not predictions:
        raise ValueError("no predictions to evaluate")
    scores = per_intent_scores(predictions)
    correct = sum(p.correct for p in predictions)
    n_intents = len(scores)
    return {
        "examples": len(predictions),
        "correct": correct,
        "accuracy": correct / len(predictions),
        # Mean of per-intent accuracy (recall): every request type weighs the same.
        "accuracy_macro": sum(s["recall"] for s in scores.values()) / n_intents,
        "precision_macro": sum(s["precision"] for s in scores.values()) / n_intents,
        "f1_macro": sum(s["f1"] for s in scores.values()) / n_intents,
        "fallbacks": sum(p.predicted == FALLBACK for p in predictions),
        "per_intent": scores,
        "per_group": group_accuracy(predictions),
        "confusion": confusion_matrix(predictions),
        "worst_confusions": worst_confusions(predictions, limit=worst),
        "misses": [
            {"text": p.text, "expected": p.expected, "predicted": p.predicted,
             "confidence": round(p.confidence, 3), "group": p.group}
            for p in predictions if not p.correct
        ],
    }  # fmt: skip
