"""The EIC API's Python client (see clients/python/README.md)."""

from eic_client.client import (
    EICClient,
    EICError,
    Operation,
    Session,
    load_operations,
    manifest_text,
)

__all__ = ["EICClient", "EICError", "Operation", "Session", "load_operations", "manifest_text"]
