"""The demo data: the brief's four prototype clusters with fictional organisations and people,
and listings, trades, events, purchasing groups and forums among them.

``ids`` derives every demo id; ``clusters`` holds the clusters and accounts; ``listings``,
``trades``, ``events``, ``purchasing`` and ``forums`` each seed one domain through its service;
``history`` writes a year of completed trades per cluster, shaped like the inter-firm network the
brief gives it, as the marketplace would have left them; ``seed`` runs them in order. The
per-domain modules import only ``ids``, never each other.
"""

from backend.demo.clusters import (
    CLUSTERS,
    DEMO_EMAIL_DOMAIN,
    DEMO_PASSWORD,
    SECOND_MEMBERSHIP,
    DemoCluster,
    DemoOrganisation,
    demo_email,
    is_empty,
)
from backend.demo.ids import ADMIN_KEY, DEMO_NAMESPACE, demo_id
from backend.demo.seed import SeedReport, seed_demo

__all__ = [
    "ADMIN_KEY",
    "CLUSTERS",
    "DEMO_EMAIL_DOMAIN",
    "DEMO_NAMESPACE",
    "DEMO_PASSWORD",
    "SECOND_MEMBERSHIP",
    "DemoCluster",
    "DemoOrganisation",
    "SeedReport",
    "demo_email",
    "demo_id",
    "is_empty",
    "seed_demo",
]
