"""HTX's zk account tree, V2 (huobiapi/Tool-Go-MerkleVerify): one user's ``user_config.json``.

Where it sits: a foreign format of `attestations/formats/` (registry in `__init__.py`); pure,
called by `verifier/external/check.py`. The tree, the hash and the batch-file checks are
`attestations/formats/zk_tree.py`'s; this module reads HTX's field names and HTX's asset
commitment.

Rules (HTX's ``verifier/main.go -user`` and ``utils.ComputeUserAssetsCommitment``):
* ``AccountIndex`` is the leaf index, ``AccountIdHash`` the id hash (hex, 32 bytes),
  ``TotalEquity`` / ``TotalDebt`` Go ``big.Int`` totals, ``Assets[{Index, Balance}]``
  (``uint16``, ``int64``: scaled integers, ×10^8 or ×100 for HTX's "two digit" assets),
  ``Root`` (hex), ``Proof`` (28 base64 siblings, bottom-up).
* Asset commitment: ``P`` over the N-entry balance list (missing indexes zero), one field
  element per balance through ``big.Int.Bytes()``: the **sign is dropped**, ``-x`` hashes
  like ``x``. N changed between versions of HTX's code: 168 (the published sample), 174, 205.

Invariants: values outside their Go types are refused; the N that verified is reported
(``variant``, ``asset_count``); a negative balance is shown as published and named among the
result's weaknesses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attestations.formats import zk_tree
from attestations.formats.common import FormatResult, ProofInput, load_json, mapping, need, try_json

NAME = "htx-zk"
KNOWN_COUNTS = (168, 174, 205)
"""``AssetCounts`` seen in HTX's code: the sample's first, then the others."""
_I64 = 1 << 63
_KEYS = ("AccountIndex", "AccountIdHash", "Assets", "Root", "Proof")
WEAKNESSES = (
    "sums are enforced only inside the zk circuit: a Merkle path proves that the tree holds a "
    "leaf committing to your own totals, not what the exchange's totals are (that needs the "
    "Groth16 batch proofs checked with HTX's verifying key, which por does not do; "
    "--batch-proof checks the batch chain, its commitments and the empty starting tree)",
    "balances go through Go's big.Int.Bytes(), which drops the sign: a balance of -x hashes "
    "like x, so the path cannot tell a debt from a holding",
    "the asset-list length N changed between HTX's versions (168, 174, 205): the N that "
    "verified is reported; a file of another version needs its own N (--assets)",
    "balances are HTX's scaled integers (×10^8, ×100 for some assets), keyed by HTX's asset "
    "index; the totals are USD values as HTX stated them and the prices are not checked",
    "AccountIdHash is taken as given: check that it is the hash HTX gives for your own account",
    "inclusion of one account only: the other leaves and the number of accounts are not checked",
)


def looks_like(inp: ProofInput) -> bool:
    doc = try_json(inp.data)
    if not isinstance(doc, dict) or not all(key in doc for key in _KEYS):
        return False
    assets = doc["Assets"]
    # Binance's later files share these keys but carry Equity/Debt/Loan/Margin per asset
    return isinstance(assets, list) and all(isinstance(a, dict) and "Balance" in a for a in assets)


def _entry(raw: Mapping[str, Any], where: str) -> tuple[int, ...]:
    return (zk_tree.json_int(need(raw, "Balance", where), f"{where}.Balance", -_I64, _I64),)


def commitment_elements(assets: Mapping[int, tuple[int, ...]], count: int) -> list[int]:
    """One element per entry of the N-entry list: the balance's magnitude (``Bytes()``)."""
    return [abs(assets.get(index, (0,))[0]) for index in range(count)]


def _balances(account: zk_tree.Account) -> dict[str, str]:
    return {str(index): str(values[0]) for index, values in account.assets.items()}


LAYOUT = zk_tree.Layout(
    name=NAME,
    root_field="Root",
    known_counts=KNOWN_COUNTS,
    commitment=commitment_elements,
    weaknesses=WEAKNESSES,
    units="HTX's scaled integers as published: balances ×10^8 (×100 for its two-digit "
    "assets), totals in USD; keys are HTX's asset indexes",
    balances=_balances,
    zero_start=True,
)


def read_account(data: bytes, name: str) -> zk_tree.Account:
    """HTX's ``user_config.json`` as an `Account` (every field checked against its Go type)."""
    doc = mapping(load_json(data, "the proof file", name), "user_config")
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
    """Verify an HTX V2 ``user_config.json`` (with ``--batch-proof proof0.csv``, its batches)."""
    return zk_tree.verify(inp, LAYOUT, read_account(inp.data, inp.name))
