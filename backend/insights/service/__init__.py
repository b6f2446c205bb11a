"""Cluster insights: the inter-firm network of a cluster, its gaps and its impact, for the
cluster's facilitators, universities and local governments (and, as aggregates, for everyone).

What is computed and how each figure is defined is written where it is computed:
``backend/insights/network.py`` (the network, its type, anchors and dependence), ``core``
(members, flows between activities, the monthly outcomes, suppression, the comparison of
clusters) and ``social`` (joint purchasing, events, forums); ``views`` holds what the views
show. Who sees what is in ``backend/insights/policies.py``.

Costs: the part that reads a year of trades (the network, the flows and the monthly series) is
a fixed number of statements whatever the cluster's size (the database sums; Python sees one row
per pair of organisations and material), and is kept in :mod:`backend.insights.cache` until a
write changes the tables it read. The lists (isolated members, unmatched offers) are pages.
Callers import this facade, not the modules.
"""

from backend.insights.service.core import (
    CandidateTaker,
    ClusterComparison,
    UnmatchedOffer,
    all_anchors,
    all_dependences,
    all_isolated,
    cluster_insights,
    compare_clusters,
    isolated_members,
    unmatched_offers,
    unmatched_page,
)
from backend.insights.service.social import (
    Attendance,
    Savings,
    SocialCapital,
    social_capital,
)
from backend.insights.service.views import (
    CANDIDATES_PER_OFFER,
    CORE_TABLES,
    DEFAULT_UNMATCHED_DAYS,
    LISTED_ORGANISATIONS,
    MAX_COMPARED_CLUSTERS,
    MAX_UNMATCHED_DAYS,
    SOCIAL_TABLES,
    UNMATCHED_PAGE_DEFAULT,
    UNMATCHED_PAGE_MOST,
    UNMATCHED_TABLES,
    ActivityFlow,
    AnchorView,
    ClusterInsights,
    DependenceView,
    MemberFigures,
    Money,
    Month,
    OrganisationLabel,
    Outcomes,
    UnmatchedMaterialView,
    activity,
    activity_title,
    label_of,
)

__all__ = [
    "CANDIDATES_PER_OFFER",
    "CORE_TABLES",
    "DEFAULT_UNMATCHED_DAYS",
    "LISTED_ORGANISATIONS",
    "MAX_COMPARED_CLUSTERS",
    "MAX_UNMATCHED_DAYS",
    "SOCIAL_TABLES",
    "UNMATCHED_PAGE_DEFAULT",
    "UNMATCHED_PAGE_MOST",
    "UNMATCHED_TABLES",
    "ActivityFlow",
    "AnchorView",
    "Attendance",
    "CandidateTaker",
    "ClusterComparison",
    "ClusterInsights",
    "DependenceView",
    "MemberFigures",
    "Money",
    "Month",
    "OrganisationLabel",
    "Outcomes",
    "Savings",
    "SocialCapital",
    "UnmatchedMaterialView",
    "UnmatchedOffer",
    "activity",
    "activity_title",
    "all_anchors",
    "all_dependences",
    "all_isolated",
    "cluster_insights",
    "compare_clusters",
    "isolated_members",
    "label_of",
    "social_capital",
    "unmatched_offers",
    "unmatched_page",
]
