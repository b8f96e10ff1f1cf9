"""Rasa's CRFEntityExtractor, loaded from its trained model instead of trained again at every start.

Rasa 3.6's `CRFEntityExtractor` persists its training data (crf_dataset.json)
and, in `load`, fits the CRFs again from it: every start of a Rasa server
re-trained them (about 5 s of a 21 s start on the project's machine, py-spy;
docs/performance.md, fourth round). This subclass also keeps each CRF's
trained crfsuite model file in the model and, at load, opens those files:
the same taggers, no training. A model trained before this component existed
(no model files) loads the way Rasa loads it.

A crfsuite model file is the CRF's weights in crfsuite's own binary format,
read by crfsuite's C library: no pickle, nothing executed.
"""

from __future__ import annotations

import logging
import shutil
from collections import OrderedDict
from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.crf_entity_extractor import CRFEntityExtractor, CRFToken
from rasa.shared.utils.io import read_json_file

logger = logging.getLogger(__name__)


def _model_file(name: str) -> str:
    return f"crf_{name}.crfsuite"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class PersistedCRFEntityExtractor(CRFEntityExtractor):
    """CRFEntityExtractor whose trained CRFs are stored in the model, not re-fitted at load."""

    def persist(self, dataset: list[list[CRFToken]]) -> None:
        super().persist(dataset)
        with self._model_storage.write_to(self._resource) as model_dir:
            for name, tagger in self.entity_taggers.items():
                # sklearn-crfsuite trains into a file it owns while the CRF object lives.
                shutil.copyfile(tagger.modelfile.name, model_dir / _model_file(name))

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> CRFEntityExtractor:
        import sklearn_crfsuite

        try:
            with model_storage.read_from(resource) as model_dir:
                crf_order = read_json_file(model_dir / "crf_order.json")
                files = [model_dir / _model_file(name) for name in crf_order]
                if not all(f.is_file() for f in files):
                    return super().load(config, model_storage, resource, execution_context, **kwargs)
                taggers: OrderedDict[str, Any] = OrderedDict()
                for name, path in zip(crf_order, files):
                    tagger = sklearn_crfsuite.CRF(model_filename=str(path))
                    # crfsuite reads the whole file now; the unpacked model may go later.
                    if tagger.tagger_ is None:
                        raise ValueError(f"no CRF model in {path}")
                    taggers[name] = tagger
        except ValueError as error:  # no such resource in the model, or a CRF file without a model
            logger.warning("Failed to load %s from model storage (resource '%s'): %s", cls.__name__, resource.name, error)
            return cls(config, model_storage, resource)
        extractor = cls(config, model_storage, resource, taggers)
        extractor.crf_order = crf_order
        return extractor
