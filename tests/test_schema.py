"""The committed SDL and the apps' operations stay in step with the code."""

from pathlib import Path

import pytest
from graphql import parse, validate

from backend.graphql.schema import build_schema, export_sdl
from backend.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = sorted((ROOT / "clients" / "operations").glob("*.graphql"))


def test_committed_sdl_matches_the_code() -> None:
    # Given the SDL in schema/schema.graphql, when the schema is exported now, then they agree.
    committed = (ROOT / "schema" / "schema.graphql").read_text(encoding="utf-8")
    assert export_sdl() == committed, "run `make schema` and commit schema/schema.graphql"


def test_there_are_client_operations() -> None:
    assert len(OPERATIONS) >= 4


@pytest.mark.parametrize("path", OPERATIONS, ids=lambda p: p.name)
def test_client_operations_validate_against_the_schema(path: Path) -> None:
    # Given an operations file of the apps, when validated against the schema, then no errors.
    schema = build_schema(Settings(_env_file=None))  # type: ignore[call-arg]
    document = parse(path.read_text(encoding="utf-8"))
    errors = validate(schema._schema, document)
    assert [e.message for e in errors] == []


def test_every_field_and_argument_has_a_description() -> None:
    # The mobile team reads the schema as documentation: nothing may be undocumented.
    schema = build_schema(Settings(_env_file=None))._schema  # type: ignore[call-arg]
    missing = []
    for name, graphql_type in schema.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Float", "Boolean", "ID"}:
            continue
        if not graphql_type.description:
            missing.append(name)
        for field_name, field in (getattr(graphql_type, "fields", None) or {}).items():
            if not field.description:
                missing.append(f"{name}.{field_name}")
            for arg_name, arg in (getattr(field, "args", None) or {}).items():
                if not arg.description:
                    missing.append(f"{name}.{field_name}({arg_name})")
    assert missing == []
