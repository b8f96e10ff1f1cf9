"""scripts/profile_stack.py: py-spy's collapsed samples summed by function, inclusive and self."""

from __future__ import annotations

from scripts.profile_stack import aggregate, report

RAW = [
    "process 1:\"python\";main (app.py:10);turn (core.py:5);validate (schema.py:7) 6",
    "process 1:\"python\";main (app.py:10);turn (core.py:9);parse (nlu.py:3) 3",
    "process 1:\"python\";main (app.py:12);walk (tree.py:2);walk (tree.py:4) 1",
    "not a sample line",
]


def test_samples_are_summed_by_function_across_lines_and_recursion() -> None:
    total, inclusive, own = aggregate(RAW)
    assert total == 10
    assert inclusive["main (app.py)"] == 10  # line numbers dropped: one entry per function
    assert inclusive["turn (core.py)"] == 9
    assert inclusive["walk (tree.py)"] == 1  # a recursive function counts once per sample
    assert own == {"validate (schema.py)": 6, "parse (nlu.py)": 3, "walk (tree.py)": 1}


def test_the_report_gives_shares_of_all_samples() -> None:
    text = report("rasa", RAW, top=4)
    assert text.splitlines()[0] == "== rasa: 10 samples; inclusive"
    assert "100.0% main (app.py)" in text and " 90.0% turn (core.py)" in text
    assert " 60.0% validate (schema.py)" in text.split("== rasa: self")[1]
    assert report("gateway", []) == "gateway: no samples"
