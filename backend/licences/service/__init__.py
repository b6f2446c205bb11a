"""Waste licences: recording and verifying them, reading them, the hazardous-waste rule the
marketplace asks in its own transaction (:func:`licensed_receivers`, :func:`require_licence`,
:func:`licensed_pairs`), and the due-jobs runner's expiry notice.

Every public function that opens a session is keyword-only, owns its unit of work and takes
``now`` from the app's clock; the rule's functions run in the caller's session.
"""

from backend.licences.service.expiry import notify_expiring
from backend.licences.service.inputs import (
    EXPIRY_NOTICE_DAYS,
    UNCHANGED,
    LicenceChanges,
    LicenceDraft,
    LicenceFilter,
    LicenceStatus,
    LicenceView,
)
from backend.licences.service.reading import get_licence, list_licences
from backend.licences.service.records import (
    create_licence,
    delete_licence,
    unverify_licence,
    update_licence,
    verify_licence,
)
from backend.licences.service.rule import (
    licensed_pairs,
    licensed_receivers,
    require_licence,
)

__all__ = [
    "EXPIRY_NOTICE_DAYS",
    "UNCHANGED",
    "LicenceChanges",
    "LicenceDraft",
    "LicenceFilter",
    "LicenceStatus",
    "LicenceView",
    "create_licence",
    "delete_licence",
    "get_licence",
    "licensed_pairs",
    "licensed_receivers",
    "list_licences",
    "notify_expiring",
    "require_licence",
    "unverify_licence",
    "update_licence",
    "verify_licence",
]
