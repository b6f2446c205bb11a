"""Cluster insights: the inter-firm network of a cluster, its gaps and its impact, for the
institutions and policy makers that steer it (GraphQL, CSV exports and server-rendered pages)."""
