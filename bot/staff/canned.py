"""Canned replies for the staff console, from canned_replies.yml (next to shop.yml).

The owner edits the file like the shop profile; it is re-read when it
changes. Without it (or if it cannot be read) the console offers a few
general ones, so the feature never blocks a reply.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

logger = logging.getLogger(__name__)


class CannedReply(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1, max_length=60)
    text: str = Field(min_length=1, max_length=2000)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    replies: list[CannedReply] = Field(default_factory=list)


DEFAULTS: tuple[CannedReply, ...] = (
    CannedReply(title="Looking into it", text="Thanks for waiting — I'm looking into this for you now."),
    CannedReply(title="Need order number", text="Could you tell me your order number, please?"),
    CannedReply(title="Anything else?", text="Is there anything else I can help you with today?"),
    CannedReply(title="Handing back", text="Glad that's sorted! I'll hand you back to our assistant now."),
)


@dataclass(frozen=True)
class CannedReplies:
    replies: tuple[CannedReply, ...]
    source: str  # the file, or "defaults"


def load_canned(path: Path) -> CannedReplies:
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return CannedReplies(DEFAULTS, "defaults")
    return _load(str(path), mtime)


@lru_cache(maxsize=4)
def _load(path: str, _mtime_ns: int) -> CannedReplies:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        parsed = _File.model_validate(data)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        logger.warning("canned replies unreadable; offering the defaults: %s", exc)
        return CannedReplies(DEFAULTS, "defaults")
    return CannedReplies(tuple(parsed.replies) or DEFAULTS, path)
