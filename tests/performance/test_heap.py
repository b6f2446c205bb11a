"""A serving process settles its heap after start-up (backend.kit.heap)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from backend.kit import heap

PROBE = """
import gc, json
from backend.app import app_from_environment
before = gc.get_freeze_count()
app_from_environment()
seen = {"frozen": gc.get_freeze_count(), "threshold": gc.get_threshold()}
print(json.dumps({"before": before, **seen}))
"""


def test_the_served_app_freezes_what_start_up_built_and_collects_young_objects_less_often(
    tmp_path: Path,
) -> None:
    environment = dict(os.environ, EIC_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/eic.db")
    # a process of its own: freezing this one would keep the tests' garbage for good
    output = subprocess.run(  # noqa: S603 - our own interpreter and probe
        [sys.executable, "-c", PROBE], env=environment, capture_output=True, text=True, check=True
    ).stdout
    seen = json.loads(output.strip().splitlines()[-1])
    assert seen["before"] == 0
    assert seen["frozen"] > 100_000  # the schema, the models, the libraries
    assert seen["threshold"] == [heap.YOUNG_THRESHOLD, *heap.OLDER_THRESHOLDS]
