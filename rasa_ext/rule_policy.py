"""RulePolicy's rule matching, without comparing rules that cannot match (a patch of Rasa 3.6, see rasa_ext.serve).

Rasa 3.6's `RulePolicy._get_possible_keys` filters every learned rule against
every state of the conversation, newest first: for a conversation of N states
and R rules, N x R calls of `_is_rule_applicable`, two to four times a turn.
Under load that was about 7 % of Rasa's CPU per message (py-spy,
docs/performance.md, fifth round). Two facts of that method make most of the
calls unnecessary:

- Past a rule's own length a rule is applicable by definition
  (`_is_rule_applicable` returns True once `turn_index >= len(rule states)`),
  so once the turn index passes the longest rule no state can remove a key.
- A rule whose last state names a previous action (`prev_action.action_name`,
  a plain name) only applies where the conversation's previous action has
  that very name: `_does_rule_match_state` compares each value the rule sets,
  and a state without a previous action does not match a rule state with one.
  Nearly every rule names one, and a conversation has one previous action, so
  the newest state is compared only with the rules that name it (and with
  those that name none, as Rasa would).

`install()` replaces the method with the same filter on those terms: the rules
indexed once by the previous action of their last state, and the loop stopped
at the longest rule. Every comparison left is Rasa's own `_is_rule_applicable`.
Same keys for any states (checked against Rasa's own method in
tests/rasa_ext/rule_policy_checks.py).

The patch point is this one method: on a Rasa upgrade, check that
`_get_possible_keys` still filters with `_is_rule_applicable`, that this still
accepts every rule once `turn_index >= len(rule states)`, and that
`_does_rule_match_state` still requires each value a rule state sets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rasa.shared.core.constants import PREVIOUS_ACTION, SHOULD_NOT_BE_SET
from rasa.shared.nlu.constants import ACTION_NAME

_originals: dict[str, Any] = {}


@dataclass(frozen=True)
class RuleIndex:
    """The keys of one lookup by the previous action their last state names."""

    lookup: dict[str, str]
    size: int
    by_action: dict[str, frozenset[str]]
    any_action: frozenset[str]  # keys whose last state names no plain previous action
    longest: int


def _named_action(rule_state: dict[str, Any]) -> str | None:
    """The previous action a rule state requires by name, if it requires one (else None)."""
    value = (rule_state.get(PREVIOUS_ACTION) or {}).get(ACTION_NAME)
    if isinstance(value, str) and value and value != SHOULD_NOT_BE_SET:
        return value
    return None


def _index(policy: Any, lookup: dict[str, str]) -> RuleIndex:
    cached = policy.__dict__.get("_rasa_ext_rule_indexes", {}).get(id(lookup))
    if cached is not None and cached.lookup is lookup and cached.size == len(lookup):
        return cached
    by_action: dict[str, set[str]] = {}
    any_action: set[str] = set()
    longest = 0
    for key in lookup:
        states = policy._rule_key_to_state(key)  # noqa: SLF001
        longest = max(longest, len(states))
        action = _named_action(states[-1]) if states else None
        if action is None:
            any_action.add(key)
        else:
            by_action.setdefault(action, set()).add(key)
    index = RuleIndex(
        lookup=lookup,
        size=len(lookup),
        by_action={action: frozenset(keys) for action, keys in by_action.items()},
        any_action=frozenset(any_action),
        longest=longest,
    )
    policy.__dict__.setdefault("_rasa_ext_rule_indexes", {})[id(lookup)] = index
    return index


def get_possible_keys(policy: Any, lookup: dict[str, str], states: list[dict[str, Any]]) -> set[str]:
    """What Rasa's `_get_possible_keys` returns, comparing only rules that can still match."""
    if not states:
        return set(lookup.keys())
    index = _index(policy, lookup)
    newest = states[-1]
    current = (newest.get(PREVIOUS_ACTION) or {}).get(ACTION_NAME)
    candidates = set(index.any_action)
    if isinstance(current, str):
        candidates |= index.by_action.get(current, frozenset())
    possible_keys: set[str] = set()
    for key in candidates:
        if policy._is_rule_applicable(key, 0, newest):  # noqa: SLF001
            possible_keys.add(key)
    for turn_index, state in enumerate(reversed(states[:-1]), start=1):
        if turn_index >= index.longest or not possible_keys:
            break
        possible_keys = {
            key
            for key in possible_keys
            if policy._is_rule_applicable(key, turn_index, state)  # noqa: SLF001
        }
    return possible_keys


def install() -> None:
    """Patch RulePolicy._get_possible_keys (once per process)."""
    if _originals:
        return
    from rasa.core.policies.rule_policy import RulePolicy

    _originals["keys"] = RulePolicy._get_possible_keys  # noqa: SLF001
    RulePolicy._get_possible_keys = get_possible_keys  # type: ignore[method-assign]  # noqa: SLF001


def uninstall() -> None:
    """Rasa as it was (for checks and profiles that compare)."""
    if _originals:
        from rasa.core.policies.rule_policy import RulePolicy

        RulePolicy._get_possible_keys = _originals.pop("keys")  # type: ignore[method-assign]  # noqa: SLF001
