"""Test helper: a real attestation directory, built without chain nodes, and its proofs.

The liabilities tree is built by the tool itself (`attestations.build.build_tree` on a small
sample), the proofs come from its `TreeStore`, the attestation document is assembled, signed
with a fixed test key and written by `attestations.document`, and the report is the sample
``por-report-v1`` report of tests/unit/test_report.py (its hostile strings included), bound
to this attestation. Loaded by path (`load`) from tests/unit and tests/browser.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from attestations.build import build_tree
from attestations.document.files import write_attestation
from attestations.document.model import ChainEntry, RulePackRef, WalletEntry
from attestations.document.sign import build_attestation, sign_attestation
from attestations.store import TreeStore
from chains.base import Attribution, BlockRef, Chain, WalletClass
from chains.btc_address import AddressType, DecodedAddress, encode_address
from chains.challenge import challenge
from verifier.inputs.assets import read_assets
from verifier.inputs.liabilities import read_liabilities
from verifier.tools.sample import assets_toml, sample_assets, write_sample

ROOT = Path(__file__).resolve().parents[2]
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
EXCHANGE = "Example <b>Exchange</b>"
AS_OF = "2026-11-21T00:00:00Z"
ACCOUNTS = ("acct-00000000", "acct-00000007", "acct-00000031")


def _sample_report() -> dict[str, Any]:
    spec = importlib.util.spec_from_file_location(
        "_site_report_cases", ROOT / "tests" / "unit" / "test_report.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    report: dict[str, Any] = module.sample_report(covered=True)
    return report


def build_liabilities(work: Path, attestation_id: str, accounts: int = 60) -> Path:
    """A tree of `accounts` sample customers (BTC, ETH, USDT) in ``work/tree``."""
    work.mkdir(parents=True, exist_ok=True)
    assets = sample_assets(3)
    csv = work / "liabilities.csv"
    write_sample(csv, accounts, assets)
    (work / "assets.toml").write_text(assets_toml(assets))
    data = read_liabilities(csv, read_assets(work / "assets.toml"))
    build_tree(data, work / "tree", attestation_id=attestation_id, as_of=AS_OF, split=2, workers=1)
    return work / "tree"


def proofs_of(tree: Path, accounts: tuple[str, ...] = ACCOUNTS) -> dict[str, dict[str, Any]]:
    with TreeStore(tree) as store:
        return {a: store.proof(a).to_json() for a in accounts}


def _chains(attestation_id: str) -> list[ChainEntry]:
    btc = BlockRef(Chain.BITCOIN, "regtest", 432, "0f" * 32)
    eth = BlockRef(Chain.ETHEREUM, "31337", 17, "ab" * 32)
    text = challenge(EXCHANGE, attestation_id, btc)
    address = encode_address(DecodedAddress(AddressType.P2WPKH, b"\x01" * 20, 0), "regtest")
    return [
        ChainEntry(
            btc,
            (
                WalletEntry(
                    address,
                    "cold <i>1</i>",
                    WalletClass.COLD,
                    Attribution.CUSTOMER,
                    {"BTC": 200_000_000},
                    {"scheme": "bip137", "message": text, "signature": "H3k+sig="},
                ),
            ),
        ),
        ChainEntry(
            eth,
            (
                WalletEntry(
                    "0x" + "1f" * 20,
                    "hot",
                    WalletClass.HOT,
                    Attribution.CUSTOMER,
                    {"ETH": 4 * 10**18, "USDT": 5_000_000},
                    {"scheme": "eip191", "signature": "0x" + "aa" * 65},
                ),
            ),
        ),
    ]


def make_attestation_dir(
    work: Path, attestation_id: str = "site-test-2026-11", *, with_report: bool = True
) -> tuple[Path, dict[str, dict[str, Any]]]:
    """Build tree, proofs, signed attestation (+ report.json, signed in it, as `por attest`
    does); returns (dir, proofs)."""
    tree = build_liabilities(work / "liabilities", attestation_id)
    root_doc = json.loads((tree / "root.json").read_text())
    report = None
    if with_report:
        report = _sample_report()
        report["attestation"] = {
            "id": attestation_id,
            "as_of": root_doc["as_of"],
            "commitment": root_doc["commitment"],
        }
    doc = build_attestation(
        attestation_id=attestation_id,
        as_of=AS_OF,
        exchange=EXCHANGE,
        liabilities=root_doc,
        chains=_chains(attestation_id),
        reserve={
            "currency": "JPY",
            "cash": [{"name": "trust <script>x</script>", "amount": "2000000000"}],
            "insurance": [{"insurer": "Example Re", "limit": "5000000000", "notice_days": 90}],
            "guarantees": [{"guarantor": "Example Bank", "amount": "1000000000"}],
        },
        prices={
            "BTC": {"value": "15000000", "currency": "JPY", "source": "ref", "time": AS_OF},
            "ETH": {"value": "450000", "currency": "JPY", "source": "ref", "time": AS_OF},
            "USDT": {"value": "150", "currency": "JPY", "source": "ref", "time": AS_OF},
        },
        rule_pack=RulePackRef("jp-fsa-2026", "2026.0-ph1"),
        report=report,
    )
    out = work / "attestation"
    write_attestation(out, sign_attestation(doc, KEY))
    if report is not None:
        (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return out, proofs_of(tree)
