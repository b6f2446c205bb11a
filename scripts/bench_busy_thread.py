"""Benchmark: a busy thread. P clients post to one thread as fast as they are answered while B
background clients read the forum's thread list and the thread's posts page and post to another
thread of the same forum, for a fixed time, through the real ASGI app on a scratch database.

It runs the load twice, in two processes: once with the code of a reference commit (by default
where this branch left main) and once with the working tree, and prints p50/p95/p99 of each
operation side by side with their ratios, and whether the thread's replyCount and
lastActivityAt came out exact (the posts in it, the latest post's time).

    .venv/bin/python scripts/bench_busy_thread.py                  # SQLite
    .venv/bin/python scripts/bench_busy_thread.py \
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test
    .venv/bin/python scripts/bench_busy_thread.py --reference main --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
from benchkit import bench_database, percentile

ROOT = Path(__file__).resolve().parent.parent
GIT = shutil.which("git") or "git"
BUSY_THREAD = "biomass-town:冬の樹皮・チップの需給について"
OTHER_THREAD = "biomass-town:端材の引き取り先を探しています"
# Four organisations of the Maniwa cluster: they may post in its CLUSTER forum.
ACCOUNTS = ("maniwa-lumber", "katsuyama-pellets", "hokubo-boxes", "biomass-town")

SIGN_IN = "mutation($i: TokenCreateInput!) { tokenCreate(input: $i) { accessToken } }"
POST = """
mutation($input: PostCreateInput!) { postCreate(input: $input) { post { id } errors { code } } }
"""
THREADS = """
query($f: ID!) {
  threads(forumId: $f, first: 20) { edges { node { id title replyCount lastActivityAt } } }
}
"""
PAGE = """
query($t: ID!) {
  posts(threadId: $t, first: 30) {
    edges { node { id body author { displayName } reactions { reaction count mine } } }
  }
}
"""
THREAD = "query($t: ID!) { thread(id: $t) { replyCount lastActivityAt } }"


def _worker(args: argparse.Namespace) -> dict[str, Any]:
    """One run in this process: whatever ``backend`` is importable is what gets measured."""
    from backend.settings import Settings

    # Reads are rate-limited per account; the load reads far more than a person does.
    quiet = {
        name: ""
        for name in ("rate_limit_reads_per_address", "rate_limit_reads_per_account")
        if name in Settings.model_fields
    }
    with bench_database(args.database_url, keep=False, **quiet) as (url, settings):
        return asyncio.run(_load(url, settings, args))


async def _load(url: str, settings: Any, args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy import func, select

    import backend
    from backend import demo
    from backend.app import create_app
    from backend.auth.passwords import Passwords
    from backend.forums.models import Post
    from backend.kit.db import Database

    if True:
        db = Database(url)
        statements = _time_statements(db) if args.profile else None
        await demo.seed_demo(db, Passwords(settings))
        app = create_app(settings, db=db)
        busy = str(demo.demo_id("thread", BUSY_THREAD))
        other = str(demo.demo_id("thread", OTHER_THREAD))
        forum = str(demo.demo_id("forum", "biomass-town"))
        latencies: dict[str, list[float]] = defaultdict(list)
        failures: dict[str, int] = defaultdict(int)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://eic.bench", timeout=300
        ) as http:

            async def call(name: str, query: str, variables: dict[str, Any], token: str) -> Any:
                started = time.perf_counter()
                response = await http.post(
                    "/graphql",
                    json={"query": query, "variables": variables},
                    headers={"Authorization": f"Bearer {token}"},
                )
                latencies[name].append((time.perf_counter() - started) * 1000)
                body = response.json()
                payload = (body.get("data") or {}).get("postCreate")
                if (
                    response.status_code != 200
                    or body.get("errors")
                    or (payload or {}).get("errors")
                ):
                    failures[name] += 1
                return body

            tokens = []
            for key in ACCOUNTS:
                signed_in = await http.post(
                    "/graphql",
                    json={
                        "query": SIGN_IN,
                        "variables": {
                            "i": {"email": demo.demo_email(key), "password": demo.DEMO_PASSWORD}
                        },
                    },
                )
                tokens.append(signed_in.json()["data"]["tokenCreate"]["accessToken"])
            deadline = time.monotonic() + args.seconds

            async def poster(n: int) -> None:
                token = tokens[n % len(tokens)]
                while time.monotonic() < deadline:
                    body = {"threadId": busy, "body": f"Busy {n} {time.monotonic()}"}
                    await call("postCreate (busy thread)", POST, {"input": body}, token)

            async def background(n: int) -> None:
                token = tokens[n % len(tokens)]
                step = n
                while time.monotonic() < deadline:
                    kind = step % 3
                    step += 1
                    if kind == 0:
                        await call("threads (forum page)", THREADS, {"f": forum}, token)
                    elif kind == 1:
                        await call("posts (busy thread page)", PAGE, {"t": busy}, token)
                    else:
                        body = {"threadId": other, "body": f"Other {n} {time.monotonic()}"}
                        await call("postCreate (other thread)", POST, {"input": body}, token)

            started = time.monotonic()
            await asyncio.gather(
                *(poster(n) for n in range(args.posters)),
                *(background(n) for n in range(args.background)),
            )
            elapsed = time.monotonic() - started
            shown = (await call("thread", THREAD, {"t": busy}, tokens[0]))["data"]["thread"]
        async with db.read() as session:
            posts, latest = (
                await session.execute(
                    select(func.count(), func.max(Post.created_at)).where(
                        Post.thread_id == demo.demo_id("thread", BUSY_THREAD),
                        Post.deleted_at.is_(None),
                    )
                )
            ).one()
        await db.dispose()
    return {
        "backend": str(Path(backend.__file__).parent),
        "dialect": db.dialect,
        "seconds": elapsed,
        "latencies": latencies,
        "failures": failures,
        "reply_count": shown["replyCount"],
        "posts": posts,
        "last_activity_at": shown["lastActivityAt"],
        "latest_post_at": latest.isoformat() if latest else None,
        "statements": statements,
    }


def _time_statements(db: Any) -> dict[str, Any]:
    """Wall time per kind of SQL statement (lock waits included), and how long each write
    transaction held the busy thread's row: from its locking statement to COMMIT."""
    from sqlalchemy import event

    totals: dict[str, list[float]] = {"thread row held (ms)": []}

    def before(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        conn.info["eic.started"] = time.perf_counter()

    def after(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        now = time.perf_counter()
        kind = " ".join(statement.split())[:90]
        totals.setdefault(kind, []).append((now - conn.info.pop("eic.started", now)) * 1000)
        if "FOR UPDATE" in statement and "forum_threads" in statement:
            conn.info["eic.locked"] = now
        elif statement.lstrip().startswith("UPDATE forum_threads SET reply_count"):
            conn.info.setdefault("eic.locked", now)

    def commit(conn: Any) -> None:
        locked = conn.info.pop("eic.locked", None)
        if locked is not None:
            totals["thread row held (ms)"].append((time.perf_counter() - locked) * 1000)

    event.listen(db.engine.sync_engine, "before_cursor_execute", before)
    event.listen(db.engine.sync_engine, "after_cursor_execute", after)
    event.listen(db.engine.sync_engine, "commit", commit)
    event.listen(db.engine.sync_engine, "rollback", lambda conn: conn.info.pop("eic.locked", 0))
    return totals


def _run_variant(tree: Path, args: argparse.Namespace) -> dict[str, Any]:
    """This script's load in a fresh process that imports ``backend`` from ``tree``."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", *_load_options(args)]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(  # noqa: S603 - this script, with options it built
        command, env=env, cwd=tree, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"the run with {tree} failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if Path(result["backend"]).parent != tree:  # the editable install came first
        raise SystemExit(f"measured {result['backend']}, not {tree}")
    return result


def _pooled(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The rounds of one variant as one: latencies and failures together, the last counts."""
    pooled = dict(results[-1])
    pooled["seconds"] = sum(r["seconds"] for r in results)
    pooled["latencies"] = defaultdict(list)
    pooled["failures"] = defaultdict(int)
    for result in results:
        for name, values in result["latencies"].items():
            pooled["latencies"][name].extend(values)
        for name, count in result["failures"].items():
            pooled["failures"][name] += count
    pooled["exact"] = all(_exact(r) for r in results)
    return pooled


def _exact(result: dict[str, Any]) -> bool:
    return bool(
        result["reply_count"] == result["posts"]
        and result["last_activity_at"][:23] == (result["latest_post_at"] or "")[:23]
    )


def _load_options(args: argparse.Namespace) -> list[str]:
    options = [
        f"--seconds={args.seconds}",
        f"--posters={args.posters}",
        f"--background={args.background}",
    ]
    if args.database_url:
        options.append(f"--database-url={args.database_url}")
    if args.profile:
        options.append("--profile")
    return options


def _reference_tree(reference: str, folder: Path) -> Path:
    commit = subprocess.run(  # noqa: S603 - git on our own repository
        [GIT, "rev-parse", "--verify", f"{reference}^{{commit}}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    archive = folder / "reference.tar"
    subprocess.run([GIT, "archive", "-o", str(archive), commit], cwd=ROOT, check=True)  # noqa: S603
    tree = folder / commit[:12]
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree


def _default_reference() -> str:
    return subprocess.run(  # noqa: S603 - git on our own repository
        [GIT, "merge-base", "HEAD", "main"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def _figures(result: dict[str, Any], name: str) -> tuple[float, float, float, int, int]:
    values = result["latencies"].get(name, [0.0])
    return (
        percentile(values, 50),
        percentile(values, 95),
        percentile(values, 99),
        len(values),
        result["failures"].get(name, 0),
    )


def _report(label: str, before: dict[str, Any], after: dict[str, Any]) -> None:
    print(
        f"\n{before['dialect']}: {label}; {before['seconds']:.0f} s of load each "
        "(ms; ratio = before / after)"
    )
    header = (
        f"{'operation':28} {'':7} {'p50':>9} {'p95':>9} {'p99':>9} {'requests':>9} {'failed':>7}"
    )
    print(header)
    for name in sorted(set(before["latencies"]) | set(after["latencies"])):
        if name == "thread":
            continue
        rows = (("before", _figures(before, name)), ("after", _figures(after, name)))
        for which, (p50, p95, p99, count, failed) in rows:
            print(f"{name:28} {which:7} {p50:9.1f} {p95:9.1f} {p99:9.1f} {count:9} {failed:7}")
        (b50, b95, b99, *_), (a50, a95, a99, *_) = rows[0][1], rows[1][1]
        print(
            f"{'':28} {'ratio':7} {b50 / a50:9.2f} {b95 / a95:9.2f} {b99 / a99:9.2f}"
            if a50 and a95 and a99
            else ""
        )
    for which, result in (("before", before), ("after", after)):
        verdict = "exact in every round" if result["exact"] else "WRONG in a round"
        print(
            f"{which}, last round: replyCount {result['reply_count']} for {result['posts']} "
            f"posts, lastActivityAt {result['last_activity_at']} (latest post "
            f"{result['latest_post_at']}): {verdict}"
        )


def _profile(which: str, result: dict[str, Any]) -> None:
    statements = result["statements"]
    if not statements:
        return
    held = statements.pop("thread row held (ms)")
    print(f"\n{which}, last round: SQL statements by total wall time (lock waits included)")
    print(f"{'total ms':>10} {'count':>6} {'p50 ms':>8} {'p99 ms':>8}  statement")
    ranked = sorted(statements.items(), key=lambda item: -sum(item[1]))
    for kind, values in ranked[:12]:
        print(
            f"{sum(values):10.0f} {len(values):6} {percentile(values, 50):8.1f} "
            f"{percentile(values, 99):8.1f}  {kind}"
        )
    if held:
        print(
            f"the busy thread's row held by a transaction: p50 {percentile(held, 50):.1f} ms, "
            f"p99 {percentile(held, 99):.1f} ms ({len(held)} transactions)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None, help="PostgreSQL server (scratch db)")
    parser.add_argument("--seconds", type=float, default=20, help="of load, per round")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each, alternating")
    parser.add_argument("--posters", type=int, default=16, help="clients posting to one thread")
    parser.add_argument("--background", type=int, default=16, help="clients of the mixed load")
    parser.add_argument(
        "--reference", default=None, help="commit to compare with (default: merge-base with main)"
    )
    parser.add_argument("--profile", action="store_true", help="also print where the SQL time went")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(_worker(args)))
        return
    reference = args.reference or _default_reference()
    with tempfile.TemporaryDirectory() as folder:
        trees = {"before": _reference_tree(reference, Path(folder)), "after": ROOT}
        runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
        # Alternating rounds, so that a machine that gets busier or quieter meanwhile (other
        # work on it) weighs on both alike; the reads, which the change does not touch, show it.
        for round_ in range(args.rounds):
            for which in ("before", "after") if round_ % 2 == 0 else ("after", "before"):
                runs[which].append(_run_variant(trees[which], args))
    before, after = _pooled(runs["before"]), _pooled(runs["after"])
    _report(
        f"{args.posters} clients posting to one thread + {args.background} background "
        f"clients; before = {reference[:12]}, after = the working tree",
        before,
        after,
    )
    _profile("before", before)
    _profile("after", after)


if __name__ == "__main__":
    main()
