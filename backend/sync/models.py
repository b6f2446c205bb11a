"""The change log behind the apps' offline sync.

Every write transaction that touches something an app keeps offline (a listing, an offer, a
trade, a purchasing group, a forum thread, an event, a notification) adds rows here as its last
step before commit: one commit number (``sequence``) for the whole transaction, a ``position``
per changed thing inside it, and one row per *scope*, the id of whoever may be told about it (an
organisation, a person, or the thread, event or group itself for the people who follow, attend
or pledge to it). The log holds no content: the feed reads each thing's current state, through
its domain's read rules, when an app asks.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from backend.kit.db import Base, UTCDateTime, enum_column, utcnow


class ChangeType(StrEnum):
    LISTING = "LISTING"
    OFFER = "OFFER"
    TRADE = "TRADE"
    PURCHASE_GROUP = "PURCHASE_GROUP"
    FORUM_THREAD = "FORUM_THREAD"
    EVENT = "EVENT"
    NOTIFICATION = "NOTIFICATION"


class SyncLogState(Base):
    """One row: the last commit number given out, and up to which one the log was pruned.

    Taking the next number updates this row, whose lock is then held until the transaction
    commits: the next writer waits for it, so commit numbers are handed out in commit order and
    a reader that has seen number N can never later meet a commit numbered below N.
    """

    __tablename__ = "sync_log_state"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_sequence: Mapped[int] = mapped_column(BigInteger, default=0)
    pruned_through: Mapped[int] = mapped_column(BigInteger, default=0)
    # Which history the commit numbers belong to: empty until the database is first restored
    # from a backup, then a new random value per restore (backend/backup.py). A restore takes
    # the numbers back in time, so a cursor of another epoch may point at commits that were
    # lost or renumbered: it is answered RESYNC_REQUIRED.
    epoch: Mapped[str] = mapped_column(String(32), default="", server_default="")


class Change(Base):
    """Something changed in a commit, for one scope."""

    __tablename__ = "sync_changes"
    __table_args__ = (Index("ix_sync_changes_sequence", "sequence"),)

    # (scope, sequence, position) is also the feed's index: a person's changes after a cursor
    scope_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    sequence: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_type: Mapped[ChangeType] = mapped_column(enum_column(ChangeType, "sync_change_type"))
    entity_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
