"""Read the asset list of the liabilities (``assets.toml``) into `AssetSpec` values.

Where it sits: the first step of the liabilities flow, before the liabilities file itself
(verifier/inputs/liabilities.py), which reads its amounts under these decimals. A
well-formed file is read by plain code here (`_plain_decimals`); anything it would not
accept as written goes through the file's pydantic model (verifier/inputs/assets_schema.py),
imported only then, whose message names the key and value. So `por liabilities build`
does not import pydantic, and every refusal is the model's, as before.
tests/unit/test_assets_plain.py holds the two paths to the same answer for any input.

The model `AssetsFile` is the published JSON Schema (docs/spec/schemas/por-assets.schema.json)
and is found here by `verifier.inputs.file_schemas` for `por config check` (an attribute
of this module, loaded on first access).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attestations.encoding import ASSET_CODE_RE, MAX_ASSETS, MAX_DECIMALS, AssetSpec
from verifier.base import safetoml
from verifier.base.errors import InputError

_ENTRY_KEYS = frozenset({"decimals", "name"})


def is_asset_code(value: object) -> bool:
    """An asset code as the tree allows it: [A-Z0-9._-]{1,16}."""
    return isinstance(value, str) and ASSET_CODE_RE.fullmatch(value) is not None


def is_decimals(value: object) -> bool:
    """An integer (never a bool) of 0..MAX_DECIMALS."""
    return not isinstance(value, bool) and isinstance(value, int) and 0 <= value <= MAX_DECIMALS


def __getattr__(name: str) -> Any:
    # the models live in assets_schema.py (pydantic); file_schemas reads them from here
    if name in ("AssetsFile", "AssetEntry"):
        from verifier.inputs import assets_schema

        return getattr(assets_schema, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _plain_decimals(assets: Mapping[str, Any]) -> dict[str, int] | None:
    """code -> decimals when every table is exactly what the model accepts as written (a
    valid code; decimals an integer in range; a string name at most; no other key); None
    for anything else, which the model then refuses (or accepts) with its own message."""
    decimals: dict[str, int] = {}
    for code, entry in assets.items():
        if not is_asset_code(code) or not isinstance(entry, dict):
            return None
        if not entry.keys() <= _ENTRY_KEYS or not is_decimals(entry.get("decimals")):
            return None
        if not isinstance(entry.get("name", ""), str):
            return None
        decimals[code] = entry["decimals"]
    return decimals


def _count_problems(count: int, file: str) -> list[InputError]:
    if not count:
        return [InputError("no [assets.CODE] tables", file=file, key="assets")]
    if count > MAX_ASSETS:
        return [InputError(f"{count} assets; at most {MAX_ASSETS}", file=file, key="assets")]
    return []


def file_problems(doc: Any, file: str) -> list[InputError]:
    """An empty asset list, or more assets than the tree format allows (`doc` is an
    `AssetsFile`; `por config check` calls this after the model)."""
    return _count_problems(len(doc.assets), file)


def read_assets(path: Path) -> tuple[AssetSpec, ...]:
    """Parse an assets TOML file (``[assets.BTC] decimals = 8``), sorted by code.

    The schema is `AssetsFile` (published as docs/spec/schemas/por-assets.schema.json).
    """
    return assets_from(safetoml.load_path(path, what="assets file"), str(path))


def assets_from(raw: Mapping[str, Any], file: str) -> tuple[AssetSpec, ...]:
    """The decoded file `raw` as asset specs sorted by code; a fault raised as `InputError`
    naming `file`, the key and the value."""
    if not isinstance(raw.get("assets"), dict):
        raise InputError("no [assets.CODE] tables", file=file, key="assets")
    decimals = _plain_decimals(raw["assets"])
    if decimals is None:
        decimals = _model_decimals(raw, file)
    problems = _count_problems(len(decimals), file)
    if problems:
        raise problems[0]
    specs = [AssetSpec(code=code, decimals=d) for code, d in decimals.items()]
    return tuple(sorted(specs, key=lambda s: s.code.encode()))


def _model_decimals(raw: Mapping[str, Any], file: str) -> dict[str, int]:
    """The model's reading of `raw`: its first problem raised as `InputError`."""
    from verifier.inputs.assets_schema import AssetsFile
    from verifier.inputs.file_schemas import validate

    doc = validate(AssetsFile, raw, file)
    return {code: entry.decimals for code, entry in doc.assets.items()}
