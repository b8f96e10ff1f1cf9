"""The maths and the page of `make nlu-report`, on fixtures small enough to check by hand."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from scripts.nlu_metrics import FALLBACK, Prediction, confusion_matrix, evaluate
from scripts.nlu_report import (
    HELD_OUT,
    HELD_OUT_DIR,
    PERSONA_META,
    _predictions_from_rasa_results,
    build_report,
    load_held_out,
    load_personas,
    write_report,
)
from scripts.nlu_report_html import render

# Expected a three times, b twice, c once.
#   a: right, right, taken for b          -> tp 2, predicted as a 3 times (a1, a2, c1)
#   b: right, fallback                    -> tp 1, predicted as b twice (a3, b1)
#   c: taken for a                        -> tp 0, never predicted
FIXTURE = [
    Prediction("a1", "a", "a", 0.9, "typist"),
    Prediction("a2", "a", "a", 0.8, "angry"),
    Prediction("a3", "a", "b", 0.6, "typist"),
    Prediction("b1", "b", "b", 0.7, "typist"),
    Prediction("b2", "b", FALLBACK, 0.2, "angry"),
    Prediction("c1", "c", "a", 0.5, None),
]


def test_per_intent_precision_recall_f1() -> None:
    scores = evaluate(FIXTURE)["per_intent"]
    assert set(scores) == {"a", "b", "c"}  # a fallback is a prediction, not an intent
    assert scores["a"]["precision"] == pytest.approx(2 / 3)
    assert scores["a"]["recall"] == pytest.approx(2 / 3)
    assert scores["a"]["f1"] == pytest.approx(2 / 3)
    assert scores["b"]["precision"] == pytest.approx(1 / 2)
    assert scores["b"]["recall"] == pytest.approx(1 / 2)
    assert scores["b"]["f1"] == pytest.approx(1 / 2)
    # Never predicted: precision is undefined and counts as 0, like sklearn.
    assert scores["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1, "predicted": 0}
    assert [scores[i]["support"] for i in "abc"] == [3, 2, 1]


def test_f1_is_the_harmonic_mean() -> None:
    # a: expected 4 times, right once, and predicted once more for something else.
    preds = [Prediction(f"x{i}", "a", "a" if i == 0 else "b") for i in range(4)]
    preds.append(Prediction("y", "b", "a"))
    a = evaluate(preds)["per_intent"]["a"]
    assert (a["precision"], a["recall"]) == (pytest.approx(1 / 2), pytest.approx(1 / 4))
    assert a["f1"] == pytest.approx(2 * (1 / 2) * (1 / 4) / (1 / 2 + 1 / 4))  # 1/3


def test_overall_and_macro_figures_count_fallback_as_a_miss() -> None:
    result = evaluate(FIXTURE)
    assert (result["examples"], result["correct"]) == (6, 3)
    assert result["accuracy"] == pytest.approx(0.5)
    assert result["accuracy_macro"] == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)
    assert result["f1_macro"] == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)
    assert result["precision_macro"] == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)
    assert result["fallbacks"] == 1
    assert {m["text"] for m in result["misses"]} == {"a3", "b2", "c1"}


def test_confusion_matrix_rows_expected_columns_predicted_fallback_last() -> None:
    cm = confusion_matrix([*FIXTURE, Prediction("c2", "c", "zzz_unexpected")])
    assert cm["rows"] == ["a", "b", "c"]
    assert cm["columns"] == ["a", "b", "c", "zzz_unexpected", FALLBACK]
    assert cm["counts"] == [
        [2, 1, 0, 0, 0],
        [0, 1, 0, 0, 1],
        [1, 0, 0, 1, 0],
    ]


def test_no_fallback_column_without_fallbacks() -> None:
    cm = confusion_matrix([Prediction("x", "a", "b"), Prediction("y", "b", "b")])
    assert cm["columns"] == ["a", "b"]


def test_worst_confusions_are_ranked_with_examples() -> None:
    preds = [*FIXTURE, Prediction("c2", "c", "a", 0.4), Prediction("c3", "c", "a", 0.7)]
    worst = evaluate(preds)["worst_confusions"]
    assert [(w["expected"], w["predicted"], w["count"]) for w in worst] == [
        ("c", "a", 3),
        ("a", "b", 1),
        ("b", FALLBACK, 1),
    ]
    # Most confident mistakes first: those are the ones a threshold will not catch.
    assert [e["text"] for e in worst[0]["examples"]] == ["c3", "c1", "c2"]
    assert worst[0]["share_of_expected"] == pytest.approx(1.0)
    assert worst[1]["share_of_expected"] == pytest.approx(1 / 3)


def test_accuracy_per_persona_leaves_out_ungrouped_examples() -> None:
    groups = evaluate(FIXTURE)["per_group"]
    assert set(groups) == {"typist", "angry"}
    assert groups["typist"] == {"accuracy": pytest.approx(2 / 3), "examples": 3, "misses": 1, "fallbacks": 0}
    assert groups["angry"] == {"accuracy": pytest.approx(1 / 2), "examples": 2, "misses": 1, "fallbacks": 1}


def test_evaluate_refuses_an_empty_set() -> None:
    with pytest.raises(ValueError):
        evaluate([])


def _report() -> dict:
    text = "<script>alert(1)</script> where's my £5 refund"
    evil = Prediction(text, "refund_status", "inform", 0.55, "amounts")
    return build_report({"heldout_personas.yml": [*FIXTURE, evil]}, Path("models/x.tar.gz"), {})


def test_html_has_heat_map_tables_and_escapes_messages() -> None:
    page = render(_report())
    assert page.startswith("<!doctype html>") and page.endswith("</html>")
    assert '<table class="cm">' in page
    # The diagonal is shaded green, mistakes red, in proportion to the row.
    assert re.search(r'rgba\(40, 150, 60, 0\.\d\d\)[^>]*title="a → a: 2"', page)
    assert re.search(r'rgba\(210, 40, 40, 0\.\d\d\)[^>]*title="b → nlu_fallback: 1"', page)
    assert "By persona" in page and ">typist<" in page
    assert "Worst confusions" in page and "refund_status</b> → <b>inform" in page
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; where&#x27;s my £5 refund" in page


def test_write_report_writes_json_and_html(tmp_path: Path) -> None:
    index = write_report(_report(), tmp_path / "nlu")
    assert index == tmp_path / "nlu" / "index.html"
    saved = json.loads((tmp_path / "nlu" / "report.json").read_text())
    result = saved["evaluations"]["heldout_personas.yml"]
    assert result["examples"] == 7 and result["correct"] == 3
    assert "heldout_personas.yml" in index.read_text()


def test_cross_validation_results_are_read_from_rasa_files(tmp_path: Path) -> None:
    (tmp_path / "intent_successes.json").write_text(json.dumps([
        {"text": "hi", "intent": "greet", "intent_prediction": {"name": "greet", "confidence": 0.9}},
    ]))  # fmt: skip
    (tmp_path / "intent_errors.json").write_text(json.dumps([
        {"text": "bye", "intent": "goodbye", "intent_prediction": {"name": FALLBACK, "confidence": 0.2}},
        {"text": "??", "intent": "goodbye", "intent_prediction": None},
    ]))  # fmt: skip
    preds = _predictions_from_rasa_results(tmp_path)
    assert [(p.text, p.expected, p.predicted, p.correct) for p in preds] == [
        ("hi", "greet", "greet", True),
        ("bye", "goodbye", FALLBACK, False),
        ("??", "goodbye", "none", False),
    ]


def test_every_held_out_set_loads_and_personas_cover_the_new_set() -> None:
    for name in HELD_OUT:
        pairs = load_held_out(HELD_OUT_DIR / name)
        assert len(pairs) >= 200, name
    personas = load_personas(HELD_OUT_DIR / PERSONA_META["heldout_personas.yml"])
    texts = [text for _, text in load_held_out(HELD_OUT_DIR / "heldout_personas.yml")]
    assert len(texts) >= 1100
    assert all(text in personas for text in texts)
