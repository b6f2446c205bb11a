"""The committed SDL and the apps' operations stay in step with the code."""

from pathlib import Path

import pytest

from backend.graphql.operations import OperationsError, operations_of
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


def test_client_operations_validate_against_the_schema() -> None:
    # Given the apps' operations files (fragments shared by the folder), when validated against
    # the schema, then every operation is there and valid.
    schema = build_schema(Settings(_env_file=None))  # type: ignore[call-arg]
    names = {operation.name for operation in operations_of(schema._schema)}
    assert {"SyncStart", "SyncChanges", "MarketSearch", "ThreadFollow"} <= names


def test_an_invalid_operation_or_an_unused_fragment_is_named_with_its_file(
    tmp_path: Path,
) -> None:
    # Given a folder where one file spreads another's fragment (fine), one asks for a field
    # that does not exist, and a fragment nobody uses
    (tmp_path / "a.graphql").write_text("fragment Mine on Me { role }\nquery A { me { ...Mine } }")
    (tmp_path / "b.graphql").write_text("query B { me { ...Mine nickname } }")
    (tmp_path / "c.graphql").write_text("fragment Unused on Me { role }")
    schema = build_schema(Settings(_env_file=None))  # type: ignore[call-arg]
    # when the folder is built, then both problems are reported, the field with its file
    with pytest.raises(OperationsError) as failed:
        operations_of(schema._schema, tmp_path)
    message = str(failed.value)
    assert "b.graphql: Cannot query field 'nickname' on type 'Me'." in message
    assert "Fragment 'Unused' is never used" in message
    assert "a.graphql" not in message


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
