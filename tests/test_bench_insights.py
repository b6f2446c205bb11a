"""scripts/bench_insights.py works end to end in its CI mode (``--short``): it seeds, checks its
bulk ledger against ``impact.record``, finds the hand-built reference's figures equal to the
product's, prints a row per view and call, the same statement count at two cluster sizes, and
a trade through the marketplace's service making the next call cold; ``--explain`` and
``--try-index`` run too.

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
SCRIPT = ROOT / "scripts" / "bench_insights.py"
# a row of the table: view, call, statements | product p50 min cpu | reference ... | ratios
ROW = (
    r"^{view} +{call} \(\d+ rounds\) +(\d+)"
    r" \| +[\d.]+ +[\d.]+ +[\d.]+ \| +[\d.]+ +[\d.]+ +[\d.]+ \| +[\d.]+ +[\d.]+$"
)


@pytest.mark.slow
def test_the_insights_benchmark_checks_the_reference_and_prints_its_table() -> None:
    # Given the short mode, on the suite's database server
    command = [sys.executable, str(SCRIPT), "--short", "--explain", "--try-index", "--try-sql"]
    if url := os.environ.get("EIC_TEST_DATABASE_URL"):
        command += ["--database-url", url]
    env = {k: v for k, v in os.environ.items() if not k.startswith("EIC_")}
    # When it runs
    done = subprocess.run(  # noqa: S603 - our own script
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    output = done.stdout + done.stderr
    # Then it ends well, after its ledger matched impact.record and the reference the product
    assert done.returncode == 0, output
    assert re.search(r"^ledger check: the bulk entries equal impact.record's", done.stdout, re.M)
    assert re.search(
        r"^equality check: the reference's figures equal the product's, cold and warm, NAMED "
        r"and PUBLIC: ",
        done.stdout,
        re.MULTILINE,
    ), output
    # and its table has a row per view and call, before and with the indexes tried
    dialect = "postgresql" if "EIC_TEST_DATABASE_URL" in os.environ else "sqlite"
    assert f"\n{dialect}: cluster_insights for 2025, a cluster of " in done.stdout, output
    assert f"\n{dialect}: with those indexes\n" in done.stdout, output
    statements = {}
    for view in ("NAMED", "PUBLIC"):
        for call in ("cold", "warm"):
            rows = re.findall(ROW.format(view=view, call=call), done.stdout, re.MULTILINE)
            assert len(rows) == 2, f"no rows for {view} {call}:\n{output}"
            statements[(view, call)] = int(rows[0])
    # a kept answer sends fewer statements than a computed one
    assert statements[("NAMED", "warm")] < statements[("NAMED", "cold")]
    assert statements[("PUBLIC", "warm")] < statements[("PUBLIC", "cold")]
    # and the count is the same at two sizes, and a completed trade makes the next call cold
    assert re.search(r"^statements per cold NAMED call: .*: the same", done.stdout, re.M)
    assert re.search(
        r"^  after tradeComplete \(its impact entry written\): the next NAMED call sent \d+ "
        r"statements, \d+ reading impact_entries: cold again",
        done.stdout,
        re.MULTILINE,
    ), output
    assert re.search(
        r"^  the completed trade shows: .*\(\+4,000.0000 kg, 4 t\)$", done.stdout, re.M
    )
    assert "--- plan of pairs:" in done.stdout, output
    # and the alternatives it measures answer what the product's statements answer
    for alternative in ("pair_flows as Core rows", "analyse with the links summed"):
        assert re.search(rf"^  {alternative}.*; the same \w+$", done.stdout, re.M), output
    assert re.search(
        r"^  parties_by_month from the ledger's entries.*; the same rows$", done.stdout, re.M
    ), output
