"""Push delivery through Expo, Firebase Cloud Messaging and APNs; see outbox.py."""

from backend.notifications.push.config import (
    DEFAULT_TIMEOUT,
    PushConfig,
    Senders,
    enabled_providers,
)
from backend.notifications.push.message import Push, message_text
from backend.notifications.push.outbox import (
    BASE_DELAY,
    BATCH,
    KEEP_FAILED,
    KEEP_SENT,
    LEASE,
    MAX_ATTEMPTS,
    RECEIPT_DELAY,
    Backlog,
    DeliveryReport,
    ReceiptsReport,
    backlog,
    backoff,
    check_receipts,
    deliver_due,
    forget_finished,
    http_client,
    run_worker,
    worker_name,
)
from backend.notifications.push.provider import MAX_DELAY

__all__ = [
    "BASE_DELAY",
    "BATCH",
    "DEFAULT_TIMEOUT",
    "KEEP_FAILED",
    "KEEP_SENT",
    "LEASE",
    "MAX_ATTEMPTS",
    "MAX_DELAY",
    "RECEIPT_DELAY",
    "Backlog",
    "DeliveryReport",
    "Push",
    "PushConfig",
    "ReceiptsReport",
    "Senders",
    "backlog",
    "backoff",
    "check_receipts",
    "deliver_due",
    "enabled_providers",
    "forget_finished",
    "http_client",
    "message_text",
    "run_worker",
    "worker_name",
]
