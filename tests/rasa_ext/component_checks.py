"""Checks of rasa_ext/component.py (ProjectComponent, the base of this project's Rasa components),
run inside `.venv-rasa` (tests/rasa_env/; test_component.py makes each a test).
"""

from __future__ import annotations

from pathlib import Path

from tests.rasa_env.inside import run_checks
from tests.rasa_ext.pipeline_support import context

from rasa.engine.storage.local_model_storage import LocalModelStorage  # noqa: E402
from rasa.engine.storage.resource import Resource  # noqa: E402
from rasa.shared.nlu.constants import TEXT  # noqa: E402
from rasa.shared.nlu.training_data.message import Message  # noqa: E402
from rasa.shared.nlu.training_data.training_data import TrainingData  # noqa: E402

from rasa_ext.component import ProjectComponent  # noqa: E402


class _Shout(ProjectComponent):
    @staticmethod
    def get_default_config() -> dict[str, object]:
        return {"mark": "!", "times": 1}

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            message.set(TEXT, message.get(TEXT).upper() + self.config["mark"] * self.config["times"])
        return messages


def check_create_keeps_the_config_over_the_defaults_and_the_storage(scratch: Path) -> None:
    storage = LocalModelStorage(scratch)
    resource = Resource("shout")
    made = _Shout.create({"times": 3}, storage, resource, context("shout"))
    assert isinstance(made, _Shout)
    assert made.config == {"mark": "!", "times": 3}
    assert (made._model_storage, made._resource) == (storage, resource)
    assert ProjectComponent.get_default_config() == {}


def check_training_examples_are_processed_like_messages(scratch: Path) -> None:
    shout = _Shout.create({}, LocalModelStorage(scratch), Resource("shout"), context("shout"))
    data = TrainingData(training_examples=[Message(data={TEXT: "where is it"}), Message(data={TEXT: "hi"})])
    assert shout.process_training_data(data) is data
    assert [m.get(TEXT) for m in data.training_examples] == ["WHERE IS IT!", "HI!"]


def check_the_base_has_no_processing_of_its_own(scratch: Path) -> None:
    base = ProjectComponent.create({}, LocalModelStorage(scratch), Resource("base"), context("base"))
    try:
        base.process([Message(data={TEXT: "x"})])
    except NotImplementedError:
        return
    raise AssertionError("ProjectComponent.process should be left to subclasses")


run_checks(globals())
