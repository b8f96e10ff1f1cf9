"""`python -m crm export-training`: reviewed messages as Rasa training data.

Writes data/nlu/reviewed.yml with the masked text of every message staff
assigned to an intent in the review queue (never the customer's own words
unmasked), then `make train` retrains. Each export leaves an audit entry, so
the insights page can compare the fallback rate before and after it.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from sqlalchemy.orm import Session

from crm.services.audit import audit
from crm.services.review import reviewed_examples
from crm.settings import PROJECT_ROOT

DEFAULT_PATH = PROJECT_ROOT / "data" / "nlu" / "reviewed.yml"
EXPORT_ACTION = "training.export"


class _Literal(str):
    pass


def _literal(dumper: yaml.SafeDumper, value: _Literal) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")


def _example(text: str) -> str:
    # One line per example; brackets would read as entity markup in Rasa's format.
    return " ".join(text.split()).replace("[", "<").replace("]", ">")


def render(examples: dict[str, list[str]]) -> str:
    dumper = yaml.SafeDumper
    dumper.add_representer(_Literal, _literal)
    nlu = [
        {"intent": intent, "examples": _Literal("".join(f"- {_example(t)}\n" for t in texts))}
        for intent, texts in sorted(examples.items())
        if texts
    ]
    body = yaml.dump({"version": "3.1", "nlu": nlu}, Dumper=dumper, sort_keys=False, allow_unicode=True)
    header = "# Written by `python -m crm export-training` from the staff review queue. Do not edit by hand.\n"
    return header + body


def export_training(session: Session, *, path: Path = DEFAULT_PATH, actor: str = "system") -> int:
    """Write the file; the number of examples written."""
    examples = reviewed_examples(session)
    count = sum(len(v) for v in examples.values())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(examples), encoding="utf-8")
    audit(session, actor=actor, action=EXPORT_ACTION, subject=str(path.name), detail={"examples": count})
    return count
