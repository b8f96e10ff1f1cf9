"""Checks of rasa_ext/blended_intent_classifier.py, run inside `.venv-rasa`
(tests/rasa_env/; test_blended_intent_classifier.py makes each a test).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import scipy.sparse

from tests.rasa_env.inside import run_checks
from tests.rasa_ext.pipeline_support import TRAINING, Pipeline, context, trained, training_data

from rasa.engine.storage.local_model_storage import LocalModelStorage  # noqa: E402
from rasa.engine.storage.resource import Resource  # noqa: E402
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, INTENT  # noqa: E402
from rasa.shared.nlu.training_data.features import Features  # noqa: E402

from rasa_ext.blended_intent_classifier import BlendedIntentClassifier, _multinomial  # noqa: E402


def check_classifier_predicts_and_ranks() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        pipeline, classifier = trained(LocalModelStorage(Path(tmp)))
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
        pipeline, classifier = trained(LocalModelStorage(Path(tmp)))
        [message] = pipeline.featurize(["reimbursement"])
        classifier.process([message])
        assert message.get(INTENT)["name"] == "request_refund"


def check_classifier_averages_both_models() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        pipeline, classifier = trained(LocalModelStorage(Path(tmp)))
        messages = pipeline.featurize(["where is my order", "hello", "i want my money back for the broken lamp"])
        names, blended = classifier.predict_proba(messages)
        # The classifier's own arithmetic (weights laid out once) is the one compared here.
        assert _multinomial(classifier._state["counts_model"]) and _multinomial(classifier._state["tfidf_model"])
        assert set(classifier._weights) == {"counts_model", "tfidf_model"}
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
        pipeline, classifier = trained(storage)
        loaded = BlendedIntentClassifier.load(
            BlendedIntentClassifier.get_default_config(), storage, Resource("intents"), context("intents")
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
        trained(storage)
        with storage.write_to(Resource("intents")) as model_dir:
            # A type skops does not trust by default stands in for a tampered file.
            from collections import OrderedDict

            sio.dump({"origins": OrderedDict(a=1)}, model_dir / "blended_intent_classifier.skops")
        try:
            BlendedIntentClassifier.load({}, storage, Resource("intents"), context("intents"))
        except UntrustedTypesFoundException:
            return
        raise AssertionError("a model file with untrusted types was loaded")


def check_untrained_classifier_leaves_messages_alone() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        storage = LocalModelStorage(Path(tmp))
        pipeline = Pipeline(storage)
        pipeline.train(training_data())
        classifier = BlendedIntentClassifier.load({}, storage, Resource("missing"), context("missing"))
        [message] = pipeline.featurize(["where is my order"])
        classifier.process([message])
        assert message.get(INTENT) is None


def check_message_missing_a_feature_block_still_classified() -> None:
    # No lookup word and no known word: the regex block and most columns are absent.
    with tempfile.TemporaryDirectory() as tmp:
        pipeline, classifier = trained(LocalModelStorage(Path(tmp)))
        [message] = pipeline.featurize(["zzqx"])
        classifier.process([message])
        assert message.get(INTENT)["name"] in TRAINING


def _matrix_path(classifier: BlendedIntentClassifier, messages: list) -> np.ndarray:
    """sklearn's own predict_proba on the stacked sparse views (the reference for the fast path)."""
    counts, tfidf = classifier._views(classifier._blocks(messages))
    state = classifier._state
    return (state["counts_model"].predict_proba(counts) + state["tfidf_model"].predict_proba(tfidf)) / 2


def check_per_message_scores_equal_the_matrix_path() -> None:
    # Every kind of row: all blocks, only the concept flag, nothing known at all, a long one.
    with tempfile.TemporaryDirectory() as tmp:
        pipeline, classifier = trained(LocalModelStorage(Path(tmp)))
        messages = pipeline.featurize(
            ["where is my order", "reimbursement", "zzqx", "hello hello hello where is my parcel refund " * 4]
        )
        _, fast = classifier.predict_proba(messages)
        assert fast.shape == (4, len(TRAINING))
        assert abs(fast - _matrix_path(classifier, messages)).max() < 1e-12
        names, none = classifier.predict_proba([])
        assert none.shape == (0, len(names))


def check_duplicate_entries_and_dense_blocks_read_as_a_csr_matrix_reads_them() -> None:
    # A featurizer may hand over a COO row with repeated columns (summed in CSR) or a dense row.
    with tempfile.TemporaryDirectory() as tmp:
        pipeline, classifier = trained(LocalModelStorage(Path(tmp)))
        [plain, duplicated, dense] = pipeline.featurize(["refund my parcel please"] * 3)
        for index, features in enumerate(duplicated.features):
            if features.type == FEATURE_TYPE_SENTENCE and scipy.sparse.issparse(features.features):
                coo = features.features.tocoo()
                halves = np.concatenate([coo.data / 2, coo.data / 2])
                doubled = scipy.sparse.coo_matrix(
                    (halves, (np.concatenate([coo.row, coo.row]), np.concatenate([coo.col, coo.col]))),
                    shape=coo.shape,
                )
                duplicated.features[index] = Features(doubled, features.type, features.attribute, features.origin)
        for index, features in enumerate(dense.features):
            if features.type == FEATURE_TYPE_SENTENCE and scipy.sparse.issparse(features.features):
                dense.features[index] = Features(
                    features.features.toarray(), features.type, features.attribute, features.origin
                )
        _, fast = classifier.predict_proba([plain, duplicated, dense])
        assert abs(fast - _matrix_path(classifier, [plain, plain, plain])).max() < 1e-12


run_checks(globals())
