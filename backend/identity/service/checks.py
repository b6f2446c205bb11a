"""Checks that several identity activities share: emails, subtypes and search patterns."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from backend.identity.models import SUBTYPES_BY_KIND, OrganisationKind, OrganisationSubtype
from backend.kit.errors import ErrorCode, Problems, ServiceError
from backend.kit.validation import has_control_characters

# Why an erased account stays as it is (backend/identity/service/privacy.py anonymises it).
DELETED_ACCOUNT = (
    "This account was deleted at its owner's request; it cannot be enabled again (its owner "
    "may register anew)"
)


def normalise_email(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ServiceError.of(ErrorCode.VALIDATION, "Enter a valid email address", "email") from exc


def _check_subtype(
    problems: Problems, field: str, kind: OrganisationKind, subtype: OrganisationSubtype | None
) -> None:
    if subtype is not None and subtype not in SUBTYPES_BY_KIND[kind]:
        allowed = ", ".join(sorted(s.value for s in SUBTYPES_BY_KIND[kind]))
        problems.add(field, f"A {kind.value} organisation's subtype is one of: {allowed}")


def _like_pattern(search: str) -> str:
    if has_control_characters(search, multiline=False):
        raise ServiceError.of(
            ErrorCode.VALIDATION, "Must not contain control characters", "filter.search"
        )
    escaped = search.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
