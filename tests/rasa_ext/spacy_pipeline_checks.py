"""Checks of rasa_ext/spacy_pipeline.py (the spaCy pipeline Rasa loads), run inside `.venv-rasa`
(tests/rasa_env/; test_spacy_pipeline.py makes each a test).
"""

from __future__ import annotations

from pathlib import Path

from tests.rasa_env.inside import run_checks


def _entities(nlp: object, text: str) -> list[tuple[str, str]]:
    return [(ent.label_, ent.text) for ent in nlp(text).ents]  # type: ignore[operator]


def check_identifiers_customers_type_are_labelled() -> None:
    from rasa_ext.spacy_pipeline import build

    nlp = build()
    assert _entities(nlp, "where is #1043") == [("order_number", "#1043")]
    assert _entities(nlp, "order 1043 please") == [("order_number", "1043")]
    assert _entities(nlp, "call me on 07700 900123") == [("phone", "07700 900123")]
    assert _entities(nlp, "my number is +44 7700 900123") == [("phone", "+44 7700 900123")]
    assert _entities(nlp, "mail amelia@example.com") == [("email", "amelia@example.com")]
    # A date swallows its digits, so its year is never an order number.
    assert _entities(nlp, "ordered on 2024-11-02") == [("date", "2024-11-02")]


def check_glued_order_numbers_are_split_off() -> None:
    from rasa_ext.spacy_pipeline import build

    nlp = build()
    assert [t.text for t in nlp("order#1043")] == ["order", "#", "1043"]
    assert _entities(nlp, "order#1043") == [("order_number", "#1043")]
    assert [t.text for t in nlp("number:1043")] == ["number", ":", "1043"]
    assert _entities(nlp, "number:1043") == [("order_number", "1043")]


def check_lookup_lemmas_make_plurals_and_tenses_alike() -> None:
    from rasa_ext.spacy_pipeline import build

    assert [t.lemma_ for t in build()("parcels arrived")] == ["parcel", "arrive"]


def check_main_writes_a_pipeline_that_loads_back(scratch: Path) -> None:
    import contextlib
    import io

    import spacy

    from rasa_ext.spacy_pipeline import main

    target = scratch / "nested" / "en_shop"
    with contextlib.redirect_stdout(io.StringIO()) as said:
        assert main(["spacy_pipeline", str(target)]) == 0
    assert said.getvalue() == f"spaCy pipeline written to {target}\n"
    loaded = spacy.load(target)
    assert loaded.pipe_names == ["lemmatizer", "entity_ruler"]
    assert _entities(loaded, "where is #1043") == [("order_number", "#1043")]


run_checks(globals())
