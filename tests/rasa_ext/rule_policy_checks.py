"""Checks of rasa_ext/rule_policy.py (RulePolicy's rule matching stopped at the longest rule), run
inside `.venv-rasa` (tests/rasa_env/; test_rule_policy.py makes each a test). Rasa's own
`_get_possible_keys` and the patched one are asked the same questions and must agree.
"""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path
from typing import Any

from tests.rasa_env.inside import run_checks

from rasa.core.policies.rule_policy import RulePolicy  # noqa: E402
from rasa.engine.graph import ExecutionContext, GraphSchema  # noqa: E402
from rasa.engine.storage.local_model_storage import LocalModelStorage  # noqa: E402
from rasa.engine.storage.resource import Resource  # noqa: E402
from rasa.shared.core.constants import SHOULD_NOT_BE_SET  # noqa: E402

from rasa_ext import rule_policy  # noqa: E402

INTENTS = ["greet", "track_order", "deny", "affirm", "handoff_resolved"]
ACTIONS = ["action_listen", "action_greet", "action_track", "feedback_form", "action_recommend"]
SLOTS = ["verified", "ask_feedback"]


def _state(rng: random.Random, *, start: bool = False) -> dict[str, Any]:
    """A state as Rasa's featurizer writes them (and as rule keys hold them after a JSON round trip)."""
    state: dict[str, Any] = {}
    if not start:
        # Mostly a named action; now and then a bot text, or a rule's "no action wanted".
        state["prev_action"] = rng.choice(
            [{"action_name": rng.choice(ACTIONS)}] * 8
            + [{"action_text": "Hello!"}, {"action_name": SHOULD_NOT_BE_SET}]
        )
    if rng.random() < 0.6:
        state["user"] = {"intent": rng.choice(INTENTS)}
    slots = {name: (1.0,) for name in SLOTS if rng.random() < 0.4}
    if slots:
        state["slots"] = slots
    if rng.random() < 0.2:
        state["active_loop"] = {"name": rng.choice(["feedback_form", SHOULD_NOT_BE_SET])}
    return state


def _lookup(rng: random.Random, rules: int) -> dict[str, str]:
    lookup = {}
    while len(lookup) < rules:
        length = rng.choice([1, 1, 2, 2, 3])
        states = [_state(rng, start=(index == 0 and rng.random() < 0.2)) for index in range(length)]
        lookup[json.dumps(states, sort_keys=True)] = rng.choice(ACTIONS)
    return lookup


def _conversation(rng: random.Random) -> list[dict[str, Any]]:
    length = rng.randint(0, 30)
    return [_state(rng, start=(index == 0)) for index in range(length)]


def _policy(tmp: str, lookup: dict[str, str]) -> RulePolicy:
    schema = GraphSchema({})
    return RulePolicy(
        RulePolicy.get_default_config(),
        LocalModelStorage(Path(tmp)),
        Resource("rules"),
        ExecutionContext(schema, node_name="rules"),
        lookup={"rules": lookup},
    )


def check_the_same_keys_as_rasas_own_matching() -> None:
    rng = random.Random(7)
    original = rule_policy._originals.get("keys", RulePolicy._get_possible_keys)
    with tempfile.TemporaryDirectory() as tmp:
        matched = 0
        for _ in range(40):
            lookup = _lookup(rng, 60)
            policy = _policy(tmp, lookup)
            for _ in range(25):
                states = _conversation(rng)
                # The tail of a real rule as the conversation's end: some rules must match.
                if rng.random() < 0.5:
                    states += json.loads(rng.choice(list(lookup)))
                expected = original(policy, lookup, states)
                assert rule_policy.get_possible_keys(policy, lookup, states) == expected
                matched += bool(expected) and len(expected) < len(lookup)
        # The comparison covered partial matches, not only "all" or "none".
        assert matched > 100, matched


def check_no_state_past_the_longest_rule_is_compared() -> None:
    rng = random.Random(11)
    with tempfile.TemporaryDirectory() as tmp:
        lookup = _lookup(rng, 50)
        policy = _policy(tmp, lookup)
        calls = []
        applicable = policy._is_rule_applicable

        def counting(key: str, turn_index: int, state: dict[str, Any]) -> bool:
            calls.append(turn_index)
            return applicable(key, turn_index, state)

        policy._is_rule_applicable = counting  # type: ignore[method-assign]
        states = [_state(rng, start=(index == 0)) for index in range(40)]
        rule_policy.get_possible_keys(policy, lookup, states)
        assert calls and max(calls) < 3, max(calls)
        assert len(calls) <= 3 * len(lookup)


def check_the_newest_state_is_compared_only_with_rules_naming_its_action() -> None:
    rng = random.Random(5)
    with tempfile.TemporaryDirectory() as tmp:
        lookup = _lookup(rng, 80)
        policy = _policy(tmp, lookup)
        compared: list[str] = []
        applicable = policy._is_rule_applicable

        def counting(key: str, turn_index: int, state: dict[str, Any]) -> bool:
            if turn_index == 0:
                compared.append(key)
            return applicable(key, turn_index, state)

        policy._is_rule_applicable = counting  # type: ignore[method-assign]
        states = [_state(rng, start=True), {"prev_action": {"action_name": "action_track"}}]
        rule_policy.get_possible_keys(policy, lookup, states)
        names = {
            (json.loads(key)[-1].get("prev_action") or {}).get("action_name") for key in compared
        }
        assert compared and names <= {"action_track", None, SHOULD_NOT_BE_SET}, names
        assert len(compared) < len(lookup) / 2, len(compared)


def check_empty_lookup_and_no_states() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        policy = _policy(tmp, {})
        assert rule_policy.get_possible_keys(policy, {}, [_state(random.Random(1))]) == set()
        lookup = _lookup(random.Random(3), 5)
        assert rule_policy.get_possible_keys(_policy(tmp, lookup), lookup, []) == set(lookup)


def check_install_replaces_and_uninstall_restores() -> None:
    before = RulePolicy._get_possible_keys
    rule_policy.install()
    try:
        assert RulePolicy._get_possible_keys is rule_policy.get_possible_keys
        rule_policy.install()  # twice is once
        assert rule_policy._originals["keys"] is before
    finally:
        rule_policy.uninstall()
    assert RulePolicy._get_possible_keys is before


def check_serve_installs_the_patch() -> None:
    import inspect

    import rasa_ext.serve

    assert "rule_policy.install()" in inspect.getsource(rasa_ext.serve.install_patches)
    assert "install_patches()" in inspect.getsource(rasa_ext.serve.main)


run_checks(globals())
