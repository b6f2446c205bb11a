"""A server killed during a burst of keyed writes: every retry gets its outcome at once.

The scenario of ``scripts/fault_idempotency.py``, smaller: real uvicorn processes on loopback,
on the suite's database (a file SQLite database, or the scratch PostgreSQL database when
EIC_TEST_DATABASE_URL is set).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from backend.kit.db import Database

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fault_idempotency.py"
# Loaded machines (CI, two cores shared) answer a retry in tens of milliseconds; the bug answered
# after 30 s, so a bound of 5 s tells them apart without depending on the machine's load.
AT_ONCE_SECONDS = 5.0


def fault_script() -> ModuleType:
    if "fault_idempotency" in sys.modules:
        return sys.modules["fault_idempotency"]
    spec = importlib.util.spec_from_file_location("fault_idempotency", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
async def test_after_a_sigkill_every_lost_answer_is_retried_at_once_and_nothing_is_done_twice(
    db: Database, database_url: str
) -> None:
    # Given a server that 100 keyed listingCreate requests reach at once, SIGKILLed once 10 of
    # them are answered; when it is started again and every request whose answer was lost is
    # sent again with its key and body
    script = fault_script()
    figures = await script.crash_scenario(
        database_url,
        requests=100,
        kill_after=10,
        retry_timeout=AT_ONCE_SECONDS,
        at_once_seconds=AT_ONCE_SECONDS,
    )
    print(figures.table())
    # then answers were lost (the kill came mid-burst), and every retry had its outcome at
    # once: the first answer, "done, answer lost", or the work done now for a request that had
    # not committed
    assert figures.answers_lost > 0, figures.table()
    assert figures.retried == figures.answers_lost
    assert figures.answered_within == figures.retried, figures.table()
    assert set(figures.retry_answers) <= {"REPLAYED", "RAN", "ANSWER_LOST"}, figures.table()
    # and each key made exactly one listing, the one its answer names
    assert figures.unanswered == 0, figures.table()
    assert figures.rows_duplicated == 0, figures.table()
    assert figures.rows_lost == 0, figures.table()
    assert figures.wrong_answers == 0, figures.table()
