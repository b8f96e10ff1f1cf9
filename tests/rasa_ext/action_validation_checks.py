"""Checks of rasa_ext/action_validation.py (the action server's answers checked with a validator built
once), run inside `.venv-rasa` (tests/rasa_env/; test_action_validation.py makes each a test).
"""

from __future__ import annotations

from tests.rasa_env.inside import run_checks

GOOD = [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "customer_name", "value": "Ada", "timestamp": None}], "responses": [{"text": "Hi Ada"}]},
    {"events": [{"event": "active_loop", "name": None}, {"event": "followup", "name": "action_listen"}], "responses": []},
    {},
]
BAD = [
    {"events": "not a list", "responses": []},
    {"events": [{"name": "no event type"}], "responses": []},
    {"events": [{"event": "slot", "name": 7}], "responses": []},
    {"events": [], "responses": ["a bare string"]},
    ["not", "an", "object"],
]


def _outcome(call: object, result: object) -> tuple[str, str]:
    from jsonschema import ValidationError

    try:
        assert call(result) is True  # type: ignore[operator]
        return ("valid", "")
    except ValidationError as error:
        return ("invalid", error.message)


def _both(result: object) -> tuple[tuple[str, str], tuple[str, str]]:
    from rasa.core.actions.action import RemoteAction
    from rasa.utils.endpoints import EndpointConfig

    from rasa_ext import action_validation

    action = RemoteAction("action_x", EndpointConfig(url="http://127.0.0.1:9/webhook"))
    action_validation.uninstall()
    original = _outcome(action._validate_action_result, result)  # noqa: SLF001
    action_validation.install()
    try:
        patched = _outcome(action._validate_action_result, result)  # noqa: SLF001
    finally:
        action_validation.uninstall()
    return original, patched


def check_good_answers_pass_as_they_did() -> None:
    for result in GOOD:
        original, patched = _both(result)
        assert original == patched == ("valid", ""), (result, original, patched)


def check_bad_answers_fail_with_rasas_own_error() -> None:
    for result in BAD:
        original, patched = _both(result)
        assert original[0] == "invalid", (result, original)
        assert patched == original, (result, original, patched)
        assert "Failed to validate Action server response" in patched[1]


def check_the_schema_is_checked_once_not_per_answer() -> None:
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction
    from rasa.utils.endpoints import EndpointConfig

    from rasa_ext import action_validation

    cls = validator_for(RemoteAction.action_response_format_spec())
    original_check = cls.check_schema
    checks: list[object] = []

    def counting(schema: object, *args: object, **kwargs: object) -> None:
        checks.append(schema)
        original_check(schema, *args, **kwargs)

    action = RemoteAction("action_x", EndpointConfig(url="http://127.0.0.1:9/webhook"))
    cls.check_schema = counting  # type: ignore[method-assign]
    try:
        action_validation.uninstall()
        for result in GOOD:
            action._validate_action_result(result)  # noqa: SLF001
        assert len(checks) == len(GOOD), checks  # Rasa's own: one schema check per answer
        checks.clear()
        action_validation.install()
        for _ in range(10):
            for result in GOOD:
                action._validate_action_result(result)  # noqa: SLF001
        assert len(checks) <= 1, len(checks)  # at most the one at install
    finally:
        cls.check_schema = original_check  # type: ignore[method-assign]
        action_validation.uninstall()


def check_serve_installs_the_patch() -> None:
    import inspect

    import rasa_ext.serve

    assert "action_validation.install()" in inspect.getsource(rasa_ext.serve.install_patches)
    assert "install_patches()" in inspect.getsource(rasa_ext.serve.main)


run_checks(globals())
