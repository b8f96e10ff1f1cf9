"""Checks of rasa_ext/shorthand_normalizer.py in the NLU pipeline, run inside `.venv-rasa`
(tests/rasa_env/; test_shorthand_normalizer.py makes each a test).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.rasa_env.inside import run_checks
from tests.rasa_ext.pipeline_support import Pipeline

from rasa.engine.storage.local_model_storage import LocalModelStorage  # noqa: E402
from rasa.shared.nlu.constants import TEXT_TOKENS  # noqa: E402


def check_normalizer_rewrites_lemmas_not_text() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = Pipeline(LocalModelStorage(Path(tmp)))
        [message] = pipeline.featurize(["pls cancel ur ordr plzzz"])
        tokens = message.get(TEXT_TOKENS)
        assert [t.lemma for t in tokens] == ["please", "cancel", "your", "order", "please"]
        assert [t.text for t in tokens] == ["pls", "cancel", "ur", "ordr", "plzzz"]
        assert [(t.start, t.end) for t in tokens] == [(0, 3), (4, 10), (11, 13), (14, 18), (19, 24)]


def check_normalizer_leaves_standard_words_and_numbers_alone() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = Pipeline(LocalModelStorage(Path(tmp)))
        [message] = pipeline.featurize(["where is order 10004"])
        assert [t.lemma for t in message.get(TEXT_TOKENS)] == ["where", "is", "order", "10004"]


run_checks(globals())
