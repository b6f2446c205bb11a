"""The due-jobs runner's part: tell a licence's holder, once, that it ends within
``EXPIRY_NOTICE_DAYS`` days, so it is renewed before hazardous waste stops reaching them."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update

from backend.identity import service as identity_service
from backend.identity.models import Cluster, Organisation
from backend.kit.clock import local_day
from backend.kit.db import Database
from backend.licences.models import WasteLicence
from backend.licences.service.inputs import EXPIRY_NOTICE_DAYS, SUBJECT
from backend.notifications import service as notifications
from backend.notifications.service import texts

log = logging.getLogger("eic.jobs")
DUE_BATCH = 500


async def notify_expiring(*, db: Database, now: datetime) -> int:
    """Tell the people of each verified licence's holder whose last day is 0 to
    ``EXPIRY_NOTICE_DAYS`` days away (the holder's cluster time zone), once per licence and
    last day; returns how many licences were told.

    Safe to run twice and on several processes at once: each licence is claimed by a
    conditional UPDATE of ``expiry_notified_at``, and only the runner whose UPDATE changed the
    row notifies (the notification's dedupe key is a second guard).
    """
    # A superset in UTC days (a cluster's day is at most one off), narrowed per cluster below.
    utc_day = now.date()
    async with db.read() as session:
        due = (
            await session.execute(
                select(WasteLicence.id, WasteLicence.valid_to, Cluster.timezone)
                .join(Organisation, Organisation.id == WasteLicence.organisation_id)
                .join(Cluster, Cluster.id == Organisation.cluster_id)
                .where(
                    WasteLicence.verified_at.is_not(None),
                    WasteLicence.expiry_notified_at.is_(None),
                    WasteLicence.valid_to >= utc_day - timedelta(days=1),
                    WasteLicence.valid_to <= utc_day + timedelta(days=EXPIRY_NOTICE_DAYS + 1),
                )
                .order_by(WasteLicence.valid_to, WasteLicence.id)
                .limit(DUE_BATCH)
            )
        ).all()
    told = 0
    for licence_id, valid_to, timezone in due:
        days_left = (valid_to - local_day(now, timezone)).days
        if not 0 <= days_left <= EXPIRY_NOTICE_DAYS:
            continue
        try:
            if await _tell(db, licence_id, days_left, now):
                told += 1
        except Exception:  # one broken licence must not hold back the others
            log.exception("telling the holder of waste licence %s of its expiry failed", licence_id)
    return told


async def _tell(db: Database, licence_id: uuid.UUID, days_left: int, now: datetime) -> bool:
    async with db.write() as session:
        claimed = await session.execute(
            update(WasteLicence)
            .where(
                WasteLicence.id == licence_id,
                WasteLicence.verified_at.is_not(None),
                WasteLicence.expiry_notified_at.is_(None),
            )
            .values(expiry_notified_at=now)
            .returning(
                WasteLicence.organisation_id,
                WasteLicence.issuer_name,
                WasteLicence.number,
                WasteLicence.valid_to,
            )
            .execution_options(synchronize_session=False)
        )
        row = claimed.first()
        if row is None:  # another runner told them, or the licence changed meanwhile
            return False
        holder_id, issuer_name, number, valid_to = row
        await notifications.add(
            session,
            user_ids=await identity_service.member_ids(session, holder_id),
            text=(
                texts.LICENCE_EXPIRING_TODAY(number=number, issuer=issuer_name, valid_to=valid_to)
                if days_left == 0
                else texts.LICENCE_EXPIRING(
                    number=number, days=days_left, issuer=issuer_name, valid_to=valid_to
                )
            ),
            subject_type=SUBJECT,
            subject_id=licence_id,
            details={"validTo": valid_to.isoformat()},
            dedupe=f"{SUBJECT}:{licence_id}:EXPIRING:{valid_to.isoformat()}",
            now=now,
        )
        return True
