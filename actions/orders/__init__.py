"""Orders: status, history, invoice, cancel, change, new address, returns, refunds.

By topic: `status` (looking), `changes` (cancel, change items, "no"),
`address` (a new delivery address), `returns` (returns and refunds); `turn`
is one run of an order action and `words` the wording they share.

Every action looks the customer up itself (`verified_customer`) and reads
orders only through `get_order_for_customer`, so an order number that is
someone else's gets the same answer as one that does not exist. Anything that
changes an order waits for an explicit yes: the question sets `awaiting` (a
featurized slot the rules read) and `order_in_question`; the confirming
action checks both again before it touches the CRM.

The action server imports every module of this package itself (rasa-sdk's
`register_package`); the names below are re-exported so that
`from actions.orders import ...` keeps working.
"""

from actions.orders.address import (
    ADDRESS_TOO_LONG,
    INVALID_ADDRESS,
    MAX_ADDRESS_LENGTH,
    ActionAskAddressFormNewAddress,
    ActionChangeAddress,
    ActionSaveAddress,
    ValidateAddressForm,
    clean_address,
    looks_like_address,
)
from actions.orders.changes import (
    CANNOT_CANCEL_SHIPPED,
    ActionCancelOrder,
    ActionChangeOrder,
    ActionConfirmCancel,
    ActionKeepOrder,
    explain_not_cancellable,
)
from actions.orders.returns import NO_RETURNS, ActionConfirmRefund, ActionRefundStatus, ActionRequestRefund, return_state
from actions.orders.status import ActionInvoice, ActionOrderHistory, ActionOrderStatus
from actions.orders.turn import OrderAction, Turn
from actions.orders.words import (
    ANYTHING_ELSE,
    LOST_TRACK,
    NO_ORDERS,
    ORDER_NOT_FOUND,
    WHICH_ORDER,
    YES_NO,
    on_day,
    order_progress,
    status_text,
)

__all__ = [
    "ADDRESS_TOO_LONG",
    "ANYTHING_ELSE",
    "CANNOT_CANCEL_SHIPPED",
    "INVALID_ADDRESS",
    "LOST_TRACK",
    "MAX_ADDRESS_LENGTH",
    "NO_ORDERS",
    "NO_RETURNS",
    "ORDER_NOT_FOUND",
    "WHICH_ORDER",
    "YES_NO",
    "ActionAskAddressFormNewAddress",
    "ActionCancelOrder",
    "ActionChangeAddress",
    "ActionChangeOrder",
    "ActionConfirmCancel",
    "ActionConfirmRefund",
    "ActionInvoice",
    "ActionKeepOrder",
    "ActionOrderHistory",
    "ActionOrderStatus",
    "ActionRefundStatus",
    "ActionRequestRefund",
    "ActionSaveAddress",
    "OrderAction",
    "Turn",
    "ValidateAddressForm",
    "clean_address",
    "explain_not_cancellable",
    "looks_like_address",
    "on_day",
    "order_progress",
    "return_state",
    "status_text",
]
