"""Read the asset list of the liabilities (``assets.toml``) into `AssetSpec` values.

Where it sits: the first step of the liabilities flow, before the liabilities file itself
(verifier/inputs/liabilities.py), which reads its amounts under these decimals. The file
model `AssetsFile` is also the published JSON Schema (docs/spec/schemas/por-assets.schema.json)
and is found by `verifier.inputs.file_schemas` for `por config check`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import ConfigDict, Field

from attestations.encoding import ASSET_CODE_RE, MAX_ASSETS, MAX_DECIMALS, AssetSpec
from verifier.base import safetoml
from verifier.base.errors import InputError
from verifier.inputs.file_schemas import Check, FileModel, OpenModel, PlainText, fault, validate


def _asset_code(value: object) -> str:
    if not isinstance(value, str) or not ASSET_CODE_RE.fullmatch(value):
        raise fault("asset code must match [A-Z0-9._-]{1,16}", value)
    return value


def _decimals(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise fault("decimals must be an integer", repr(value))
    if not 0 <= value <= MAX_DECIMALS:
        raise fault(f"decimals must be 0..{MAX_DECIMALS}", value)
    return value


class AssetEntry(FileModel):
    """``[assets.BTC]``: one asset of the liabilities tree."""

    decimals: Annotated[
        int,
        Check(_decimals, {"type": "integer", "minimum": 0, "maximum": MAX_DECIMALS}),
    ] = Field(description="Base units per whole unit are 10**decimals (BTC 8, ETH 18)")
    name: PlainText | None = Field(None, description="A display name (not in the tree)")


class AssetsFile(OpenModel):
    """The asset list of the liabilities (``--assets assets.toml``)."""

    model_config = ConfigDict(
        title="por assets",
        json_schema_extra={
            "description": "Read by por liabilities build --assets (docs/files.md). Other "
            "top-level tables are ignored."
        },
    )

    assets: dict[
        Annotated[str, Check(_asset_code, {"type": "string", "pattern": "^[A-Z0-9._-]{1,16}$"})],
        AssetEntry,
    ] = Field(
        description=f"One [assets.CODE] table per asset, 1..{MAX_ASSETS}; the tree orders "
        "them by code (ASCII)"
    )


def file_problems(doc: AssetsFile, file: str) -> list[InputError]:
    """An empty asset list, or more assets than the tree format allows."""
    if not doc.assets:
        return [InputError("no [assets.CODE] tables", file=file, key="assets")]
    if len(doc.assets) > MAX_ASSETS:
        return [
            InputError(f"{len(doc.assets)} assets; at most {MAX_ASSETS}", file=file, key="assets")
        ]
    return []


def read_assets(path: Path) -> tuple[AssetSpec, ...]:
    """Parse an assets TOML file (``[assets.BTC] decimals = 8``), sorted by code.

    The schema is `AssetsFile` (published as docs/spec/schemas/por-assets.schema.json).
    """
    name = str(path)
    raw = safetoml.load_path(path, what="assets file")
    if not isinstance(raw.get("assets"), dict):
        raise InputError("no [assets.CODE] tables", file=name, key="assets")
    doc = validate(AssetsFile, raw, name)
    problems = file_problems(doc, name)
    if problems:
        raise problems[0]
    specs = [AssetSpec(code=code, decimals=entry.decimals) for code, entry in doc.assets.items()]
    return tuple(sorted(specs, key=lambda s: s.code.encode()))
