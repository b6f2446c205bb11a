"""The demo's stable ids: UUIDv5 of a kind and a name in one namespace.

Seeding twice changes nothing, and the same demo object has the same id on every machine (the
apps' screenshots and our acceptance checks rely on it). Every derivation lives here, so the
per-domain demo modules name each other's objects without importing each other, and so the
names that make an id cannot drift apart between the module that creates an object and the
one that refers to it.
"""

from __future__ import annotations

import uuid

DEMO_NAMESPACE = uuid.UUID("6f1c1c52-8d0e-4c43-9f3b-1c0a7e5d2b10")
# The platform admin's demo key: the local part of its email and the name of its user id.
ADMIN_KEY = "admin"


def demo_id(kind: str, key: str) -> uuid.UUID:
    return uuid.uuid5(DEMO_NAMESPACE, f"{kind}:{key}")


def cluster_id(slug: str) -> uuid.UUID:
    return demo_id("cluster", slug)


def organisation_id(key: str) -> uuid.UUID:
    return demo_id("organisation", key)


def user_id(key: str) -> uuid.UUID:
    """The demo account of the organisation ``key`` (or of :data:`ADMIN_KEY`)."""
    return demo_id("user", key)


def membership_id(person: str, organisation: str | None = None) -> uuid.UUID:
    """``person``'s membership of their own organisation, or of ``organisation`` as well."""
    return demo_id("membership", person if organisation is None else f"{person}+{organisation}")


def listing_id(organisation: str, title: str, copy: int) -> uuid.UUID:
    """The ``copy``-th listing made from one template; trades answer copy 0."""
    return demo_id("listing", f"{organisation}:{title}:{copy}")


def offer_id(scenario: str) -> uuid.UUID:
    return demo_id("offer", scenario)


def lot_id(supplier: str, material: str, lot: int) -> uuid.UUID:
    """The listing of a supplier's ``lot``-th lot of a material in the trade history (lots
    counted back from the load, the newest 0), which the history's trades answer."""
    return demo_id("listing", f"{supplier}:{material}:lot-{lot}")


def history_offer_id(trade: str) -> uuid.UUID:
    """The offer that became the history's trade ``trade``."""
    return demo_id("offer", f"history:{trade}")


def history_trade_id(trade: str) -> uuid.UUID:
    """``trade``: supplier>receiver:material:n, the n-th trade of that flow (n from 0)."""
    return demo_id("trade", trade)


def event_id(organiser: str, title: str) -> uuid.UUID:
    return demo_id("event", f"{organiser}:{title}")


def purchase_group_id(organiser: str, title: str) -> uuid.UUID:
    return demo_id("purchase-group", f"{organiser}:{title}")


def forum_id(community: str) -> uuid.UUID:
    return demo_id("forum", community)


def thread_id(community: str, title: str) -> uuid.UUID:
    return demo_id("thread", f"{community}:{title}")


def post_id(thread: uuid.UUID, index: int) -> uuid.UUID:
    # str(UUID), the hyphenated form, as the first seeder wrote it
    return demo_id("post", f"{thread}:{index}")


def permit_id(key: str) -> uuid.UUID:
    return demo_id("permit", key)


def permit_condition_id(permit: str, condition: str) -> uuid.UUID:
    return demo_id("permit-condition", f"{permit}:{condition}")


def permit_transfer_id(permit: str, key: str) -> uuid.UUID:
    return demo_id("permit-transfer", f"{permit}:{key}")


def permit_return_id(
    permit: str, condition: str, member: str, period: int, version: int
) -> uuid.UUID:
    """A member's return version for the ``period``-th period of a permit's validity (from 0):
    counted from the validity's start, not named by date, so a later load finds it."""
    return demo_id("permit-return", f"{permit}:{condition}:{member}:{period}:{version}")


def licence_id(holder: str, number: str) -> uuid.UUID:
    return demo_id("waste-licence", f"{holder}:{number}")
