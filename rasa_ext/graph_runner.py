"""Rasa's graph of components run in order, without dask's scheduler (a patch of Rasa 3.6, see rasa_ext.serve).

Every parse and every next-action prediction of a turn runs a part of the
model's graph through `DaskGraphRunner.run` (rasa/engine/runner/dask.py): it
walks the schema for the targets' dependencies (recursively, once per path),
builds a dask graph and hands it to `dask.get`, whose scheduler orders and runs
a dozen nodes one after the other in this one thread. Under load that
bookkeeping was about 8 % of Rasa's CPU (py-spy, 20 concurrent
conversations; docs/performance.md, fourth round), for graphs that are small
and the same on every call.

`install()` replaces that method with one that works out, once per set of
targets, the nodes needed and an order in which each comes after what it
needs, then calls them in that order: the same nodes, called the same way
(each with its parents' `(name, output)` pairs, an input as `(name, value)`,
a need that is neither as its bare name, as dask passes it), the same result
(`{name: output}` of the targets) and the same errors (a node's exception as
it was raised, a `RuntimeError` as Rasa's `GraphRunError`). Training keeps
dask: `rasa train` runs in its own process, which never installs this.

The patch point is this one method: on a Rasa upgrade, check that
`DaskGraphRunner.run` still builds its dask graph from `schema_node.needs`.
"""

from __future__ import annotations

from typing import Any

_originals: dict[str, Any] = {}


def _plan(schema: Any, targets: tuple[str, ...]) -> list[tuple[str, tuple[str, ...]]]:
    """(node, its needs) for every node the targets depend on, each after its needs."""
    order: list[tuple[str, tuple[str, ...]]] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen or name not in schema.nodes:
            return
        seen.add(name)
        needs = tuple(schema.nodes[name].needs.values())
        for need in needs:
            visit(need)
        order.append((name, needs))

    for target in targets:
        visit(target)
    return order


def run(self: Any, inputs: dict[str, Any] | None = None, targets: list[str] | None = None) -> dict[str, Any]:
    """`DaskGraphRunner.run` without dask (see the module docstring)."""
    from rasa.engine.exceptions import GraphRunError

    run_targets = tuple(targets if targets else self._graph_schema.target_names)  # noqa: SLF001
    plans = self.__dict__.setdefault("_juniper_plans", {})
    plan = plans.get(run_targets)
    if plan is None:
        plan = plans[run_targets] = _plan(self._graph_schema, run_targets)  # noqa: SLF001
    results: dict[str, Any] = {}
    for name, value in (inputs or {}).items():
        if isinstance(value, str) and any(value == node for node, _ in plan):
            raise GraphRunError(
                f"Input value '{value}' clashes with a node name. Make sure "
                f"that none of the input names passed to the `run` method are the "
                f"same as node names in the graph schema."
            )
        results[name] = (name, value)
    try:
        for name, needs in plan:
            if name in results:  # an input of that name stands in for the node, as in dask
                continue
            node = self._instantiated_nodes[name]  # noqa: SLF001
            results[name] = node(*(results.get(need, need) for need in needs))
    except RuntimeError as e:
        raise GraphRunError("Error running runner.") from e
    return dict(results.get(target, target) for target in run_targets)


def install() -> None:
    """Patch DaskGraphRunner.run (once per process)."""
    if _originals:
        return
    from rasa.engine.runner.dask import DaskGraphRunner

    _originals["run"] = DaskGraphRunner.run
    DaskGraphRunner.run = run  # type: ignore[method-assign]


def uninstall() -> None:
    """Rasa as it was (for checks and profiles that compare)."""
    if _originals:
        from rasa.engine.runner.dask import DaskGraphRunner

        DaskGraphRunner.run = _originals.pop("run")  # type: ignore[method-assign]
