"""Checks of rasa_ext/crf_entity_extractor.py (the trained CRFs kept in the model, not re-fitted at
load), run inside `.venv-rasa` (tests/rasa_env/; test_crf_entity_extractor.py makes each a test).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from tests.rasa_env.inside import run_checks

from rasa.engine.storage.local_model_storage import LocalModelStorage  # noqa: E402
from rasa.engine.storage.resource import Resource  # noqa: E402
from rasa.nlu.extractors.crf_entity_extractor import CRFEntityExtractor  # noqa: E402
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader  # noqa: E402

from rasa_ext.crf_entity_extractor import PersistedCRFEntityExtractor  # noqa: E402
from tests.rasa_ext.pipeline_support import Pipeline, context  # noqa: E402

DATA = """
version: "3.1"
nlu:
- intent: ask_product
  examples: |
    - do you have the [oak lamp](product) in stock
    - is the [linen throw](product) available
    - how much is the [oak lamp](product)
    - tell me about the [walnut desk](product)
    - is the [linen throw](product) washable
    - when is the [walnut desk](product) back
- intent: rate
  examples: |
    - i rated it [4](rating) stars
    - i give it [5](rating)
    - [3](rating) out of 5
- intent: greet
  examples: |
    - hello there
    - hi
"""
# Light regularisation: a dozen examples are enough to learn from.
CONFIG = {**CRFEntityExtractor.get_default_config(), "L1_c": 0.001, "L2_c": 0.001}
TEXTS = ["is the oak lamp in stock", "tell me about the linen throw", "i give it 4", "hello"]


def _entities(extractor: Any, pipeline: Pipeline) -> list[list[tuple[str, str]]]:
    messages = pipeline.featurize(TEXTS)
    extractor.process(messages)
    return [[(e["entity"], e["value"]) for e in m.get("entities", [])] for m in messages]


def _trained(storage: LocalModelStorage) -> tuple[PersistedCRFEntityExtractor, Pipeline]:
    # Rasa's CRF trains only on examples with features: tokenizer and featurizers first.
    data = RasaYAMLReader().reads(DATA)
    pipeline = Pipeline(storage)
    pipeline.train(data)
    extractor = PersistedCRFEntityExtractor.create(CONFIG, storage, Resource("crf"), context("crf"))
    extractor.train(data)
    return extractor, pipeline


def _load(storage: LocalModelStorage) -> Any:
    return PersistedCRFEntityExtractor.load(CONFIG, storage, Resource("crf"), context("crf"))


def check_the_loaded_extractor_tags_as_the_trained_one_without_training() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        storage = LocalModelStorage(Path(tmp))
        trained, pipeline = _trained(storage)
        expected = _entities(trained, pipeline)
        weights = {name: tagger.state_features_ for name, tagger in trained.entity_taggers.items()}
        assert all(weights.values()), weights  # it learnt weights to compare
        assert ("product", "oak lamp") in expected[0], expected  # and tags with them
        fits: list[object] = []
        original = CRFEntityExtractor.train_model

        def counting(*args: object, **kwargs: object) -> object:
            fits.append(args)
            return original(*args, **kwargs)

        CRFEntityExtractor.train_model = counting  # type: ignore[method-assign,assignment]
        try:
            loaded = _load(storage)
            assert _entities(loaded, pipeline) == expected
            assert {name: tagger.state_features_ for name, tagger in loaded.entity_taggers.items()} == weights
            assert fits == [], "loading trained the CRFs again"
            assert list(loaded.entity_taggers) == list(trained.entity_taggers) == loaded.crf_order
        finally:
            CRFEntityExtractor.train_model = original  # type: ignore[method-assign]


def check_a_model_without_the_crf_files_loads_as_rasa_loads_it() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        storage = LocalModelStorage(Path(tmp))
        trained, pipeline = _trained(storage)
        expected = _entities(trained, pipeline)
        with storage.write_to(Resource("crf")) as model_dir:
            removed = [f.unlink() for f in model_dir.glob("*.crfsuite")]
        assert removed, "the trained model kept no crfsuite files"
        loaded = _load(storage)  # Rasa's own load: fitted again from crf_dataset.json
        assert _entities(loaded, pipeline) == expected


run_checks(globals())
