"""Real processes for tests: ``eic serve`` started on a free loopback port over a scratch
SQLite database, and Debian's Chromium run headless with a profile of its own (the browser
tests, tests/insights/test_browser.py and tests/permits/test_report_browser.py; the keep-alive
test)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pytest

CHROMIUM = shutil.which("chromium")
# Skipped only when Chromium is not installed; CI installs it (.ci/run).
NEEDS_CHROMIUM = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (Debian: apt-get install chromium; CI installs it)",
)
EIC = str(Path(sys.executable).parent / "eic")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def eic_serving(
    environment: dict[str, str],
    directory: Path,
    *,
    stderr: IO[bytes] | int = subprocess.DEVNULL,
    log: Path | None = None,
) -> Iterator[str]:
    """``eic serve`` on a free loopback port until the block ends; yields its base URL once it
    accepts connections (at most 30 s). ``stderr``: where its log goes (nowhere by default);
    ``log``: a file that gets its output and log instead."""
    port = free_port()
    output = log.open("ab") if log is not None else None
    process = subprocess.Popen(  # noqa: S603 - our own command
        [EIC, "serve", "--port", str(port)],
        env=environment,
        cwd=directory,
        stdout=output or subprocess.DEVNULL,
        stderr=subprocess.STDOUT if output else stderr,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, "eic serve exited"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "eic serve did not start"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)
        if output is not None:
            output.close()


async def run_chromium(directory: Path, *arguments: str) -> bytes:
    """Headless Chromium (no sandbox: CI runs as root) with a new profile under ``directory``;
    its standard output."""
    assert CHROMIUM is not None
    profile = directory / f"profile-{uuid.uuid4().hex}"
    process = await asyncio.create_subprocess_exec(
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        *arguments,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode(errors="replace")[-2000:]
    return out


def scratch_environment(directory: Path) -> tuple[dict[str, str], str]:
    """The environment of ``eic`` commands over a new SQLite database in ``directory`` (none
    of the caller's EIC_ settings), and that database's URL."""
    database_url = f"sqlite+aiosqlite:///{directory}/eic.db"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("EIC_")} | {
        "EIC_DATABASE_URL": database_url,
        "EIC_DUE_JOBS_INTERVAL_SECONDS": "0",
        "EIC_ENVIRONMENT": "test",
    }
    return environment, database_url


def load_demo(environment: dict[str, str], directory: Path) -> None:
    """``eic migrate`` then ``eic seed-demo`` with ``environment``, as the README's first command
    does before it serves."""
    for command in (["migrate"], ["seed-demo"]):
        subprocess.run(  # noqa: S603 - our own command
            [EIC, *command],
            env=environment,
            cwd=directory,
            check=True,
            capture_output=True,
            timeout=600,
        )
