"""The pydantic model of the assets file (``assets.toml``): its messages and its JSON Schema.

Where it sits: behind verifier/inputs/assets.py, which reads a well-formed file with plain
code and comes here only for a file it would refuse (the model's message names the key and
value, exactly as before) and for `por config check` and the published schema
(docs/spec/schemas/por-assets.schema.json), which find `AssetsFile` as an attribute of
`verifier.inputs.assets`. Kept apart so `por liabilities build` does not import pydantic
(about 45-70 ms of its start-up).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field

from attestations.encoding import MAX_ASSETS, MAX_DECIMALS
from verifier.inputs.assets import is_asset_code, is_decimals
from verifier.inputs.file_schemas import Check, FileModel, OpenModel, PlainText, fault


def _asset_code(value: object) -> str:
    if not is_asset_code(value):
        raise fault("asset code must match [A-Z0-9._-]{1,16}", value)
    assert isinstance(value, str)  # is_asset_code
    return value


def _decimals(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise fault("decimals must be an integer", repr(value))
    if not is_decimals(value):
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
