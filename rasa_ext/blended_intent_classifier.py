"""Rasa component: two logistic regressions on two views of the same features.

Rasa's LogisticRegressionClassifier sees raw counts: long messages and the wide
character n-gram block dominate, and a single concept flag from the
RegexFeaturizer barely counts. A second model on the same features, each
featurizer's block TF-IDF weighted and scaled to unit length, weighs the word,
character and concept blocks equally and discounts words every intent uses.
The two make different mistakes: averaging their probabilities was 2.6 points
more accurate than Rasa's classifier alone in 5-fold cross-validation on our
data (see config.yml), and both train in about 20 s on two cores.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import scipy.sparse
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize
from sklearn.utils.extmath import softmax
from threadpoolctl import threadpool_limits

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers import LABEL_RANKING_LENGTH
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.featurizers.featurizer import Featurizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.utils.tensorflow.constants import RANKING_LENGTH

from rasa_ext.component import ProjectComponent

logger = logging.getLogger(__name__)


def _sentence_features(message: Message) -> dict[str, Any]:
    """The message's sentence features as its featurizers gave them, one block per featurizer
    (by origin; the last one given if a featurizer gave two)."""
    return {
        f.origin: f.features for f in message.features if f.attribute == TEXT and f.type == FEATURE_TYPE_SENTENCE
    }


def _sentence_blocks(message: Message) -> dict[str, scipy.sparse.csr_matrix]:
    """The message's sentence features: a one-row matrix per featurizer (by origin)."""
    return {
        origin: scipy.sparse.csr_matrix(block, dtype=np.float64)
        for origin, block in _sentence_features(message).items()
    }


def _nonzeros(features: Any) -> tuple[np.ndarray, np.ndarray]:
    """A one-row feature block as (columns, values): each column once, values summed as a CSR
    matrix sums duplicate entries."""
    if scipy.sparse.issparse(features):
        coo = features.tocoo()
        columns, values = coo.col, coo.data.astype(np.float64)
    else:
        row = np.asarray(features, dtype=np.float64).reshape(-1)
        columns = np.flatnonzero(row)
        values = row[columns]
    if columns.size > 1:
        columns, inverse = np.unique(columns, return_inverse=True)
        values = np.bincount(inverse, weights=values)
    return columns, values


def _idf(block: scipy.sparse.csr_matrix) -> np.ndarray:
    """Smoothed inverse document frequency of each column (as sklearn computes it)."""
    documents = block.shape[0]
    frequency = np.asarray((block != 0).sum(axis=0)).ravel()
    return np.log((1 + documents) / (1 + frequency)) + 1


def _multinomial(model: LogisticRegression) -> bool:
    """Whether sklearn's predict_proba takes the softmax of the decision function (its own test)."""
    return model.multi_class == "multinomial" or (
        model.multi_class == "auto" and model.classes_.size > 2 and model.solver != "liblinear"
    )


def _tfidf(block: scipy.sparse.csr_matrix, idf: np.ndarray) -> scipy.sparse.csr_matrix:
    # Each featurizer's block separately to length 1, not the whole row.
    return normalize(scipy.sparse.csr_matrix(block.multiply(idf)), norm="l2")


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class BlendedIntentClassifier(IntentClassifier, ProjectComponent):
    @classmethod
    def required_components(cls) -> list[type]:
        return [Featurizer]

    @staticmethod
    def required_packages() -> list[str]:
        return ["sklearn", "skops"]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # Inverse regularisation strength of the model on raw counts (Rasa's
            # LogisticRegressionClassifier uses 1.0) and of the one on unit-length
            # TF-IDF blocks, whose smaller values need a weaker penalty.
            "counts_C": 1.0,
            "tfidf_C": 10.0,
            "max_iter": 1000,
            "random_state": 42,
            RANKING_LENGTH: LABEL_RANKING_LENGTH,
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        state: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(config, model_storage, resource)
        # origins: featurizer order; widths: columns per featurizer, so a message
        # missing a block (e.g. no concept matched) still gets a row of zeros.
        self._state = state
        # Each model's coef_.T laid out contiguously, made at the first prediction.
        self._weights: dict[str, np.ndarray] = {}
        # Per featurizer (origin): its first column and its idf, made at the first prediction.
        self._layout: dict[str, tuple[int, np.ndarray]] | None = None

    def _model(self, C: float) -> LogisticRegression:
        # Balanced: out_of_scope has four times the examples of some intents.
        return LogisticRegression(
            C=C,
            class_weight="balanced",
            max_iter=self.config["max_iter"],
            random_state=self.config["random_state"],
        )

    def _blocks(self, messages: list[Message]) -> list[scipy.sparse.csr_matrix]:
        assert self._state is not None
        rows = [_sentence_blocks(m) for m in messages]
        stacked = []
        for origin, width in zip(self._state["origins"], self._state["widths"]):
            empty = scipy.sparse.csr_matrix((1, width))
            stacked.append(scipy.sparse.vstack([r.get(origin, empty) for r in rows]).tocsr())
        return stacked

    def _views(
        self, blocks: list[scipy.sparse.csr_matrix]
    ) -> tuple[scipy.sparse.csr_matrix, scipy.sparse.csr_matrix]:
        assert self._state is not None
        counts = scipy.sparse.hstack(blocks).tocsr()
        tfidf = scipy.sparse.hstack(
            [_tfidf(b, idf) for idf, b in zip(self._state["idf"], blocks)]
        ).tocsr()
        return counts, tfidf

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        if not examples:
            logger.debug("No intent examples: %s is left untrained.", self.__class__.__name__)
            return self._resource
        per_message = [_sentence_blocks(e) for e in examples]
        origins: list[str] = []
        widths: list[int] = []
        for blocks in per_message:
            for origin, matrix in blocks.items():
                if origin not in origins:
                    origins.append(origin)
                    widths.append(matrix.shape[1])
        self._state = {"origins": origins, "widths": widths}
        self._weights, self._layout = {}, None
        blocks = self._blocks(examples)
        self._state["idf"] = [_idf(b) for b in blocks]
        counts, tfidf = self._views(blocks)
        labels = [e.get(INTENT) for e in examples]
        # Each solver step multiplies small matrices, where BLAS threads cost
        # more than they save (on our data, one thread fitted the two models
        # in 42 s instead of 72 s on a busy two-core machine).
        with threadpool_limits(limits=1, user_api="blas"):
            self._state["counts_model"] = self._model(self.config["counts_C"]).fit(counts, labels)
            self._state["tfidf_model"] = self._model(self.config["tfidf_C"]).fit(tfidf, labels)
        self.persist()
        return self._resource

    def predict_proba(self, messages: list[Message]) -> tuple[list[str], np.ndarray]:
        """Intent names and, per message, the averaged probability of each."""
        assert self._state is not None
        names = list(self._state["counts_model"].classes_)
        if not messages:
            return names, np.zeros((0, len(names)))
        if _multinomial(self._state["counts_model"]) and _multinomial(self._state["tfidf_model"]):
            scores = np.array([self._scores(message) for message in messages])
            probabilities = (softmax(scores[:, 0, :], copy=False) + softmax(scores[:, 1, :], copy=False)) / 2
            return names, probabilities
        counts, tfidf = self._views(self._blocks(messages))
        probabilities = (self._model_proba("counts_model", counts) + self._model_proba("tfidf_model", tfidf)) / 2
        return names, probabilities

    def _scores(self, message: Message) -> np.ndarray:
        """Both models' decision scores for one message, from its nonzero features alone.

        The same sums as `_views` then `_model_proba` (each featurizer's block as
        counts, and TF-IDF weighted to unit length), without building, stacking and
        normalising sparse matrices: scipy's checks and copies for a one-row matrix
        cost more than the arithmetic (about a tenth of Rasa's CPU per message).
        Equal to the matrix path to 1e-12 (tests/rasa_ext/blended_intent_classifier_checks.py).
        """
        assert self._state is not None
        if self._layout is None:
            offsets = np.cumsum([0, *self._state["widths"]])
            self._layout = {
                origin: (int(offset), idf)
                for origin, offset, idf in zip(self._state["origins"], offsets, self._state["idf"])
            }
        counts_model, tfidf_model = self._state["counts_model"], self._state["tfidf_model"]
        counts_weights = self._weights_of("counts_model")
        tfidf_weights = self._weights_of("tfidf_model")
        counts = np.array(counts_model.intercept_, dtype=np.float64)
        tfidf = np.array(tfidf_model.intercept_, dtype=np.float64)
        for origin, block in _sentence_features(message).items():
            placed = self._layout.get(origin)
            if placed is None:
                continue  # a featurizer the classifier was not trained with: `_blocks` ignores it too
            offset, idf = placed
            columns, values = _nonzeros(block)
            if not columns.size:
                continue
            counts += values @ counts_weights[offset + columns]
            weighted = values * idf[columns]
            length = np.sqrt(weighted @ weighted)
            if length > 0:
                tfidf += (weighted / length) @ tfidf_weights[offset + columns]
        return np.stack([counts, tfidf])

    def _weights_of(self, name: str) -> np.ndarray:
        weights = self._weights.get(name)
        if weights is None:
            assert self._state is not None
            weights = self._weights[name] = np.ascontiguousarray(self._state[name].coef_.T)
        return weights

    def _model_proba(self, name: str, features: scipy.sparse.csr_matrix) -> np.ndarray:
        """sklearn's `predict_proba` of one model, without its per-call copy of the weights.

        For a sparse row, sklearn 1.1's `decision_function` multiplies by
        `coef_.T`, a transposed view that scipy copies into a contiguous array
        on every call (tens of thousands of features by ~60 intents: 5-9 ms a
        message, the largest single cost of Rasa's turn once actions were
        cheap). The weights are laid out once here; the arithmetic is
        sklearn's own (scores plus intercept, then softmax), equal to 1e-12
        (tests/rasa_ext/blended_intent_classifier_checks.py).
        """
        assert self._state is not None
        model = self._state[name]
        if not _multinomial(model):
            return model.predict_proba(features)
        weights = self._weights_of(name)
        return softmax(np.asarray(features @ weights) + model.intercept_, copy=False)

    def process(self, messages: list[Message]) -> list[Message]:
        if self._state is None or "counts_model" not in self._state:
            return messages
        # Only messages with text: a payload like "/greet" has its intent already.
        featurized = [m for m in messages if m.get(TEXT) and _sentence_features(m)]
        if not featurized:
            return messages
        names, probabilities = self.predict_proba(featurized)
        for message, row in zip(featurized, probabilities):
            ranking = sorted(
                ({"name": n, "confidence": float(p)} for n, p in zip(names, row)),
                key=lambda r: -r["confidence"],
            )
            message.set(INTENT, ranking[0], add_to_output=True)
            if self.config[RANKING_LENGTH] > 0:
                ranking = ranking[: self.config[RANKING_LENGTH]]
            message.set("intent_ranking", ranking, add_to_output=True)
        return messages

    def persist(self) -> None:
        import skops.io as sio

        with self._model_storage.write_to(self._resource) as model_dir:
            sio.dump(self._state, model_dir / "blended_intent_classifier.skops")

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> BlendedIntentClassifier:
        import skops.io as sio

        try:
            with model_storage.read_from(resource) as model_dir:
                path = model_dir / "blended_intent_classifier.skops"
                # skops refuses to load any type it does not know to be safe,
                # which a tampered model file would need.
                state = sio.load(path, trusted=False)
        except ValueError:
            logger.debug("No trained %s in the model; starting untrained.", cls.__name__)
            return cls.create(config, model_storage, resource, execution_context)
        return cls(config, model_storage, resource, state)
