"""The action server's answers checked against a schema compiled once (a patch of Rasa 3.6, see rasa_ext.serve).

Rasa 3.6 checks every answer of the action server with
`jsonschema.validate(result, RemoteAction.action_response_format_spec())`
(`RemoteAction._validate_action_result`, rasa/core/actions/action.py).
`jsonschema.validate` first checks the *schema* against its draft 2020-12
metaschema, then builds a validator, on every call: 17 ms of Rasa's CPU per
action call on the project's machine, against 0.5 ms to check the answer with
a validator built once (docs/performance.md, fourth round). A turn makes one to
three action calls (forms validate through one more), so under load this was
about 60 % of Rasa's CPU (py-spy, 20 concurrent conversations).

`install()` replaces that method with one that checks the schema once, keeps
the validator, and checks each answer with it: the same draft (the one
`validate` picks), the same error (`best_match` of the same errors, with Rasa's
own words appended), so a malformed answer still fails the turn as before.

The patch point is this one method: on a Rasa upgrade, check that
`RemoteAction._validate_action_result` still validates against
`action_response_format_spec()` alone.
"""

from __future__ import annotations

from typing import Any

_originals: dict[str, Any] = {}
_validator: list[Any] = []


def validator() -> Any:
    """The response validator, built (and its schema checked) at first use."""
    if not _validator:
        from jsonschema.validators import validator_for
        from rasa.core.actions.action import RemoteAction

        schema = RemoteAction.action_response_format_spec()
        cls = validator_for(schema)
        cls.check_schema(schema)
        _validator.append(cls(schema))
    return _validator[0]


def validate_action_result(_action: Any, result: dict[str, Any]) -> bool:
    """What Rasa's `_validate_action_result` does, with the validator built once."""
    from jsonschema.exceptions import best_match
    from rasa.shared.constants import DOCS_BASE_URL

    error = best_match(validator().iter_errors(result))
    if error is not None:
        error.message += (
            ". Failed to validate Action server response from API, "
            "make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise error
    return True


def install() -> None:
    """Patch RemoteAction._validate_action_result (once per process)."""
    if _originals:
        return
    from rasa.core.actions.action import RemoteAction

    _originals["validate"] = RemoteAction._validate_action_result  # noqa: SLF001
    validator()  # a broken schema shows at start-up, not at the first customer's turn
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]  # noqa: SLF001


def uninstall() -> None:
    """Rasa as it was (for checks and profiles that compare)."""
    if _originals:
        from rasa.core.actions.action import RemoteAction

        RemoteAction._validate_action_result = _originals.pop("validate")  # type: ignore[method-assign]  # noqa: SLF001
