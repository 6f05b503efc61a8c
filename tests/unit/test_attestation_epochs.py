"""Epoch ownership proofs in the attestation document (attestations/document/) and in
`por verify` (verifier/jobs/verify.py), without nodes.

The document carries, per proof, the epoch it signs ({id, height, hash, expires}), its age at
the pinned block and the exchange's status, and in ``settings`` the maximum age applied.
Every new field is checked strictly on read (field errors name the path). A document whose
epoch facts are changed and then re-signed with the exchange's own key passes the signature
check, so only `por verify`'s semantic checks can catch it: each such change is a listed
discrepancy (exit 3); the same change without re-signing fails the signature (exit 3).
The signatures are real (BIP-137 and EIP-191 over the epoch challenges); the reserve
recomputation, which needs a full reconciliation, is stubbed here (the node tests in
tests/integration/test_attest_epochs.py run it whole).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import coincurve
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eth_account import Account
from eth_account.messages import encode_defunct

import verifier.jobs.verify as attest_module
from attestations.document.model import (
    ChainEntry,
    OwnershipMaxAge,
    PriceQuote,
    RulePackRef,
    WalletEntry,
)
from attestations.document.parse import parse_attestation
from attestations.document.sign import (
    build_attestation,
    public_key_hex,
    sign_attestation,
    verify_attestation,
)
from attestations.encoding import AssetSpec, commitment
from attestations.proofs import RootDocument, SumNode
from chains.base import Attribution, BlockRef, Chain, WalletClass
from chains.btc_address import AddressType, DecodedAddress, encode_address
from chains.btc_bip137 import sign_bip137
from chains.btc_proof_checks import hash160 as _hash160
from chains.challenge import challenge, epoch_challenge
from verifier.base.errors import InvalidProof
from verifier.cli.main import main

ATTESTATION_ID = "exch-2026-12"
EXCHANGE = "Epoch Exchange"
AS_OF = "2026-12-01T00:00:00Z"
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))  # a fixed test key
PUBLIC = public_key_hex(KEY)
BTC_PINNED = BlockRef(Chain.BITCOIN, "regtest", 432, "0f" * 32)
ETH_PINNED = BlockRef(Chain.ETHEREUM, "31337", 12, "ab" * 32)
BTC_EPOCH: dict[str, Any] = {
    "id": "2026-q4",
    "height": 400,
    "hash": "11" * 32,
    "expires": "2027-03-31T00:00:00Z",
}
ETH_EPOCH: dict[str, Any] = {"id": "eth-2026", "height": 10, "hash": "22" * 32, "expires": None}
MAX_AGE: dict[str, Any] = {
    "days": 92,
    "source": "[ownership] max_age_days",
    "blocks": {"bitcoin": 100},
}
BTC_SECRET = hashlib.sha256(b"epoch cold key").digest()
PIT_SECRET = hashlib.sha256(b"point-in-time key").digest()
ETH_ACCOUNT = Account.from_key(hashlib.sha256(b"epoch eoa key").digest())
DAY = 86_400


def p2wpkh(secret: bytes) -> str:
    public = coincurve.PrivateKey(secret).public_key.format(compressed=True)
    return encode_address(DecodedAddress(AddressType.P2WPKH, _hash160(public), 0), "regtest")


def root_document() -> dict[str, Any]:
    assets = (AssetSpec("BTC", 8), AssetSpec("ETH", 18))
    root_hash = hashlib.sha256(b"root").digest()
    sums = (250_000_000, 3 * 10**18)
    return RootDocument(
        attestation_id=ATTESTATION_ID,
        as_of=AS_OF,
        assets=assets,
        height=3,
        root=SumNode(root_hash, sums),
        commitment=commitment(ATTESTATION_ID, assets, 3, root_hash, sums),
    ).to_json()


def message(epoch: dict[str, Any], pinned: BlockRef) -> str:
    block = BlockRef(pinned.chain, pinned.network, epoch["height"], epoch["hash"])
    return epoch_challenge(EXCHANGE, epoch["id"], block, epoch["expires"])


def eth_signature(text: str) -> str:
    signed = ETH_ACCOUNT.sign_message(encode_defunct(text=text))
    return "0x" + str(signed.signature.hex()).removeprefix("0x")


def chains() -> list[ChainEntry]:
    btc_age = {"blocks": BTC_PINNED.height - BTC_EPOCH["height"], "seconds": 32 * 600}
    eth_age = {"blocks": ETH_PINNED.height - ETH_EPOCH["height"], "seconds": 2 * DAY + 5}
    return [
        ChainEntry(
            BTC_PINNED,
            (
                WalletEntry(
                    p2wpkh(BTC_SECRET),
                    "cold",
                    WalletClass.COLD,
                    Attribution.CUSTOMER,
                    {"BTC": 200_000_000},
                    {
                        "scheme": "bip137",
                        "signature": sign_bip137(BTC_SECRET, message(BTC_EPOCH, BTC_PINNED)),
                        "epoch": dict(BTC_EPOCH),
                        "age": btc_age,
                        "status": "proven",
                    },
                ),
                WalletEntry(
                    p2wpkh(PIT_SECRET),
                    "point-in-time",
                    WalletClass.HOT,
                    Attribution.CUSTOMER,
                    {"BTC": 50_000_000},
                    {
                        "scheme": "bip137",
                        "signature": sign_bip137(
                            PIT_SECRET, challenge(EXCHANGE, ATTESTATION_ID, BTC_PINNED)
                        ),
                        "epoch": None,
                        "age": None,
                        "status": "proven",
                    },
                ),
                WalletEntry(
                    p2wpkh(hashlib.sha256(b"custodian").digest()),
                    "custodian",
                    WalletClass.CUSTODIAL,
                    Attribution.CUSTOMER,
                    {"BTC": 1},
                    None,
                ),
            ),
        ),
        ChainEntry(
            ETH_PINNED,
            (
                WalletEntry(
                    ETH_ACCOUNT.address,
                    "eoa",
                    WalletClass.HOT,
                    Attribution.CUSTOMER,
                    {"ETH": 3 * 10**18},
                    {
                        "scheme": "eip191",
                        "signature": eth_signature(message(ETH_EPOCH, ETH_PINNED)),
                        "epoch": dict(ETH_EPOCH),
                        "age": eth_age,
                        "status": "proven",
                    },
                ),
            ),
        ),
    ]


def build(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "attestation_id": ATTESTATION_ID,
        "as_of": AS_OF,
        "exchange": EXCHANGE,
        "liabilities": root_document(),
        "chains": chains(),
        "reserve": {"cash": []},
        "prices": {
            "BTC": PriceQuote(Decimal(60000), "USD", "test", AS_OF),
            "ETH": {"value": "3000", "currency": "USD", "source": "test", "time": AS_OF},
        },
        "rule_pack": RulePackRef("jp-fsa-2026", "2026.0-ph1"),
        "report": {"settings": {"ownership_max_age": copy.deepcopy(MAX_AGE)}},
        "max_age": OwnershipMaxAge(**copy.deepcopy(MAX_AGE)),
    }
    args.update(overrides)
    return build_attestation(**args)


def btc(doc: dict[str, Any], n: int = 0) -> dict[str, Any]:
    proof: dict[str, Any] = doc["chains"][0]["wallets"][n]["ownership"]
    return proof


def eth(doc: dict[str, Any]) -> dict[str, Any]:
    proof: dict[str, Any] = doc["chains"][1]["wallets"][0]["ownership"]
    return proof


def field_check(doc: dict[str, Any]) -> str:
    with pytest.raises(InvalidProof) as info:
        parse_attestation(doc, require_signature=False)
    return info.value.check


@pytest.fixture
def verify_cli(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]:
    """`por verify FILE --public-key … --json` on a document; the reserve recomputation
    (a whole reconciliation, run by the node tests) stubbed out."""
    monkeypatch.setattr(attest_module, "_recompute", lambda *args: None)

    def run(doc: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        path = tmp_path / "attestation.json"
        path.write_text(json.dumps(doc))
        code = main(["verify", str(path), "--public-key", PUBLIC, "--json"])
        out = capsys.readouterr()
        result: dict[str, Any] = json.loads(out.out) if out.out.strip() else {}
        return code, {**result, "error": out.out + out.err}

    return run


# ----------------------------------------------------------------------------- the document


def test_epoch_fields_round_trip() -> None:
    doc = sign_attestation(build(), KEY)
    assert doc["settings"] == {"ownership_max_age": MAX_AGE}
    assert list(doc).index("settings") == list(doc).index("rule_pack") + 1
    parsed = verify_attestation(doc, expected_public_key=PUBLIC)
    cold, pit, custodian = parsed.chains[0].wallets
    assert cold.epoch is not None and cold.epoch.to_json() == BTC_EPOCH
    assert cold.age is not None and (cold.age.blocks, cold.age.seconds) == (32, 19200)
    assert cold.status == "proven"
    assert (pit.epoch, pit.age, pit.status) == (None, None, "proven")
    assert (custodian.epoch, custodian.status) == (None, None)
    assert parsed.max_age is not None and parsed.max_age.to_json() == MAX_AGE


def test_a_document_without_epochs_needs_no_settings() -> None:
    entries = chains()
    for chain in entries:
        for wallet in chain.wallets:
            if wallet.ownership is not None:
                wallet.ownership.update(epoch=None, age=None)  # type: ignore[attr-defined]
    doc = build(chains=entries, max_age=None)
    assert "settings" not in doc
    assert parse_attestation(doc, require_signature=False).max_age is None
    with pytest.raises(InvalidProof) as info:  # while a proof naming an epoch needs them
        build(max_age=None)
    assert info.value.check == "field settings.ownership_max_age"


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(doc: dict[str, Any]) -> None:
        target: Any = doc
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return apply


def _drop(path: tuple[Any, ...]) -> Callable[[dict[str, Any]], None]:
    def apply(doc: dict[str, Any]) -> None:
        target: Any = doc
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]

    return apply


OWN = ("chains", 0, "wallets", 0, "ownership")
W0 = "chains[0].wallets[0].ownership"
FIELD_ERRORS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("epoch as an id string", _set((*OWN, "epoch"), "2026-q4"), f"{W0}.epoch"),
    ("epoch member unknown", _set((*OWN, "epoch", "note"), "x"), f"{W0}.epoch.note"),
    ("epoch without expires", _drop((*OWN, "epoch", "expires")), f"{W0}.epoch.expires"),
    ("epoch id empty", _set((*OWN, "epoch", "id"), ""), f"{W0}.epoch.id"),
    ("epoch id two lines", _set((*OWN, "epoch", "id"), "a\nb"), f"{W0}.epoch.id"),
    ("epoch id a number", _set((*OWN, "epoch", "id"), 4), f"{W0}.epoch.id"),
    ("epoch height negative", _set((*OWN, "epoch", "height"), -1), f"{W0}.epoch.height"),
    ("epoch height a string", _set((*OWN, "epoch", "height"), "400"), f"{W0}.epoch.height"),
    ("epoch height a bool", _set((*OWN, "epoch", "height"), True), f"{W0}.epoch.height"),
    ("epoch height huge", _set((*OWN, "epoch", "height"), 2**53), f"{W0}.epoch.height"),
    ("epoch hash upper", _set((*OWN, "epoch", "hash"), "AB" * 32), f"{W0}.epoch.hash"),
    ("epoch hash 0x", _set((*OWN, "epoch", "hash"), "0x" + "11" * 32), f"{W0}.epoch.hash"),
    ("epoch hash short", _set((*OWN, "epoch", "hash"), "11" * 31), f"{W0}.epoch.hash"),
    ("expires a date", _set((*OWN, "epoch", "expires"), "2027-03-31"), f"{W0}.epoch.expires"),
    (
        "expires with an offset",
        _set((*OWN, "epoch", "expires"), "2027-03-31T00:00:00+00:00"),
        f"{W0}.epoch.expires",
    ),
    (
        "expires not a date",
        _set((*OWN, "epoch", "expires"), "2027-02-30T00:00:00Z"),
        f"{W0}.epoch.expires",
    ),
    ("expires a number", _set((*OWN, "epoch", "expires"), 1806451200), f"{W0}.epoch.expires"),
    ("age a number", _set((*OWN, "age"), 32), f"{W0}.age"),
    ("age member unknown", _set((*OWN, "age", "days"), 0), f"{W0}.age.days"),
    ("age without seconds", _drop((*OWN, "age", "seconds")), f"{W0}.age.seconds"),
    ("age blocks negative", _set((*OWN, "age", "blocks"), -32), f"{W0}.age.blocks"),
    ("age seconds a string", _set((*OWN, "age", "seconds"), "19200"), f"{W0}.age.seconds"),
    ("age seconds huge", _set((*OWN, "age", "seconds"), -(2**53)), f"{W0}.age.seconds"),
    ("proven epoch proof without age", _set((*OWN, "age"), None), f"{W0}.age"),
    ("status unknown", _set((*OWN, "status"), "fresh"), f"{W0}.status"),
    ("status null", _set((*OWN, "status"), None), f"{W0}.status"),
    (
        "age without an epoch",
        _set(("chains", 0, "wallets", 1, "ownership", "age"), {"blocks": 0, "seconds": 0}),
        "chains[0].wallets[1].ownership.age",
    ),
    (
        "stale without an epoch",
        _set(("chains", 0, "wallets", 1, "ownership", "status"), "stale"),
        "chains[0].wallets[1].ownership.status",
    ),
    (
        "message not the epoch's challenge",
        _set((*OWN, "message"), challenge(EXCHANGE, ATTESTATION_ID, BTC_PINNED)),
        f"{W0}.message",
    ),
    ("settings removed", _drop(("settings",)), "settings.ownership_max_age"),
    (
        "settings null limits",
        _set(("settings", "ownership_max_age"), None),
        "settings.ownership_max_age",
    ),
    ("settings unknown member", _set(("settings", "note"), 1), "settings.note"),
    (
        "days zero",
        _set(("settings", "ownership_max_age", "days"), 0),
        "settings.ownership_max_age.days",
    ),
    (
        "days beyond safe seconds",
        _set(("settings", "ownership_max_age", "days"), 2**53 // DAY + 1),
        "settings.ownership_max_age.days",
    ),
    (
        "days a string",
        _set(("settings", "ownership_max_age", "days"), "92"),
        "settings.ownership_max_age.days",
    ),
    (
        "source empty",
        _set(("settings", "ownership_max_age", "source"), ""),
        "settings.ownership_max_age.source",
    ),
    (
        "blocks of an unknown chain",
        _set(("settings", "ownership_max_age", "blocks"), {"litecoin": 5}),
        "settings.ownership_max_age.blocks.litecoin",
    ),
    (
        "blocks zero",
        _set(("settings", "ownership_max_age", "blocks"), {"bitcoin": 0}),
        "settings.ownership_max_age.blocks.bitcoin",
    ),
    (
        "blocks missing",
        _drop(("settings", "ownership_max_age", "blocks")),
        "settings.ownership_max_age.blocks",
    ),
]


@pytest.mark.parametrize(
    ("how", "path"), [(t[1], t[2]) for t in FIELD_ERRORS], ids=[t[0] for t in FIELD_ERRORS]
)
def test_every_epoch_field_is_checked_on_read(
    how: Callable[[dict[str, Any]], None], path: str
) -> None:
    doc = build()
    how(doc)
    assert field_check(doc) == f"field {path}"


def test_one_epoch_names_one_block_per_chain_and_one_expiry() -> None:
    # a second wallet naming the same epoch with another block
    doc = build()
    btc(doc, 1).update(epoch={**BTC_EPOCH, "height": 401}, age={"blocks": 31, "seconds": 1})
    assert field_check(doc) == "field chains[0].wallets[1].ownership.epoch"
    # the same epoch id on another chain with another expiry
    doc = build()
    eth(doc)["epoch"] = {**ETH_EPOCH, "id": BTC_EPOCH["id"], "expires": "2027-01-01T00:00:00Z"}
    assert field_check(doc) == "field chains[1].wallets[0].ownership.epoch.expires"


# ----------------------------------------------------------------------------- por verify


def test_verify_proves_epoch_proofs(
    verify_cli: Callable[[dict[str, Any]], tuple[int, dict[str, Any]]],
) -> None:
    code, result = verify_cli(sign_attestation(build(), KEY))
    assert code == 0, result
    assert result["valid"] and result["discrepancies"] == []
    assert any("2 epoch proofs" in c for c in result["checks"])
    # the day limit applies to ages in seconds only a node can confirm: a warning, not a ✓
    assert not any("92 days" in c for c in result["checks"])
    assert any("92 days" in w for w in result["warnings"])


def _resign(doc: dict[str, Any]) -> dict[str, Any]:
    return sign_attestation({k: v for k, v in doc.items() if k != "signature"}, KEY)


def _both(doc: dict[str, Any], key: str, value: Any) -> None:
    """The document's limits and the report's, changed alike."""
    doc["settings"]["ownership_max_age"][key] = value
    doc["report"]["settings"]["ownership_max_age"][key] = value


BTC_KEY = "bitcoin:" + p2wpkh(BTC_SECRET)
ETH_KEY = "ethereum:" + ETH_ACCOUNT.address
SEMANTIC: list[tuple[str, Callable[[dict[str, Any]], object], str]] = [
    # (what, how, a text of the discrepancy)
    (
        "epoch id",
        lambda d: btc(d)["epoch"].update(id="2026-q3"),
        f"{BTC_KEY}: the document's ownership.status says proven, the auditor finds unproven",
    ),
    (
        "epoch height (and its age)",
        lambda d: (btc(d)["epoch"].update(height=401), btc(d)["age"].update(blocks=31)),
        f"{BTC_KEY}: the document's ownership.status says proven, the auditor finds unproven",
    ),
    (
        "epoch height alone",
        lambda d: btc(d)["epoch"].update(height=401),
        f"{BTC_KEY}: ownership.age.blocks is 32, but epoch 2026-q4 block 401 is 31 blocks",
    ),
    (
        "epoch height above the pinned block",
        lambda d: eth(d)["epoch"].update(height=13),
        "is above the pinned block 12",
    ),
    (
        "epoch hash",
        lambda d: eth(d)["epoch"].update(hash="33" * 32),
        f"{ETH_KEY}: the document's ownership.status says proven, the auditor finds unproven",
    ),
    (
        "expiry extended",
        lambda d: btc(d)["epoch"].update(expires="2028-03-31T00:00:00Z"),
        f"{BTC_KEY}: the document's ownership.status says proven, the auditor finds unproven",
    ),
    (
        "expiry removed",
        lambda d: btc(d)["epoch"].update(expires=None),
        f"{BTC_KEY}: the document's ownership.status says proven, the auditor finds unproven",
    ),
    (
        "age in blocks",
        lambda d: btc(d)["age"].update(blocks=3),
        f"{BTC_KEY}: ownership.age.blocks is 3, but epoch 2026-q4 block 400 is 32 blocks",
    ),
    (
        "age in seconds past the maximum",
        lambda d: eth(d)["age"].update(seconds=93 * DAY),
        f"{ETH_KEY}: the document's ownership.status says proven, the auditor finds stale",
    ),
    (
        "status stale for a fresh proof",
        lambda d: eth(d).update(status="stale"),
        f"{ETH_KEY}: the document's ownership.status says stale, the auditor finds proven",
    ),
    (
        "status proven for a stale proof",
        lambda d: (eth(d)["age"].update(seconds=100 * DAY), eth(d).update(status="proven")),
        "past the maximum age of 92 days",
    ),
    (
        "status unproven for a proven one",
        lambda d: btc(d).update(status="unproven"),
        f"{BTC_KEY}: the document's ownership.status says unproven, the auditor finds proven",
    ),
    (
        "point-in-time proof given an epoch",
        lambda d: btc(d, 1).update(epoch=dict(BTC_EPOCH), age={"blocks": 32, "seconds": 0}),
        "the document's ownership.status says proven, the auditor finds unproven",
    ),
    (
        "epoch proof stripped of its epoch",
        lambda d: btc(d).update(epoch=None, age=None),
        f"{BTC_KEY}: the document's ownership.status says proven, the auditor finds unproven",
    ),
    (
        "limit in days (both)",
        lambda d: _both(d, "days", 1),
        f"{ETH_KEY}: the document's ownership.status says proven, the auditor finds stale",
    ),
    (
        "limit in blocks (both)",
        lambda d: _both(d, "blocks", {"bitcoin": 31}),
        f"{BTC_KEY}: the document's ownership.status says proven, the auditor finds stale",
    ),
    (
        "document limit only",
        lambda d: d["settings"]["ownership_max_age"].update(days=93),
        "report.settings.ownership_max_age is",
    ),
    (
        "report limit only",
        lambda d: d["report"]["settings"]["ownership_max_age"].update(blocks={}),
        "report.settings.ownership_max_age is",
    ),
]


@pytest.mark.parametrize(
    ("how", "expected"), [(t[1], t[2]) for t in SEMANTIC], ids=[t[0] for t in SEMANTIC]
)
def test_resigned_epoch_tampering_is_a_discrepancy(
    verify_cli: Callable[[dict[str, Any]], tuple[int, dict[str, Any]]],
    how: Callable[[dict[str, Any]], object],
    expected: str,
) -> None:
    doc = sign_attestation(build(), KEY)
    how(doc)
    code, result = verify_cli(_resign(doc))
    assert code == 3, result
    assert result["valid"] is False
    assert any(expected in d for d in result["discrepancies"]), result["discrepancies"]


@pytest.mark.parametrize("how", [t[1] for t in SEMANTIC], ids=[t[0] for t in SEMANTIC])
def test_epoch_tampering_without_resigning_breaks_the_signature(
    verify_cli: Callable[[dict[str, Any]], tuple[int, dict[str, Any]]],
    how: Callable[[dict[str, Any]], object],
) -> None:
    doc = sign_attestation(build(), KEY)
    how(doc)
    code, result = verify_cli(doc)
    assert code == 3
    assert "signature" in result["error"] and "Traceback" not in result["error"]


def test_stale_by_expiry_is_taken_as_attested_without_a_node(
    verify_cli: Callable[[dict[str, Any]], tuple[int, dict[str, Any]]],
) -> None:
    # the document has no block times: an expiry cannot be decided offline, and the
    # exchange's "stale" (counted as unproven) is the cautious reading
    doc = build()
    btc(doc)["status"] = "stale"
    code, result = verify_cli(sign_attestation(doc, KEY))
    assert code == 0, result["discrepancies"]
    # where nothing is unknown (no expiry, seconds stated) the same claim is a discrepancy
    doc = build()
    eth(doc)["status"] = "stale"
    code, result = verify_cli(sign_attestation(doc, KEY))
    assert code == 3


def test_unproven_for_want_of_the_epoch_block_is_taken_as_attested(
    verify_cli: Callable[[dict[str, Any]], tuple[int, dict[str, Any]]],
) -> None:
    doc = build()
    eth(doc).update(age=None, status="unproven")
    signed = sign_attestation(doc, KEY)
    code, result = verify_cli(signed)
    assert code == 0, result["discrepancies"]
    # claimed proven without an age is refused on read, before the signature (exit 3,
    # naming the field)
    eth(signed)["status"] = "proven"
    code, result = verify_cli(signed)
    assert code == 3 and "chains[1].wallets[0].ownership.age" in result["error"]
