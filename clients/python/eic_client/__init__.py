"""The EIC API's Python client (see clients/python/README.md)."""

from eic_client.client import EICClient, EICError, Operation, Session, load_operations

__all__ = ["EICClient", "EICError", "Operation", "Session", "load_operations"]
