"""Apollo Client 4 (npm) against ``eic serve``: Apollo's manifest generator gives our published
manifest, and the client runs persisted queries by GET (one request per call once the server
knows the id), mutations and a subscription, with automatic persisted queries and on a
trusted-only server with the published manifest.

The Node project is this folder (package.json and package-lock.json committed); ``npm ci``
fills node_modules at first use (CI starts from a clean clone; the npm registry is reachable).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from backend.graphql.operations import APOLLO_MANIFEST, MANIFEST
from backend.kit.db import Database
from tests.kit import create_wood_cluster
from tests.process_kit import EIC, eic_serving, scratch_environment

HERE = Path(__file__).resolve().parent
NODE = shutil.which("node")
NPM = shutil.which("npm")
NEEDS_NODE = pytest.mark.skipif(
    NODE is None or NPM is None, reason="Node and npm are needed (Debian: apt-get install nodejs)"
)
pytestmark = [pytest.mark.slow, NEEDS_NODE]


@pytest.fixture(scope="module")
def node_modules() -> Path:
    """The folder's npm packages, installed from the lock file when missing."""
    installed = HERE / "node_modules" / ".package-lock.json"
    if not installed.exists():
        assert NPM is not None
        subprocess.run(  # noqa: S603 - npm, on our own lock file
            [NPM, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=HERE,
            check=True,
            timeout=600,
        )
    return HERE / "node_modules"


def test_apollos_generator_gives_our_published_manifest(node_modules: Path, tmp_path: Path) -> None:
    # Given Apollo's own generator run over our operations (manifest.json: one standalone
    # document per operation)
    output = tmp_path / "persisted-query-manifest.json"
    subprocess.run(  # noqa: S603 - the generator of our node_modules
        [str(node_modules / ".bin" / "generate-persisted-query-manifest")],
        cwd=HERE,
        env=os.environ
        | {"EIC_OPERATIONS_MANIFEST": str(MANIFEST), "EIC_APOLLO_MANIFEST_OUTPUT": str(output)},
        check=True,
        timeout=120,
        capture_output=True,
    )
    # then every id, name, type and body is the one we publish
    generated = json.loads(output.read_text(encoding="utf-8"))
    published = json.loads(APOLLO_MANIFEST.read_text(encoding="utf-8"))
    assert generated == published
    assert len(published["operations"]) == len(json.loads(MANIFEST.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    """A migrated SQLite database with one cluster, for the served app."""
    directory = tmp_path_factory.mktemp("apollo")
    environment, database_url = scratch_environment(directory)
    subprocess.run([EIC, "migrate"], env=environment, cwd=directory, check=True, timeout=300)  # noqa: S603

    async def a_cluster() -> None:
        db = Database(database_url)
        try:
            await create_wood_cluster(db)
        finally:
            await db.dispose()

    asyncio.run(a_cluster())
    return environment, directory


def run_apollo(base: str, mode: str, email: str) -> dict[str, Any]:
    assert NODE is not None
    finished = subprocess.run(  # noqa: S603 - our own script
        [NODE, str(HERE / "apollo-client.mjs"), base, mode, email],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    result: dict[str, Any] = json.loads(finished.stdout.strip().splitlines()[-1])
    return result


def per_step(result: dict[str, Any]) -> dict[str, list[str]]:
    steps: dict[str, list[str]] = {}
    for request in result["requests"]:
        steps.setdefault(request["step"], []).append(request["method"])
    return steps


def check_the_story(result: dict[str, Any]) -> None:
    steps = result["steps"]
    # the clusters, three times, each object with its __typename, so Apollo's cache knows it
    assert len(steps["clusters"]) == 3
    assert len(steps["clusters"][0]) == 1
    assert steps["clusters"][0] == steps["clusters"][1] == steps["clusters"][2]
    assert steps["clusterTypename"] == "Cluster"
    assert steps["cacheId"] == f"Cluster:{steps['clusters'][0][0]}"
    # by GET, anonymous: the response cache answers the second and third
    cached = [r["x_cache"] for r in result["requests"] if r["step"] == "Clusters"]
    assert cached == ["MISS", "HIT", "HIT"]
    # sign-up, sign-in, a forum and a thread, without errors
    assert steps["signUp"] == []
    assert steps["signIn"] == {"errors": [], "role": "COMMUNITY", "typename": "TokenPayload"}
    assert steps["forum"] == {"errors": [], "thread": []}
    assert steps["postCreate"] == []
    # the subscription confirmed it was live, then delivered the post
    assert steps["events"] == [
        {
            "kind": "SUBSCRIBED",
            "sequence": 0,
            "typename": "ThreadPostEvent",
            "body": None,
            "postTypename": None,
        },
        {
            "kind": "POST_ADDED",
            "sequence": 1,
            "typename": "ThreadPostEvent",
            "body": "200 kg of husk, Friday",
            "postTypename": "Post",
        },
    ]


def test_apollo_client_with_automatic_persisted_queries(
    node_modules: Path, scratch: tuple[dict[str, str], Path]
) -> None:
    environment, directory = scratch
    with eic_serving(environment, directory) as base:
        result = run_apollo(base, "apq", "apq@apollo.example")
    check_the_story(result)
    # A document the server did not know misses once (GET), is sent with its text (POST) and
    # kept; its later calls are one GET each
    assert result["steps"]["newScreen"] == [1, 1, 1]
    # The apps' operations: the id Apollo computes at run time is the published one, which the
    # server knows: one request per call from the first
    assert per_step(result) == {
        "NewScreen": ["GET", "POST", "GET", "GET"],
        "Clusters": ["GET", "GET", "GET"],
        "SignUp": ["POST"],
        "SignIn": ["POST"],
        "ForumCreate": ["POST"],
        "ThreadCreate": ["POST"],
        "PostCreate": ["POST"],
    }
    # GraphQLWsLink sends the text with Apollo's id
    assert [s["hasQuery"] for s in result["websocket"]["subscribe"]] == [True]
    print(json.dumps({"apq": summary(result)}, indent=2))


def test_apollo_client_on_a_trusted_only_server_with_the_published_manifest(
    node_modules: Path, scratch: tuple[dict[str, str], Path]
) -> None:
    environment, directory = scratch
    trusted = environment | {"EIC_TRUSTED_OPERATIONS_ONLY": "true"}
    with eic_serving(trusted, directory) as base:
        result = run_apollo(base, "manifest", "manifest@apollo.example")
    check_the_story(result)
    # one request per call, every time: the ids are the manifest's, which the server knows
    assert per_step(result) == {
        "Clusters": ["GET", "GET", "GET"],
        "SignUp": ["POST"],
        "SignIn": ["POST"],
        "ForumCreate": ["POST"],
        "ThreadCreate": ["POST"],
        "PostCreate": ["POST"],
    }
    # and the subscribe message carried the id alone
    manifest = json.loads(APOLLO_MANIFEST.read_text(encoding="utf-8"))
    thread_posts = next(o["id"] for o in manifest["operations"] if o["name"] == "ThreadPosts")
    assert result["websocket"]["subscribe"] == [{"hasQuery": False, "id": thread_posts}]
    print(json.dumps({"manifest": summary(result)}, indent=2))


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """Requests and bytes per step, for the note (pytest -s shows them)."""
    counts: Counter[str] = Counter()
    sent: Counter[str] = Counter()
    received: Counter[str] = Counter()
    for request in result["requests"]:
        counts[request["step"]] += 1
        sent[request["step"]] += request["url_bytes"] + request["sent_bytes"]
        received[request["step"]] += request["received_bytes"]
    websocket = {k: v for k, v in result["websocket"].items() if k != "subscribe"}
    return {
        "requests": dict(counts),
        "x_cache": [(r["step"], r["method"], r["x_cache"]) for r in result["requests"]],
        "sent_bytes": dict(sent),
        "received_bytes": dict(received),
        "websocket": websocket,
    }
