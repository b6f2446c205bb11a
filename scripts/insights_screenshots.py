"""Phone-sized screenshots of the insights pages over the demo, for the README.

Makes a fresh SQLite database in a temporary directory (``eic migrate``, ``eic seed-demo``),
serves it with ``eic serve`` on a free loopback port, and has headless Chromium draw Maniwa's
page and the comparison of the clusters at a phone's width (390 CSS pixels). Prints each
page's size in bytes, as sent and gzip-compressed.

    .venv/bin/python scripts/insights_screenshots.py            # writes docs/images/insights-*.png

Needs Debian's ``chromium`` and, for Maniwa's page (in Japanese), a Japanese font
(``fonts-ipafont-gothic`` or ``fonts-noto-cjk``); without one the labels are drawn as boxes.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = (
    # (path, file name, height in CSS pixels)
    ("/insights/maniwa-wood", "insights-maniwa.png", 1800),
    ("/insights", "insights-comparison.png", 1300),
)
WIDTH = 390


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def demo_server(directory: Path) -> Iterator[str]:
    """``eic serve`` over a new demo database in ``directory``; its base URL."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("EIC_")} | {
        "EIC_DATABASE_URL": f"sqlite+aiosqlite:///{directory}/eic.db",
        "EIC_DUE_JOBS_INTERVAL_SECONDS": "0",
        "EIC_ENVIRONMENT": "development",
    }
    eic = str(Path(sys.executable).parent / "eic")
    for command in (["migrate"], ["seed-demo"]):
        print(f"eic {' '.join(command)}", flush=True)
        subprocess.run(  # noqa: S603 - our own command
            [eic, *command], env=environment, cwd=directory, check=True, capture_output=True
        )
    port = free_port()
    server = subprocess.Popen(  # noqa: S603
        [eic, "serve", "--port", str(port)],
        env=environment,
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if server.poll() is not None:
                raise SystemExit("eic serve exited")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("eic serve did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def screenshot(chromium: str, url: str, output: Path, height: int, profile: Path) -> None:
    subprocess.run(  # noqa: S603
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            f"--user-data-dir={profile}",
            f"--screenshot={output}",
            f"--window-size={WIDTH},{height}",
            url,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


def page_bytes(url: str) -> tuple[int, int]:
    with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 - loopback
        body: bytes = answer.read()
    return len(body), len(gzip.compress(body, 6))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-dir", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--chromium", default=shutil.which("chromium"))
    args = parser.parse_args()
    if not args.chromium:
        print("chromium not found: apt-get install chromium", file=sys.stderr)
        return 1
    args.output_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="eic-insights-") as temporary:
        directory = Path(temporary)
        with demo_server(directory) as base:
            for path, name, height in PAGES:
                output = args.output_dir / name
                screenshot(args.chromium, base + path, output, height, directory / "profile")
                sent, compressed = page_bytes(base + path)
                print(
                    f"{path}: {sent} bytes ({compressed} gzip) -> {output} "
                    f"({output.stat().st_size} bytes, {WIDTH}x{height})"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
