"""Joint purchasing: groups from open to delivered (or failed, or cancelled), pledges that can
never pass the maximum, settlement, the due-job runner's part, and what the groups saved a
cluster (its insights).

Every public function is keyword-only, owns its unit of work and takes ``now`` from the app's
clock: a deadline takes effect for every read at once, without waiting for a job.
"""

from backend.purchasing.service.common import effective_status
from backend.purchasing.service.groups import (
    cancel_group,
    close_group,
    create_group,
    mark_delivered,
    mark_ordered,
    oldest_overdue_deadline,
    record_due_outcomes,
    update_group,
)
from backend.purchasing.service.inputs import (
    UNCHANGED,
    GroupChanges,
    GroupDraft,
    GroupFilter,
    GroupView,
    PledgeView,
)
from backend.purchasing.service.pledges import pledge, update_pledge, withdraw_pledge
from backend.purchasing.service.reading import (
    get_group,
    group_pledges,
    groups_for_sync,
    list_groups,
    my_pledges,
    pledged_group_ids,
)
from backend.purchasing.service.savings import JointPurchaseSavings, joint_purchase_savings
from backend.purchasing.service.settlement import PriceTier, Settlement, settle, tier_progress

__all__ = [
    "UNCHANGED",
    "GroupChanges",
    "GroupDraft",
    "GroupFilter",
    "GroupView",
    "JointPurchaseSavings",
    "PledgeView",
    "PriceTier",
    "Settlement",
    "cancel_group",
    "close_group",
    "create_group",
    "effective_status",
    "get_group",
    "group_pledges",
    "groups_for_sync",
    "joint_purchase_savings",
    "list_groups",
    "mark_delivered",
    "mark_ordered",
    "my_pledges",
    "oldest_overdue_deadline",
    "pledge",
    "pledged_group_ids",
    "record_due_outcomes",
    "settle",
    "tier_progress",
    "update_group",
    "update_pledge",
    "withdraw_pledge",
]
