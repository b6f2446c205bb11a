"""Umbrella permits: issuing and changing permits, the members they cover, their conditions,
the allocations the holder shares out and the transfers members make (docs/permits.md).

Every public function is keyword-only and owns its unit of work; writes take ``now`` from the
app's clock. Every change of a condition's allocations locks the condition's row first.
"""

from backend.permits.service.allocations import set_allocation
from backend.permits.service.common import (
    ConditionView,
    EntryView,
    MemberView,
    PermitView,
    TransferView,
)
from backend.permits.service.conditions import add_condition, update_condition
from backend.permits.service.inputs import (
    ConditionDraft,
    PermitChanges,
    PermitDraft,
    TransferRequest,
)
from backend.permits.service.members import add_member, remove_member
from backend.permits.service.permits import issue_permit, update_permit
from backend.permits.service.reading import (
    get_condition,
    get_permit,
    ledger,
    list_conditions,
    list_members,
    list_permits,
    list_transfers,
)
from backend.permits.service.transfers import cancel_transfer, decide_transfer, request_transfer

__all__ = [
    "ConditionDraft",
    "ConditionView",
    "EntryView",
    "MemberView",
    "PermitChanges",
    "PermitDraft",
    "PermitView",
    "TransferRequest",
    "TransferView",
    "add_condition",
    "add_member",
    "cancel_transfer",
    "decide_transfer",
    "get_condition",
    "get_permit",
    "issue_permit",
    "ledger",
    "list_conditions",
    "list_members",
    "list_permits",
    "list_transfers",
    "remove_member",
    "request_transfer",
    "set_allocation",
    "update_condition",
    "update_permit",
]
