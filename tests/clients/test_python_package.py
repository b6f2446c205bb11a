"""The Python client as a package: `pip install ./clients/python` gives a client that carries
its own manifest and speaks to a service on any address, away from the repository."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from email.parser import Parser
from pathlib import Path

import pytest

from tests.process_kit import eic_serving, load_demo, scratch_environment

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "clients" / "python"
EXAMPLE = PACKAGE / "examples" / "market_and_trades.py"


def test_the_package_ships_the_manifest_of_clients_operations() -> None:
    # `eic operations build` writes both; a copy edited or left behind fails here
    shipped = (PACKAGE / "eic_client" / "manifest.json").read_bytes()
    assert shipped == (ROOT / "clients" / "operations" / "manifest.json").read_bytes()


def _install(target: Path) -> None:
    """pip installs the client into ``target`` alone: built by hatchling from this
    environment (no download), its dependencies (httpx, graphql-core) taken from here."""
    subprocess.run(  # noqa: S603 - pip, on our own package
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-build-isolation",
            "--no-deps",
            "--target",
            str(target),
            str(PACKAGE),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )


@pytest.mark.slow
def test_the_installed_client_runs_the_example_against_a_service_on_another_port(
    tmp_path: Path,
) -> None:
    # Given the client installed into a folder of its own, and the example copied beside it:
    # nothing of the repository is on the path
    site = tmp_path / "site"
    _install(site)
    [metadata] = site.glob("eic_client-*.dist-info/METADATA")
    requires = Parser().parsestr(metadata.read_text()).get_all("Requires-Dist") or []
    assert sorted(r.split(">=")[0] for r in requires) == ["graphql-core", "httpx"]
    work = tmp_path / "elsewhere"
    work.mkdir()
    example = shutil.copy(EXAMPLE, work / "market_and_trades.py")
    environment, _ = scratch_environment(work)
    load_demo(environment, work)
    client_environment = {
        k: v for k, v in environment.items() if k not in ("PYTHONPATH", "PYTHONHOME")
    } | {"PYTHONPATH": str(site)}

    def client(*arguments: str) -> str:
        done = subprocess.run(  # noqa: S603 - the example, with our interpreter
            [sys.executable, *arguments],
            env=client_environment,
            cwd=work,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    # the package found is the installed one, with its manifest inside it
    where = client("-c", "import eic_client; print(eic_client.__file__)").strip()
    assert Path(where).is_relative_to(site)
    assert (site / "eic_client" / "manifest.json").is_file()

    # When the service listens on a port that is not 8000, and the example is given its address
    with eic_serving(environment, work) as base:
        assert not base.endswith(":8000")
        printed = client(str(example), base).splitlines()
        # (the GraphQL endpoint's own address works as well)
        printed_again = client(str(example), f"{base}/graphql/").splitlines()

    # Then it printed the demo market's wood shavings and the pellet works' trades
    listings = [line for line in printed if not line.startswith("trade ")]
    trades = [line for line in printed if line.startswith("trade ")]
    assert 1 <= len(listings) <= 5
    assert all(re.fullmatch(r".+: \d+(\.\d+)? [A-Z0-9]{2,3}", line) for line in listings)
    statuses = {line.split(": ", 1)[1].split(" ", 1)[0] for line in trades}
    assert "COMPLETED" in statuses  # the demo's year of trades
    assert statuses <= {"AGREED", "IN_TRANSIT", "DELIVERED", "COMPLETED", "CANCELLED", "DISPUTED"}
    assert printed_again == printed
