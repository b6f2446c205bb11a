"""Due jobs: what must happen once a time has passed, recorded exactly once.

Reads never wait for these (a purchasing group past its deadline reads CONFIRMED or FAILED at
once); the runner records the outcome and tells the people concerned (and tells holders of
verified waste licences ending within 30 days). It runs from
``eic run-due-jobs`` (cron, systemd timers) and every ``EIC_DUE_JOBS_INTERVAL_SECONDS`` inside
``eic serve``. Each job claims its row with a conditional UPDATE, so running it twice, or on
several processes at once, does every job once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from backend import idempotency
from backend.kit.clock import Clock
from backend.kit.db import Database
from backend.licences import service as licences_service
from backend.notifications import push
from backend.purchasing import service as purchasing_service
from backend.sync import service as sync_service

log = logging.getLogger("eic.jobs")


@dataclass(frozen=True, slots=True)
class DueJobsReport:
    purchase_groups_closed: int
    idempotency_keys_forgotten: int = 0
    sync_changes_forgotten: int = 0
    push_messages_forgotten: int = 0
    licence_expiry_notices: int = 0


async def run_due_jobs(db: Database, clock: Clock) -> DueJobsReport:
    return DueJobsReport(
        purchase_groups_closed=await purchasing_service.record_due_outcomes(db=db, now=clock.now()),
        idempotency_keys_forgotten=await idempotency.forget_expired(db, clock.now()),
        sync_changes_forgotten=await sync_service.prune(db=db, now=clock.now()),
        push_messages_forgotten=await push.forget_finished(db, clock.now()),
        licence_expiry_notices=await licences_service.notify_expiring(db=db, now=clock.now()),
    )


async def run_periodically(db: Database, clock: Clock, interval_seconds: float) -> None:
    """Run the due jobs every ``interval_seconds`` until cancelled; a failed run is logged and
    the next one tries again."""
    while True:
        try:
            report = await run_due_jobs(db, clock)
            if report.purchase_groups_closed:
                log.info("due jobs: %s purchase groups closed", report.purchase_groups_closed)
        except Exception:  # the loop must outlive one bad run; the traceback goes to the log
            log.exception("due jobs failed; retrying in %s s", interval_seconds)
        await asyncio.sleep(interval_seconds)
