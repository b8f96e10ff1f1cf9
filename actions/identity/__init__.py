"""Who the customer is: the gateway's word at session start, or proof in chat.

In-chat proof is an order number plus the e-mail address on that order. The
answer to a wrong pair never says which half was wrong, so the bot cannot be
used to find out which order numbers exist or whose they are. Three misses
in a conversation (counted in the CRM audit log, so a new session does not
reset them) end the attempt and bring in a person.

By topic: `session` (session start), `form` (the verification form's questions
and checks), `attempts` (counting misses), `complete` (the request to resume,
and granting identity). The names below are re-exported so that
`from actions.identity import ...` keeps working.
"""

from actions.identity.attempts import (
    FAILED_ATTEMPT_ACTION,
    MAX_VERIFICATION_ATTEMPTS,
    NO_MATCH,
    record_failed_attempt,
)
from actions.identity.complete import (
    PENDING_REQUEST_ACTIONS,
    VERIFICATION_FAILED,
    VERIFICATION_FAILED_SHORT,
    VERIFIED,
    VERIFIED_NOTHING_PENDING,
    ActionCompleteVerification,
    ActionRememberRequest,
    start_verification,
)
from actions.identity.form import (
    ASK_EMAIL,
    ASK_EMAIL_AGAIN,
    ASK_ORDER_NUMBER,
    ASK_ORDER_NUMBER_AGAIN,
    INVALID_EMAIL,
    INVALID_ORDER_NUMBER,
    ActionAskVerifyFormEmail,
    ActionAskVerifyFormOrderNumber,
    ValidateVerifyForm,
)
from actions.identity.session import IDENTITY_SLOTS, ActionSessionStart

__all__ = [
    "ASK_EMAIL",
    "ASK_EMAIL_AGAIN",
    "ASK_ORDER_NUMBER",
    "ASK_ORDER_NUMBER_AGAIN",
    "FAILED_ATTEMPT_ACTION",
    "IDENTITY_SLOTS",
    "INVALID_EMAIL",
    "INVALID_ORDER_NUMBER",
    "MAX_VERIFICATION_ATTEMPTS",
    "NO_MATCH",
    "PENDING_REQUEST_ACTIONS",
    "VERIFICATION_FAILED",
    "VERIFICATION_FAILED_SHORT",
    "VERIFIED",
    "VERIFIED_NOTHING_PENDING",
    "ActionAskVerifyFormEmail",
    "ActionAskVerifyFormOrderNumber",
    "ActionCompleteVerification",
    "ActionRememberRequest",
    "ActionSessionStart",
    "ValidateVerifyForm",
    "record_failed_attempt",
    "start_verification",
]
