"""The backend's shape holds: the import contracts of pyproject.toml's ``[tool.importlinter]``
(also run by ``lint-imports`` in CI) and no import cycle among backend modules."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
DOMAINS = frozenset(
    {
        "identity",
        "catalogue",
        "marketplace",
        "purchasing",
        "forums",
        "events",
        "notifications",
        "sync",
    }
)
# Every domain records its changes in the offline change log as part of its own transaction.
CHANGE_LOG = frozenset({"backend.sync.log", "backend.sync.models"})


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    lowest: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = lowest[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, imported = work[-1]
            for other in imported:
                if other not in index:
                    index[other] = lowest[other] = len(index)
                    stack.append(other)
                    on_stack.add(other)
                    work.append(
                        (other, iter(sorted(graph.find_modules_directly_imported_by(other))))
                    )
                    break
                if other in on_stack:
                    lowest[module] = min(lowest[module], index[other])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    lowest[parent] = min(lowest[parent], lowest[module])
                if lowest[module] == index[module]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == module:
                            break
                    if len(component) > 1:
                        cycles.append(sorted(component))
    return cycles


def test_the_import_contracts_hold() -> None:
    # In a process of its own: import-linter configures logging with dictConfig, which disables
    # every logger that exists already (eic.request ...), and later tests read those loggers.
    run = subprocess.run(  # noqa: S603 - our own interpreter and import-linter
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports; "
            f"sys.exit(lint_imports(config_filename={str(ROOT / 'pyproject.toml')!r}, "
            "no_cache=True))",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_no_backend_module_imports_itself_through_others() -> None:
    # Imports inside functions count: a circle hidden in a function is still a circle.
    graph = grimp.build_graph("backend", cache_dir=None)
    assert import_cycles(graph) == []


def test_a_domain_reaches_another_only_through_its_service() -> None:
    """Another domain's service is its door; its models are shared as types (relationships,
    enums, joins) and its GraphQL types compose into ours from schema modules. Its policies and
    internal modules are its own."""
    graph = grimp.build_graph("backend", cache_dir=None)
    trespasses = []
    for module in sorted(graph.modules):
        parts = module.split(".")
        if len(parts) < 3 or parts[1] not in DOMAINS:
            continue
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            other = imported.split(".")
            if len(other) < 3 or other[1] not in DOMAINS or other[1] == parts[1]:
                continue
            if imported in CHANGE_LOG or other[2] in ("service", "models"):
                continue
            if other[2] == "schema" and parts[2] == "schema":
                continue
            trespasses.append(f"{module} -> {imported}")
    assert trespasses == []


def test_only_identity_reads_who_acts_for_which_organisation() -> None:
    """Memberships decide trust (who may act, read, be told): other domains ask identity.service
    (affiliations_of, member_ids, members_among, membership_in) so that the rule is written once.
    A Membership as a type is fine; ``Membership.<column>`` outside identity is SQL on its table."""
    readers = []
    for path in sorted((ROOT / "backend").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(("backend/identity/", "backend/demo/")):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "Membership"
            ):
                readers.append(f"{relative}:{node.lineno} Membership.{node.attr}")
    assert readers == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for module in ("a", "a.one", "a.two", "a.three"):
        graph.add_module(module)
    graph.add_import(importer="a.one", imported="a.two")
    graph.add_import(importer="a.two", imported="a.one")
    graph.add_import(importer="a.three", imported="a.one")
    assert import_cycles(graph) == [["a.one", "a.two"]]
