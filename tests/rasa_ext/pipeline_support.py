"""The NLU pipeline of config.yml in miniature, for the checks of rasa_ext/'s components
(runs inside `.venv-rasa`): tokenizer, shorthand normaliser, featurizers and the blended
intent classifier, trained on a few examples.
"""

from __future__ import annotations

from typing import Any

import tests.rasa_env.inside  # noqa: F401 - before Rasa: quietens TensorFlow and logging

from rasa.engine.graph import ExecutionContext, GraphSchema  # noqa: E402
from rasa.engine.storage.local_model_storage import LocalModelStorage  # noqa: E402
from rasa.engine.storage.resource import Resource  # noqa: E402
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (  # noqa: E402
    CountVectorsFeaturizer,
)
from rasa.nlu.featurizers.sparse_featurizer.regex_featurizer import RegexFeaturizer  # noqa: E402
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer  # noqa: E402
from rasa.shared.nlu.constants import INTENT, TEXT  # noqa: E402
from rasa.shared.nlu.training_data.message import Message  # noqa: E402
from rasa.shared.nlu.training_data.training_data import TrainingData  # noqa: E402

from rasa_ext.blended_intent_classifier import BlendedIntentClassifier  # noqa: E402
from rasa_ext.shorthand_normalizer import ShorthandNormalizer  # noqa: E402

TRAINING = {
    "track_order": ["where is my order", "where is my parcel", "my package has not arrived",
                    "when will my order arrive", "track my parcel please"],
    "request_refund": ["i want a refund", "give me my money back", "refund my order please",
                       "i want to return this for a refund", "can i get my money back"],
    "greet": ["hello", "hi there", "good morning", "hey", "hello, anyone there"],
}
LOOKUPS = [{"name": "refund_words", "elements": ["refund", "money back", "reimbursement"]}]


class Pipeline:
    """Tokenizer, normaliser, featurizers and classifier as Rasa wires them."""

    def __init__(self, storage: LocalModelStorage) -> None:
        self.storage = storage
        self.tokenizer = WhitespaceTokenizer.create(
            WhitespaceTokenizer.get_default_config(), storage, Resource("tok"), context("tok")
        )
        self.normalizer = ShorthandNormalizer.create({}, storage, Resource("norm"), context("norm"))
        self.featurizers = [
            RegexFeaturizer.create(
                {**RegexFeaturizer.get_default_config(), "case_sensitive": False},
                storage, Resource("regex"), context("regex"),
            ),
            CountVectorsFeaturizer.create(
                CountVectorsFeaturizer.get_default_config(), storage, Resource("words"), context("words")
            ),
            CountVectorsFeaturizer.create(
                {**CountVectorsFeaturizer.get_default_config(), "analyzer": "char_wb",
                 "min_ngram": 2, "max_ngram": 4},
                storage, Resource("chars"), context("chars"),
            ),
        ]

    def train(self, data: TrainingData) -> None:
        self.tokenizer.process_training_data(data)
        self.normalizer.process_training_data(data)
        for featurizer in self.featurizers:
            featurizer.train(data)
            featurizer.process_training_data(data)

    def featurize(self, texts: list[str]) -> list[Message]:
        messages = [Message(data={TEXT: t}) for t in texts]
        self.tokenizer.process(messages)
        self.normalizer.process(messages)
        for featurizer in self.featurizers:
            featurizer.process(messages)
        return messages


def context(name: str) -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), node_name=name)


def training_data() -> TrainingData:
    examples = [
        Message(data={TEXT: text, INTENT: intent}) for intent, texts in TRAINING.items() for text in texts
    ]
    return TrainingData(training_examples=examples, lookup_tables=LOOKUPS)


def trained(storage: LocalModelStorage, config: dict[str, Any] | None = None) -> tuple[Pipeline, BlendedIntentClassifier]:
    pipeline = Pipeline(storage)
    data = training_data()
    pipeline.train(data)
    classifier = BlendedIntentClassifier.create(
        {**BlendedIntentClassifier.get_default_config(), **(config or {})},
        storage, Resource("intents"), context("intents"),
    )
    classifier.train(data)
    return pipeline, classifier
