"""Gate.io's zk-SNARK account tree (gateio/proof-of-reserves): one user's ``user_config.json``.

Where it sits: a foreign format of `attestations/formats/` (registry in `__init__.py`); pure,
called by `verifier/external/check.py`. The tree, the hash and the batch-file checks are
`attestations/formats/zk_tree.py`'s; this module reads Gate's field names and packs Gate's
asset commitment.

Rules (Gate's ``UserVerify`` and ``utils.ComputeUserAssetsCommitment``):
* ``Arrangement`` is the leaf index, ``UniqueIdentification`` the id hash (hex, 32 bytes),
  ``TotalAssetEquity`` / ``TotalAssetDebt`` Go ``big.Int`` totals (USD value, scaled),
  ``AssetDetails[{Index, Equity, Debt}]`` (``uint16``, ``uint64``, ``uint64``: scaled
  integers, ×10^8 or ×100 for Gate's "two digit" assets), ``TreeRootHash`` (hex),
  ``MerkleProofEncode`` (28 base64 siblings, bottom-up).
* Asset commitment: the N-entry list (missing indexes zero) flattened to
  ``[equity0, debt0, equity1, debt1, …]``, zero-filled to a multiple of three, packed three
  values per element as ``a·2^128 + b·2^64 + c``, then ``P`` over those ``(2N + 2) // 3``
  elements. N = 800 for the July 2025 sample; 350 in Gate's earlier code.
* Two key layouts, the same rule: gateio/proof-of-reserves' (above) and
  gatechain/gate-zkmerkle-proof's (``AccountIndex``, ``AccountIdHash``, ``TotalEquity``,
  ``TotalDebt``, ``Assets[{Index, Equity, Debt}]``, ``Root``, ``Proof``; its ``UserVerify``
  hashes the same four-input leaf with ``AssetCounts = 350``). The layout read is reported.
  Binance's later files share the second layout's top-level keys but carry collateral and
  loan/margin tiers per asset (a five-input leaf): they are not this format.

Invariants: values outside their Go types are refused (a ``uint64`` never wraps); the N
that verified is reported (``variant``, ``asset_count``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from attestations.formats import zk_tree
from attestations.formats.common import FormatResult, ProofInput, load_json, mapping, need, try_json

NAME = "gate"
KNOWN_COUNTS = (800, 350)
"""``AssetCounts`` of Gate's published versions, newest first."""
_U64 = 1 << 64
_KEYS = ("Arrangement", "UniqueIdentification", "TreeRootHash", "MerkleProofEncode")
_ZKMERKLE_KEYS = ("AccountIndex", "AccountIdHash", "TotalEquity", "TotalDebt", "Assets", "Root")
_NOT_ZKMERKLE = frozenset({"TotalCollateral", "Loan", "Margin", "PortfolioMargin", "Balance"})
"""Keys of Binance's five-input leaf (collateral, tiers) and of HTX's V2 (``Balance``)."""
WEAKNESSES = (
    "sums are enforced only inside the zk circuit: a Merkle path proves that the tree holds a "
    "leaf committing to your own totals, not what the exchange's totals are (that needs the "
    "Groth16 batch proofs checked with Gate's verifying key, which por does not do; "
    "--batch-proof checks the batch chain, its commitments and the empty starting tree)",
    "the totals are USD values (equity × Gate's base price, scaled) as Gate stated them: the "
    "prices are not checked, and the path does not tie the totals to the asset list",
    "balances are Gate's scaled integers (×10^8, ×100 for some assets), keyed by Gate's asset "
    "index; the index → symbol table is Gate's",
    "UniqueIdentification is taken as given: check that it is the hash Gate gives for your "
    "own account",
    "inclusion of one account only: the other leaves and the number of accounts are not checked",
)


def looks_like(inp: ProofInput) -> bool:
    doc = try_json(inp.data)
    return isinstance(doc, dict) and (all(key in doc for key in _KEYS) or _zkmerkle(doc))


def _zkmerkle(doc: Mapping[str, Any]) -> bool:
    """gatechain/gate-zkmerkle-proof's layout: its keys, and Equity/Debt (only) per asset."""
    if not all(key in doc for key in _ZKMERKLE_KEYS) or _NOT_ZKMERKLE & doc.keys():
        return False
    assets = doc["Assets"]
    return isinstance(assets, list) and all(
        isinstance(a, dict) and {"Equity", "Debt"} <= a.keys() and not _NOT_ZKMERKLE & a.keys()
        for a in assets
    )


def _entry(raw: Mapping[str, Any], where: str) -> tuple[int, ...]:
    equity = zk_tree.json_int(need(raw, "Equity", where), f"{where}.Equity", 0, _U64)
    debt = zk_tree.json_int(need(raw, "Debt", where), f"{where}.Debt", 0, _U64)
    return equity, debt


def commitment_elements(assets: Mapping[int, tuple[int, ...]], count: int) -> list[int]:
    """The N-entry [equity, debt] list packed three u64 values per field element."""
    flat: list[int] = []
    for index in range(count):
        flat.extend(assets.get(index, (0, 0)))
    flat.extend([0] * (-len(flat) % 3))
    return [(a << 128) + (b << 64) + c for a, b, c in zip(*[iter(flat)] * 3, strict=True)]


def _balances(account: zk_tree.Account) -> dict[str, str]:
    out: dict[str, str] = {}
    for index, (equity, debt) in account.assets.items():
        out[f"{index}.equity"] = str(equity)
        out[f"{index}.debt"] = str(debt)
    return out


LAYOUT = zk_tree.Layout(
    name=NAME,
    root_field="TreeRootHash",
    known_counts=KNOWN_COUNTS,
    commitment=commitment_elements,
    weaknesses=WEAKNESSES,
    units="Gate's scaled integers as published: asset amounts ×10^8 (×100 for its two-digit "
    "assets), totals in scaled USD; keys are Gate's asset indexes",
    balances=_balances,
    zero_start=False,
)


ZKMERKLE_LAYOUT = dataclasses.replace(LAYOUT, root_field="Root")


def read_account(data: bytes, name: str) -> zk_tree.Account:
    """Gate's ``user_config.json`` as an `Account` (every field checked against its Go type)."""
    doc = mapping(load_json(data, "the proof file", name), "user_config")
    if "Arrangement" not in doc and _zkmerkle(doc):
        return _read_zkmerkle(doc)
    return zk_tree.Account(
        index=zk_tree.account_index(need(doc, "Arrangement", "proof"), "Arrangement"),
        id_hash=zk_tree.field_hex(
            need(doc, "UniqueIdentification", "proof"), "UniqueIdentification"
        ),
        total_equity=zk_tree.big_int(need(doc, "TotalAssetEquity", "proof"), "TotalAssetEquity"),
        total_debt=zk_tree.big_int(need(doc, "TotalAssetDebt", "proof"), "TotalAssetDebt"),
        assets=zk_tree.asset_list(need(doc, "AssetDetails", "proof"), "AssetDetails", _entry),
        root=zk_tree.field_hex(need(doc, "TreeRootHash", "proof"), "TreeRootHash"),
        path=zk_tree.siblings(need(doc, "MerkleProofEncode", "proof"), "MerkleProofEncode"),
    )


def _read_zkmerkle(doc: Mapping[str, Any]) -> zk_tree.Account:
    return zk_tree.Account(
        index=zk_tree.account_index(need(doc, "AccountIndex", "proof"), "AccountIndex"),
        id_hash=zk_tree.field_hex(need(doc, "AccountIdHash", "proof"), "AccountIdHash"),
        total_equity=zk_tree.big_int(need(doc, "TotalEquity", "proof"), "TotalEquity"),
        total_debt=zk_tree.big_int(need(doc, "TotalDebt", "proof"), "TotalDebt"),
        assets=zk_tree.asset_list(need(doc, "Assets", "proof"), "Assets", _entry),
        root=zk_tree.field_hex(need(doc, "Root", "proof"), "Root"),
        path=zk_tree.siblings(need(doc, "Proof", "proof"), "Proof"),
    )


def verify(inp: ProofInput) -> FormatResult:
    """Verify a Gate ``user_config.json`` (with ``--batch-proof proof.csv``, its batches too)."""
    doc = try_json(inp.data)
    if isinstance(doc, dict) and "Arrangement" not in doc and _zkmerkle(doc):
        result = zk_tree.verify(inp, ZKMERKLE_LAYOUT, read_account(inp.data, inp.name))
        layout = "key layout: gatechain/gate-zkmerkle-proof (AccountIndex, Assets, Root, Proof)"
    else:
        result = zk_tree.verify(inp, LAYOUT, read_account(inp.data, inp.name))
        layout = "key layout: gateio/proof-of-reserves (Arrangement, AssetDetails, TreeRootHash)"
    return dataclasses.replace(result, checks=(layout, *result.checks))
