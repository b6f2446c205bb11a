"""Helpers shared by the tests of more than one domain: the error the API answers with, and a
time as the API writes it. Not a test module."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def problem(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """One entry of a payload's ``errors``."""
    return {"code": code, "message": message, "field": field}


def iso(moment: datetime) -> str:
    """``moment`` as the API writes times."""
    return moment.isoformat()
