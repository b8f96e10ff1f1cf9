"""RulePolicy's rule matching, stopped where no rule can reach (a patch of Rasa 3.6, see rasa_ext.serve).

Rasa 3.6's `RulePolicy._get_possible_keys` filters every learned rule against
every state of the conversation, newest first: for a conversation of N states
and R rules, N x R calls of `_is_rule_applicable`. Past a rule's own length a
rule is applicable by definition (`_is_rule_applicable` returns True once
`turn_index >= len(rule states)`), so once the turn index passes the longest
rule no state can remove a key: the rest of the loop only copies the set.
Our rules are at most three states long and a conversation has tens of states,
so that rest was most of the work: about 7 % of Rasa's CPU per message under
load (py-spy, docs/performance.md, fifth round).

`install()` replaces the method with the same filter, stopped at the longest
rule of the lookup it is given. Same keys for any states (checked against
Rasa's own method in tests/rasa_ext/rule_policy_checks.py).

The patch point is this one method: on a Rasa upgrade, check that
`_get_possible_keys` still filters with `_is_rule_applicable`, and that this
still accepts every rule once `turn_index >= len(rule states)`.
"""

from __future__ import annotations

from typing import Any

_originals: dict[str, Any] = {}


def get_possible_keys(policy: Any, lookup: dict[str, str], states: list[dict[str, Any]]) -> set[str]:
    """What Rasa's `_get_possible_keys` returns, without the states no rule reaches."""
    possible_keys = set(lookup.keys())
    longest = max((len(policy._rule_key_to_state(key)) for key in possible_keys), default=0)  # noqa: SLF001
    for turn_index, state in enumerate(reversed(states)):
        if turn_index >= longest or not possible_keys:
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
