"""Checks of the custom Rasa components in rasa_ext/, run inside `.venv-rasa`.

Rasa lives in its own environment, which has no pytest; test_rasa_components.py
runs this module there through the shared harness (tests/rasa_env/) and turns
each `check_*` function into a test. Each check raises AssertionError on failure.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from tests.rasa_env.inside import run_checks

ROOT = Path(__file__).resolve().parents[2]

from rasa.engine.graph import ExecutionContext, GraphSchema  # noqa: E402
from rasa.engine.storage.local_model_storage import LocalModelStorage  # noqa: E402
from rasa.engine.storage.resource import Resource  # noqa: E402
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (  # noqa: E402
    CountVectorsFeaturizer,
)
from rasa.nlu.featurizers.sparse_featurizer.regex_featurizer import RegexFeaturizer  # noqa: E402
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer  # noqa: E402
from rasa.shared.nlu.constants import INTENT, TEXT, TEXT_TOKENS  # noqa: E402
from rasa.shared.nlu.training_data.message import Message  # noqa: E402
from rasa.shared.nlu.training_data.training_data import TrainingData  # noqa: E402

from rasa_ext.blended_intent_classifier import BlendedIntentClassifier  # noqa: E402
from rasa_ext.order_numbers import OrderNumberFilter  # noqa: E402
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
            WhitespaceTokenizer.get_default_config(), storage, Resource("tok"), _context("tok")
        )
        self.normalizer = ShorthandNormalizer.create({}, storage, Resource("norm"), _context("norm"))
        self.featurizers = [
            RegexFeaturizer.create(
                {**RegexFeaturizer.get_default_config(), "case_sensitive": False},
                storage, Resource("regex"), _context("regex"),
            ),
            CountVectorsFeaturizer.create(
                CountVectorsFeaturizer.get_default_config(), storage, Resource("words"), _context("words")
            ),
            CountVectorsFeaturizer.create(
                {**CountVectorsFeaturizer.get_default_config(), "analyzer": "char_wb",
                 "min_ngram": 2, "max_ngram": 4},
                storage, Resource("chars"), _context("chars"),
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


def _context(name: str) -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), node_name=name)


def _training_data() -> TrainingData:
    examples = [
        Message(data={TEXT: text, INTENT: intent}) for intent, texts in TRAINING.items() for text in texts
    ]
    return TrainingData(training_examples=examples, lookup_tables=LOOKUPS)


def _trained(storage: LocalModelStorage, config: dict[str, Any] | None = None):
    pipeline = Pipeline(storage)
    data = _training_data()
    pipeline.train(data)
    classifier = BlendedIntentClassifier.create(
        {**BlendedIntentClassifier.get_default_config(), **(config or {})},
        storage, Resource("intents"), _context("intents"),
    )
    classifier.train(data)
    return pipeline, classifier


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


def check_classifier_predicts_and_ranks() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        pipeline, classifier = _trained(LocalModelStorage(Path(tmp)))
        messages = pipeline.featurize(["where is my parcel", "i want my money back", "hi there"])
        classifier.process(messages)
        assert [m.get(INTENT)["name"] for m in messages] == ["track_order", "request_refund", "greet"]
        for message in messages:
            ranking = message.get("intent_ranking")
            assert [r["name"] for r in ranking][0] == message.get(INTENT)["name"]
            confidences = [r["confidence"] for r in ranking]
            assert confidences == sorted(confidences, reverse=True)
            assert abs(sum(confidences) - 1.0) < 1e-6
            assert 0.0 < message.get(INTENT)["confidence"] <= 1.0


def check_classifier_uses_concept_flags_for_unseen_words() -> None:
    # "reimbursement" never occurs in an example; only the refund_words lookup knows it.
    with tempfile.TemporaryDirectory() as tmp:
        pipeline, classifier = _trained(LocalModelStorage(Path(tmp)))
        [message] = pipeline.featurize(["reimbursement"])
        classifier.process([message])
        assert message.get(INTENT)["name"] == "request_refund"


def check_classifier_averages_both_models() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        pipeline, classifier = _trained(LocalModelStorage(Path(tmp)))
        messages = pipeline.featurize(["where is my order"])
        names, blended = classifier.predict_proba(messages)
        counts, tfidf = classifier._views(classifier._blocks(messages))
        state = classifier._state
        expected = (state["counts_model"].predict_proba(counts) + state["tfidf_model"].predict_proba(tfidf)) / 2
        assert names == list(state["counts_model"].classes_) == list(state["tfidf_model"].classes_)
        assert abs(blended - expected).max() < 1e-12
        # The two views really differ, or there would be nothing to average.
        assert abs(state["counts_model"].predict_proba(counts) - state["tfidf_model"].predict_proba(tfidf)).max() > 1e-3


def check_classifier_persists_and_loads_the_same_model() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        storage = LocalModelStorage(Path(tmp))
        pipeline, classifier = _trained(storage)
        loaded = BlendedIntentClassifier.load(
            BlendedIntentClassifier.get_default_config(), storage, Resource("intents"), _context("intents")
        )
        messages = pipeline.featurize(["when will my order arrive", "hello"])
        _, before = classifier.predict_proba(messages)
        _, after = loaded.predict_proba(messages)
        assert abs(before - after).max() < 1e-12


def check_classifier_refuses_a_model_file_with_unsafe_types() -> None:
    import skops.io as sio
    from skops.io.exceptions import UntrustedTypesFoundException

    with tempfile.TemporaryDirectory() as tmp:
        storage = LocalModelStorage(Path(tmp))
        _trained(storage)
        with storage.write_to(Resource("intents")) as model_dir:
            # A type skops does not trust by default stands in for a tampered file.
            from collections import OrderedDict

            sio.dump({"origins": OrderedDict(a=1)}, model_dir / "blended_intent_classifier.skops")
        try:
            BlendedIntentClassifier.load({}, storage, Resource("intents"), _context("intents"))
        except UntrustedTypesFoundException:
            return
        raise AssertionError("a model file with untrusted types was loaded")


def check_untrained_classifier_leaves_messages_alone() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        storage = LocalModelStorage(Path(tmp))
        pipeline = Pipeline(storage)
        pipeline.train(_training_data())
        classifier = BlendedIntentClassifier.load({}, storage, Resource("missing"), _context("missing"))
        [message] = pipeline.featurize(["where is my order"])
        classifier.process([message])
        assert message.get(INTENT) is None


def check_message_missing_a_feature_block_still_classified() -> None:
    # No lookup word and no known word: the regex block and most columns are absent.
    with tempfile.TemporaryDirectory() as tmp:
        pipeline, classifier = _trained(LocalModelStorage(Path(tmp)))
        [message] = pipeline.featurize(["zzqx"])
        classifier.process([message])
        assert message.get(INTENT)["name"] in TRAINING


def check_gateway_channel_reports_how_the_message_was_read() -> None:
    import asyncio
    from types import SimpleNamespace

    from rasa.core.tracker_store import InMemoryTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import UserUttered

    from rasa_ext.channel import GatewayInput, parse_summary

    assert parse_summary(None) is None
    assert parse_summary({"intent": {"name": None}}) is None
    store = InMemoryTrackerStore(Domain.empty())
    tracker = store.init_tracker("c1")
    ranking = [{"name": n, "confidence": c} for n, c in [("track_order", 0.81234), ("delivery_info", 0.1), ("greet", 0.05), ("deny", 0.04)]]
    tracker.update(UserUttered("where is it", {"name": "track_order", "confidence": 0.81234}, parse_data={"intent_ranking": ranking}))
    asyncio.run(store.save(tracker))
    request = SimpleNamespace(app=SimpleNamespace(ctx=SimpleNamespace(agent=SimpleNamespace(tracker_store=store))))
    summary = asyncio.run(GatewayInput._parse_of(request, "c1"))  # type: ignore[arg-type]
    assert summary == {
        "intent": "track_order",
        "confidence": 0.8123,
        "ranking": [["track_order", 0.8123], ["delivery_info", 0.1], ["greet", 0.05]],
    }, summary
    assert asyncio.run(GatewayInput._parse_of(request, "nobody")) is None  # type: ignore[arg-type]
def check_gateway_channel_refuses_a_non_ascii_token_without_raising() -> None:
    from rasa_ext.channel import GatewayInput

    class _Request:
        def __init__(self, authorization: str) -> None:
            self.headers = {"Authorization": authorization}

    token = "gateway-token-0123456789abcdef"
    channel = GatewayInput(token)
    # compare_digest raises TypeError on non-ASCII str: that was a 500, not a 403.
    for guess in ("Bearer é" + token, "Bearer \udcff", "Bearer 😀"):
        assert channel._authorised(_Request(guess)) is False
    assert channel._authorised(_Request("Bearer " + token)) is True


def check_endpoints_send_the_action_server_token() -> None:
    # A quoted YAML value is not expanded by Rasa: the header would be the literal "${...}".
    from rasa.core.utils import read_endpoints_from_path

    values = {"ACTION_SERVER_TOKEN": "token-from-env-0123456789", "ACTION_ENDPOINT_URL": "http://127.0.0.1:1/webhook",
              "TRACKER_STORE_URL": "sqlite://", "REDIS_HOST": "localhost", "REDIS_PORT": "6379", "REDIS_LOCK_DB": "1"}
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        for name in ("endpoints.yml", "endpoints.scaled.yml"):
            action = read_endpoints_from_path(str(ROOT / name)).action
            assert action.headers == {"Authorization": "Bearer token-from-env-0123456789"}, (name, action.headers)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
# Message -> the order numbers it holds. Amounts, quantities, dates and phone
# numbers are not order numbers; every way of writing one is.
ORDER_NUMBER_CASES: dict[str, list[str]] = {
    "still waiting on a $120 reimbursement": [],
    "i was promised 299 dollars back": [],
    "refund of 120.50 please": [],
    "you owe me £45 for the return": [],
    "it cost 1299 and arrived broken": [],
    "i ordered 2 items on 12/03/2024": [],
    "i ordered 250 items for my cafe": [],
    "i bought it on 14 march 2024 and it broke": [],
    "it arrived on march 3rd 2025 damaged": [],
    "i've been a customer since 2019 and never had this": [],
    "call me on 07700 900123 about the refund": [],
    "my number is +44 7700 900123": [],
    "i waited in all day and the courier never showed up, it has been 120 minutes": [],
    "i paid 350 for this and want my money back now please": [],
    "#1044": ["1044"],
    "1044": ["1044"],
    "it's 1044": ["1044"],
    "1044 i think": ["1044"],
    "where is order 1044": ["1044"],
    "where is order #1044, it's late": ["1044"],
    "order no. 1044 never arrived and i'm furious about it": ["1044"],
    "my order number is 1044 and it never came, what is going on with you people": ["1044"],
    "can you check no. 1044 for me please, it has been two weeks": ["1044"],
    "refund order 2207 please, it was $120": ["2207"],
    "order 2207, email jo@example.com": ["2207"],
    "3051 and the email on it is mel@example.co.uk": ["3051"],
}


def _order_numbers(text: str) -> list[str]:
    """The spaCy pipeline's proposals, then the filter, as Rasa runs them."""
    from rasa.shared.nlu.constants import ENTITIES

    from rasa_ext.spacy_pipeline import build

    doc = build()(text)
    proposed = [
        {"entity": ent.label_, "start": ent.start_char, "end": ent.end_char, "value": ent.text}
        for ent in doc.ents
        if ent.label_ in ("order_number", "phone", "email")
    ]
    message = Message(data={TEXT: text, ENTITIES: proposed})
    OrderNumberFilter.create({}, None, Resource("orders"), _context("orders")).process([message])
    return [
        e["value"].lstrip("#").strip() for e in message.get(ENTITIES) if e["entity"] == "order_number"
    ]


def check_order_numbers_are_what_they_look_like() -> None:
    wrong = {
        text: found
        for text, expected in ORDER_NUMBER_CASES.items()
        if (found := _order_numbers(text)) != expected
    }
    assert not wrong, wrong


def check_order_number_filter_keeps_other_entities() -> None:
    from rasa.shared.nlu.constants import ENTITIES

    entities = [
        {"entity": "product", "start": 9, "end": 15, "value": "teapot"},
        {"entity": "order_number", "start": 24, "end": 27, "value": "120"},
    ]
    message = Message(data={TEXT: "the big teapot cost me $120 and broke", ENTITIES: entities})
    OrderNumberFilter.create({}, None, Resource("orders"), _context("orders")).process([message])
    assert [e["entity"] for e in message.get(ENTITIES)] == ["product"]


run_checks(globals())
