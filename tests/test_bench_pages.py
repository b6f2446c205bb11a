"""scripts/bench_pages.py works end to end in its CI mode (``--short``): it seeds, finds the
hand-built reference answering every page with the same data and as many SQL statements as the
product, shows that its check catches a difference, serves both and prints a row per page.

Its figures are not looked at (they depend on the machine); on PostgreSQL when
EIC_TEST_DATABASE_URL is set (the script makes its own scratch database beside that one).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "bench_pages.py"
PAGES = ["MarketSearch", "ThreadDetail", "EventsFeed", "SyncChanges", "MarketSearch GET, cached"]


@pytest.mark.slow
def test_the_page_benchmark_checks_every_page_and_prints_a_row_for_each() -> None:
    # Given the short mode, on the suite's database server
    command = [sys.executable, str(SCRIPT), "--short"]
    if url := os.environ.get("EIC_TEST_DATABASE_URL"):
        command += ["--database-url", url]
    env = {k: v for k, v in os.environ.items() if not k.startswith("EIC_")}
    # When it runs
    done = subprocess.run(  # noqa: S603 - our own script
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    output = done.stdout + done.stderr
    # Then it ends well, after the reference matched the product on every page
    assert done.returncode == 0, output
    for page in PAGES:
        served = (
            "served from the response cache \\(no statement\\)"
            if page.endswith("cached")
            else r"\d+ statements per request in both"
        )
        assert re.search(
            rf"^equality check: {re.escape(page)}: data equal for \d+ sets of variables, {served}$",
            done.stdout,
            re.MULTILINE,
        ), output
    assert "\nequality checks passed\n" in done.stdout, output
    # and its check caught a changed answer and an extra statement
    assert re.search(
        r"^self-test: the check caught a value changed deep in the answer and one statement "
        r"more \(MarketSearch\)$",
        done.stdout,
        re.MULTILINE,
    ), output
    # and the table has a row per page at 1 and at 16 connections, with the statement count
    dialect = "postgresql" if "EIC_TEST_DATABASE_URL" in os.environ else "sqlite"
    assert f"\n{dialect}: product vs hand-built reference" in done.stdout, output
    for page in PAGES:
        for connections in (1, 16):
            row = re.search(
                rf"^{re.escape(page)} +{connections} +(\d+) \| .* \| .* \| +[\d.]+ +[\d.]+",
                done.stdout,
                re.MULTILINE,
            )
            assert row is not None, f"no row for {page} at {connections}:\n{output}"
            # a cache hit sends no statement; every computed page sends some
            assert (int(row.group(1)) == 0) == page.endswith("cached")
