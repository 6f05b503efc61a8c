"""Every TOML and JSON example in the file docs runs: docs/files.md, docs/reserve.md and
docs/snapshot.md, each fenced block loaded by the real loader its marker names.

A block is preceded by an HTML comment saying what it is: ``<!-- file: KIND -->`` (a complete
file, loaded by its loader: prices, statement, assets, pack, config) or ``<!-- fragment:
KIND -->`` (part of one: it must parse, and every key in it must exist in that kind's
schema); ``<!-- file: other -->`` is another tool's file (.taplo.toml): it must parse. An
unmarked toml or json block fails the test.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from verifier.inputs.assets import read_assets
from verifier.inputs.config import load_config
from verifier.inputs.config_schema import PorToml
from verifier.inputs.file_schemas import _fields_at, model_of
from verifier.inputs.prices import load_prices
from verifier.reserve.pack_file import load_pack
from verifier.reserve.positions import inputs_from_statement
from verifier.reserve.rules import evaluate
from verifier.reserve.statement import load_statement

ROOT = Path(__file__).resolve().parents[2]
DOCS = ("docs/files.md", "docs/reserve.md", "docs/snapshot.md")
FENCE = re.compile(
    r"(?:<!--\s*(?P<mark>file|fragment):\s*(?P<kind>[a-z]+)\s*-->\s*\n)?"
    r"^```(?P<lang>toml|json)\n(?P<body>.*?)^```$",
    re.M | re.S,
)


@dataclass(frozen=True)
class Example:
    doc: str
    line: int
    mark: str | None
    kind: str | None
    lang: str
    body: str

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}"


def examples() -> list[Example]:
    found = []
    for doc in DOCS:
        text = (ROOT / doc).read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start("lang")) + 1
            found.append(
                Example(doc, line, match["mark"], match["kind"], match["lang"], match["body"])
            )
    return found


EXAMPLES = examples()
KINDS = ("prices", "statement", "assets", "pack", "config", "other")


def _model(kind: str) -> type[BaseModel]:
    return PorToml if kind == "config" else model_of(kind)


def test_the_docs_have_examples_of_every_file() -> None:
    complete = {e.kind for e in EXAMPLES if e.doc == "docs/files.md" and e.mark == "file"}
    assert complete == set(KINDS) - {"other"}
    assert len(EXAMPLES) >= 9


@pytest.mark.parametrize("example", EXAMPLES, ids=str)
def test_every_example_is_marked(example: Example) -> None:
    assert example.mark in ("file", "fragment"), (
        f"{example}: put <!-- file: KIND --> or <!-- fragment: KIND --> before the block"
    )
    assert example.kind in KINDS, f"{example}: kind {example.kind!r} is not one of {KINDS}"


def _load(kind: str, path: Path) -> Any:
    if kind == "prices":
        return load_prices(path)
    if kind == "statement":
        statement = load_statement(path)
        # a real statement also evaluates: under a pack of its own model and currency
        pack = load_pack("jp-fsa-2026" if statement.currency == "JPY" else "eu-mica")
        evaluate(pack, statement, inputs_from_statement(statement), as_of=statement.as_of)
        return statement
    if kind == "assets":
        return read_assets(path)
    if kind == "other":
        return tomllib.loads(path.read_text(encoding="utf-8"))
    if kind == "pack":
        return load_pack(str(path))
    return load_config(path)


@pytest.mark.parametrize("example", [e for e in EXAMPLES if e.mark == "file"], ids=str)
def test_complete_examples_load(example: Example, tmp_path: Path) -> None:
    assert example.kind is not None
    path = tmp_path / f"{example.kind}.{example.lang}"
    path.write_text(example.body, encoding="utf-8")
    assert _load(example.kind, path) is not None


def _paths(node: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every key path of a decoded document (array items share their array's path)."""
    out = []
    if isinstance(node, dict):
        for key, value in node.items():
            out.append((*prefix, key))
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for item in node:
            out += _paths(item, prefix)
    return out


def _key_known(model: type[BaseModel], path: tuple[str, ...]) -> bool:
    """True when the table holding the last key accepts it (or is a free-form table)."""
    fields = _fields_at(model, list(path[:-1]))
    if fields is not None:
        return path[-1] in fields
    # not a model: a mapping's own key (an asset code, a parameter name) or below a leaf
    return _fields_at(model, list(path[:-2])) is not None or len(path) > 2


@pytest.mark.parametrize("example", [e for e in EXAMPLES if e.mark == "fragment"], ids=str)
def test_fragments_parse_and_use_only_known_keys(example: Example) -> None:
    assert example.kind is not None
    doc = tomllib.loads(example.body) if example.lang == "toml" else json.loads(example.body)
    model = _model(example.kind)
    unknown = [".".join(p) for p in _paths(doc) if not _key_known(model, p)]
    assert not unknown, f"{example}: keys not in the {example.kind} schema: {unknown}"


def test_a_fragment_with_a_misspelt_key_fails() -> None:
    """The key check can fail: a misspelt key in a config fragment is caught."""
    doc = tomllib.loads('[bitcoin]\nbackend = "bcoin"\ntimout = 30\n')
    assert [p for p in _paths(doc) if not _key_known(PorToml, p)] == [("bitcoin", "timout")]


# ----------------------------------------------------------------------------- published schemas
# The JSON Schemas in docs/spec/schemas are what editors check files with as people type: a
# schema that refuses a valid file would flag every correct config in red. Every complete
# example above, every built-in pack, the demo's and `por init`'s files validate against them
# (TOML dates and times become ISO strings, as TOML-aware editors present them).

SCHEMA_FILES = {
    "config": "por-config.schema.json",
    "prices": "por-prices.schema.json",
    "statement": "por-reserve-statement.schema.json",
    "assets": "por-assets.schema.json",
    "pack": "por-rule-pack.schema.json",
}


def _as_json(value: Any) -> Any:
    import datetime

    if isinstance(value, dict):
        return {k: _as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_json(v) for v in value]
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return value


def _schema_errors(kind: str, document: Any) -> list[str]:
    import jsonschema

    schema = json.loads((ROOT / "docs/spec/schemas" / SCHEMA_FILES[kind]).read_text())
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    return [
        f"{'.'.join(map(str, e.absolute_path)) or '<top>'}: {e.message}"
        for e in validator.iter_errors(_as_json(document))
    ]


@pytest.mark.parametrize(
    "example",
    [e for e in EXAMPLES if e.mark == "file" and e.kind in SCHEMA_FILES],
    ids=str,
)
def test_complete_examples_validate_against_the_published_schema(example: Example) -> None:
    document = json.loads(example.body) if example.lang == "json" else tomllib.loads(example.body)
    assert _schema_errors(str(example.kind), document) == []


@pytest.mark.parametrize(
    "pack", sorted(p.stem for p in (ROOT / "verifier/reserve/packs").glob("*.toml"))
)
def test_shipped_files_validate_against_the_published_schema(pack: str, tmp_path: Path) -> None:
    """Each built-in pack, and what `por init --pack` writes for it (por.toml with its
    placeholders, which an editor may flag and nothing else)."""
    from verifier.cli.main import main

    assert (
        _schema_errors(
            "pack", tomllib.loads((ROOT / f"verifier/reserve/packs/{pack}.toml").read_text())
        )
        == []
    )
    assert main(["init", "--dir", str(tmp_path), "--pack", pack]) == 0
    for kind, name in (
        ("config", "por.toml"),
        ("prices", "prices.toml"),
        ("statement", "reserve.toml"),
        ("assets", "assets.toml"),
    ):
        document = tomllib.loads((tmp_path / name).read_text(encoding="utf-8"))
        # an editor may flag a "REPLACE: ..." placeholder (it must be filled in); nothing else
        errors = [e for e in _schema_errors(kind, document) if "'REPLACE: " not in e]
        assert errors == [], name


def test_the_schema_check_can_fail() -> None:
    """A wrong type and an unknown key are caught: the validation above is not vacuous."""
    bad = {"exchange": {"name": 7, "attestation_id": "x"}, "bitcoinn": {}}
    errors = _schema_errors("config", bad)
    assert any("exchange.name" in e for e in errors)
    assert any("bitcoinn" in e for e in errors)
