"""Checks of rasa_ext/graph_runner.py (Rasa's graph run in order, without dask's scheduler), run
inside `.venv-rasa` (tests/rasa_env/; test_graph_runner.py makes each a test). Each graph is run by
Rasa's own DaskGraphRunner and by the patched one, and the two must agree.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from tests.rasa_env.inside import run_checks

from rasa.engine.graph import ExecutionContext, GraphComponent, GraphSchema, SchemaNode  # noqa: E402
from rasa.engine.runner.dask import DaskGraphRunner  # noqa: E402
from rasa.engine.storage.local_model_storage import LocalModelStorage  # noqa: E402

CALLS: list[str] = []


class Step(GraphComponent):
    """Appends its config's word to what it is given (a list, joined from one or two parents)."""

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: Any, resource: Any, execution_context: Any) -> "Step":
        return cls(config)

    def __init__(self, config: dict[str, Any]) -> None:
        self.word = config["word"]

    def run(self, first: list[str], second: list[str] | None = None) -> list[str]:
        CALLS.append(self.word)
        if self.word == "boom":
            raise ValueError("a component failed")
        return [*first, *(second or []), self.word]


def _node(word: str, **needs: str) -> SchemaNode:
    return SchemaNode(needs=needs, uses=Step, constructor_name="create", fn="run", config={"word": word})


# A diamond (b and c both need a; d needs both), a node off to the side, and one that fails.
SCHEMA = GraphSchema(
    {
        "a": _node("a", first="__input__"),
        "b": _node("b", first="a"),
        "c": _node("c", first="a"),
        "d": _node("d", first="b", second="c"),
        "side": _node("side", first="__input__"),
        "broken": _node("boom", first="a"),
    }
)


def _runner(tmp: str) -> DaskGraphRunner:
    return DaskGraphRunner(SCHEMA, LocalModelStorage(Path(tmp)), ExecutionContext(SCHEMA, "model"))


def _outcome(runner: DaskGraphRunner, **kwargs: Any) -> tuple[Any, list[str]]:
    CALLS.clear()
    try:
        result: Any = runner.run(**kwargs)
    except Exception as error:  # noqa: BLE001 - the kind of error is what is compared
        result = (type(error).__name__, type(error.__cause__).__name__ if error.__cause__ else None)
    return result, sorted(CALLS)


def _both(**kwargs: Any) -> tuple[tuple[Any, list[str]], tuple[Any, list[str]]]:
    from rasa_ext import graph_runner

    with tempfile.TemporaryDirectory() as tmp:
        runner = _runner(tmp)
        graph_runner.uninstall()
        original = _outcome(runner, **kwargs)
        graph_runner.install()
        try:
            patched = _outcome(runner, **kwargs)
            again = _outcome(runner, **kwargs)  # the cached plan gives the same
        finally:
            graph_runner.uninstall()
    assert again == patched, (again, patched)
    return original, patched


def check_a_diamond_runs_each_node_once_as_dask_does() -> None:
    original, patched = _both(inputs={"__input__": ["x"]}, targets=["d"])
    assert original == patched, (original, patched)
    assert patched[0] == {"d": ["x", "a", "b", "x", "a", "c", "d"]}, patched
    assert patched[1] == ["a", "b", "c", "d"], patched  # nothing the target does not need


def check_several_targets_and_an_input_as_a_target() -> None:
    original, patched = _both(inputs={"__input__": ["x"]}, targets=["side", "b", "__input__"])
    assert original == patched, (original, patched)
    assert patched[0] == {"side": ["x", "side"], "b": ["x", "a", "b"], "__input__": ["x"]}, patched


def check_an_input_replaces_a_node_of_its_name() -> None:
    original, patched = _both(inputs={"__input__": ["x"], "a": ["given"]}, targets=["b"])
    assert original == patched, (original, patched)
    assert patched[0] == {"b": ["given", "b"]}, patched


def check_a_missing_input_and_a_failing_node_fail_the_same_way() -> None:
    missing = _both(targets=["b"])  # "__input__" never given
    assert missing[0] == missing[1] and missing[1][0] == ("GraphRunError", None), missing
    failing = _both(inputs={"__input__": ["x"]}, targets=["broken"])
    assert failing[0] == failing[1], failing
    assert failing[1][0] == ("GraphComponentException", "ValueError"), failing


def check_an_input_value_naming_a_node_is_refused() -> None:
    original, patched = _both(inputs={"__input__": "a"}, targets=["b"])
    assert original == patched == (("GraphRunError", None), []), (original, patched)


def check_serve_installs_the_patch() -> None:
    import inspect

    import rasa_ext.serve

    assert "graph_runner.install()" in inspect.getsource(rasa_ext.serve.install_patches)
    assert "install_patches()" in inspect.getsource(rasa_ext.serve.main)


run_checks(globals())
