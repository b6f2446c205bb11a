"""Clusters: finding them and opening new ones (platform admins)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from backend.identity.models import Cluster, Sector
from backend.identity.service.checks import _like_pattern
from backend.kit.db import Database
from backend.kit.errors import ErrorCode, Problems, ServiceError
from backend.kit.pagination import Page, PageRequest, Sort, SortKey, paginate
from backend.kit.validation import LANGUAGE_TAG, Place, check_place, check_text, time_zones


@dataclass(frozen=True, slots=True)
class NewCluster:
    slug: str
    name: str
    region: str
    country: str
    sector: Sector
    centre: Place
    currency: str
    languages: list[str]
    timezone: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class ClusterFilter:
    country: str | None = None
    sector: Sector | None = None
    search: str | None = None


CLUSTERS_BY_NAME = Sort("clusters:name", (SortKey(Cluster.name), SortKey(Cluster.id)))


async def get_cluster(*, db: Database, cluster_id: uuid.UUID) -> Cluster | None:
    async with db.read() as session:
        return await session.get(Cluster, cluster_id)


async def get_cluster_by_slug(*, db: Database, slug: str) -> Cluster | None:
    """The cluster of a web address (``/insights/maniwa-wood``)."""
    async with db.read() as session:
        return await session.scalar(select(Cluster).where(Cluster.slug == slug))


async def list_clusters(*, db: Database, filter: ClusterFilter, page: PageRequest) -> Page[Cluster]:
    statement = select(Cluster)
    if filter.country:
        if not re.fullmatch(r"[A-Za-z]{2}", filter.country):
            raise ServiceError.of(
                ErrorCode.VALIDATION, "Use an ISO 3166-1 alpha-2 code", "filter.country"
            )
        statement = statement.where(Cluster.country == filter.country.upper())
    if filter.sector is not None:
        statement = statement.where(Cluster.sector == filter.sector)
    if filter.search:
        pattern = _like_pattern(filter.search)
        statement = statement.where(
            func.lower(Cluster.name).like(pattern, escape="\\")
            | func.lower(Cluster.region).like(pattern, escape="\\")
        )
    async with db.read() as session:
        return await paginate(session, statement, sort=CLUSTERS_BY_NAME, request=page)


async def create_cluster(*, db: Database, cluster: NewCluster) -> Cluster:
    """Platform admins open a new cluster (the permission class gates the role)."""
    problems = Problems()
    if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", cluster.slug) or len(cluster.slug) > 64:
        problems.add("slug", "Use lower-case letters, digits and single hyphens (at most 64)")
    check_text(problems, "name", cluster.name, min_length=2, max_length=120)
    check_text(problems, "region", cluster.region, min_length=2, max_length=120)
    if not re.fullmatch(r"[A-Z]{2}", cluster.country):
        problems.add("country", "Use an ISO 3166-1 alpha-2 code such as IN or JP")
    if not re.fullmatch(r"[A-Z]{3}", cluster.currency):
        problems.add("currency", "Use an ISO 4217 code such as INR or JPY")
    if not cluster.languages or not all(LANGUAGE_TAG.fullmatch(t) for t in cluster.languages):
        problems.add("languages", "Give one or more BCP 47 language tags such as ta or ja")
    if cluster.timezone not in time_zones():
        problems.add("timezone", "Use an IANA time zone such as Asia/Kolkata")
    check_place(problems, "centre", cluster.centre)
    check_text(
        problems, "description", cluster.description, min_length=0, max_length=4000, multiline=True
    )
    problems.raise_if_any()
    try:
        async with db.write() as session:
            created = Cluster(
                slug=cluster.slug,
                name=cluster.name.strip(),
                region=cluster.region.strip(),
                country=cluster.country,
                sector=cluster.sector,
                centre_lat=cluster.centre.lat,
                centre_lon=cluster.centre.lon,
                currency=cluster.currency,
                languages=list(cluster.languages),
                timezone=cluster.timezone,
                description=cluster.description.strip(),
            )
            session.add(created)
    except IntegrityError as exc:
        raise ServiceError.of(
            ErrorCode.CONFLICT, "A cluster with this slug exists", "slug"
        ) from exc
    return created
