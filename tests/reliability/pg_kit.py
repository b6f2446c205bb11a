"""Private PostgreSQL and Redis servers for fault tests (and scripts/fault_runner.py): each on a
free loopback port, in a temp folder, so that a test can stop, freeze (SIGSTOP) and restart them
without touching the shared servers. Standard library only. Not a test module.

PostgreSQL refuses to run as root, so as root the cluster is made and run as the ``postgres``
OS user (``runuser``); as anybody else, as that user.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants, parents first (Linux /proc)."""
    found = [pid]
    for parent in found:
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        found.extend(int(child) for child in children)
    return found


def _wait_for_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


class Freezable:
    """SIGSTOP / SIGCONT for a server and every process it forked: a stopped postmaster alone
    would leave its backends answering the connections they already have."""

    pid: int

    def freeze(self) -> None:
        for pid in _process_tree(self.pid):  # the parent first: it forks no new child meanwhile
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in reversed(_process_tree(self.pid)):
            os.kill(pid, signal.SIGCONT)


class PrivatePostgres(Freezable):
    """A throw-away PostgreSQL cluster: trust auth, user ``postgres``, database ``postgres``."""

    def __init__(self) -> None:
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="eic-pg-"))
        self.data = self.folder / "data"
        self.pid = 0
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
            self._as_user = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        subprocess.run([*self._as_user, *command], check=True, capture_output=True)

    def init(self) -> PrivatePostgres:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-N")
        return self

    def start(self) -> PrivatePostgres:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} "
            "-c fsync=off -c max_connections=100"
        )
        log = str(self.folder / "log")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")
        self.pid = int((self.data / "postmaster.pid").read_text().split()[0])
        return self

    def stop(self, mode: str = "fast") -> None:
        """``fast`` ends the sessions; ``immediate`` is a crash (recovery at the next start)."""
        if self.pid:
            self.thaw()  # a frozen server cannot stop
        if self.pid or (self.data / "postmaster.pid").exists():  # also one interrupted starting
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")
            self.pid = 0

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        finally:
            # Backends may still be exiting (and writing) after pg_ctl returns: try again.
            for _ in range(50):
                shutil.rmtree(self.folder, ignore_errors=True)
                if not self.folder.exists():
                    break
                time.sleep(0.1)


class PrivateRedis(Freezable):
    """A throw-away redis-server without persistence."""

    def __init__(self) -> None:
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:  # type: ignore[override]
        assert self._process is not None
        return self._process.pid

    def start(self) -> PrivateRedis:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no"]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        _wait_for_port(self.port, 10)
        return self

    def stop(self) -> None:
        if self._process is not None:
            self.thaw()
            self._process.terminate()
            self._process.wait(10)
            self._process = None
