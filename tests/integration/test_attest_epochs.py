"""`por attest` and `por verify` with ownership epochs, end to end on real bcoin and anvil.

The world is the demo's with epochs (verifier/tools/demo_funding.py `fund_and_configure(epochs=True)`):
every ongoing wallet (a 2-of-3 P2WSH multisig and P2WPKH on bcoin, EIP-191 and an EIP-1271
contract wallet on anvil) signed the challenge of ownership epoch EPOCH once, at the tips of
the time; "old-epoch" is on an expired epoch (stale); "wrong-block" signed another block's
point-in-time challenge (unproven). Blocks are mined between attestations: each attestation
carries the proofs' epochs, ages and statuses, and the auditor's `por verify` on its own
nodes finds them VALID with the same ages; a re-signed document whose epoch facts were
changed is caught by the node checks (exit 3).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from demo_world import demo_world

from attestations.document.sign import sign_attestation
from chains.btc_address import AddressType, DecodedAddress, encode_address
from verifier.cli.main import main
from verifier.inputs.keys import load_signing_key
from verifier.tools.demo_funding import EPOCH

pytestmark = pytest.mark.node

MINER = encode_address(DecodedAddress(AddressType.P2WPKH, b"\x42" * 20, 0), "regtest")
EPOCH_ROLES = {
    "bitcoin": ("cold", "hot", "own-buffer"),
    "ethereum": ("cold", "hot-contract", "own-buffer"),
}


@dataclass
class World:
    dir: Path
    bcoin: Any
    anvil: Any


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    work = tmp_path_factory.mktemp("attest-epochs")
    with demo_world(work, accounts=300, epochs=True) as (config, nodes):
        assert main(["keys", "create", "--config", str(config)]) == 0
        yield World(work, nodes.bcoin, nodes.anvil)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any, str]:
    code = main(list(args))
    out = capsys.readouterr()
    try:
        doc = json.loads(out.out)
    except json.JSONDecodeError:
        doc = None
    return code, doc, out.out + out.err


def public_key(world: World, capsys: pytest.CaptureFixture[str]) -> str:
    code, shown, text = run(
        capsys, "keys", "show", "--config", str(world.dir / "por.toml"), "--json"
    )
    assert code == 0, text
    return str(shown["public_key"])


def proofs(doc: dict[str, Any]) -> dict[tuple[str, str], tuple[dict[str, Any] | None, int]]:
    """(chain, label) -> (ownership, the chain's pinned height)."""
    return {
        (chain["chain"], wallet["label"]): (wallet["ownership"], chain["height"])
        for chain in doc["chains"]
        for wallet in chain["wallets"]
    }


def attest(world: World, capsys: pytest.CaptureFixture[str], name: str) -> Path:
    out_dir = world.dir / name
    code, _, text = run(
        capsys, "attest", "--config", str(world.dir / "por.toml"), "--out", str(out_dir), "--json"
    )
    assert code == 0, text
    return out_dir / "attestation.json"


def verify(
    world: World, capsys: pytest.CaptureFixture[str], path: Path, *extra: str
) -> tuple[int, dict[str, Any], str]:
    code, result, text = run(
        capsys, "verify", str(path), "--public-key", public_key(world, capsys), "--json", *extra
    )
    assert isinstance(result, dict), text
    return code, result, text


def test_epoch_attestations_verify_at_later_tips(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    auditor = str(world.dir / "auditor.toml")
    ages: list[int] = []
    for round_, mined in enumerate((0, 6)):
        if mined:
            world.bcoin.mine(mined, MINER)
            world.anvil.mine(mined)
        path = attest(world, capsys, f"attestation-{round_}")
        doc = json.loads(path.read_text())
        found = proofs(doc)
        limits = doc["settings"]["ownership_max_age"]
        assert limits == doc["report"]["settings"]["ownership_max_age"]
        assert isinstance(limits["days"], int) and limits["days"] >= 1
        for chain, roles in EPOCH_ROLES.items():
            for role in roles:
                proof, height = found[(chain, role)]
                assert proof is not None, (chain, role)
                assert proof["status"] == "proven", (chain, role, proof)
                epoch = proof["epoch"]
                assert epoch["id"] == EPOCH and isinstance(epoch["height"], int)
                assert proof["age"]["blocks"] == height - epoch["height"]
                assert isinstance(proof["age"]["seconds"], int)
                if chain == "bitcoin":
                    ages.append(proof["age"]["blocks"])
        old, _ = found[("bitcoin", "old-epoch")]
        assert old is not None and old["status"] == "stale" and old["epoch"]["expires"]
        wrong, _ = found[("bitcoin", "wrong-block")]
        assert wrong is not None and wrong["status"] == "unproven" and wrong["epoch"] is None
        assert found[("bitcoin", "custodian")][0] is None

        # the auditor on its own nodes: VALID, the proofs proven with the same ages
        code, result, _ = verify(world, capsys, path, "--config", auditor)
        assert code == 0, result["discrepancies"]
        assert result["valid"] and result["signer_pinned"]
        assert any("epoch proofs" in c for c in result["checks"]), result["checks"]
        # decided on the nodes: nothing about the epochs taken on trust
        assert result["epochs_rechecked_on_node"] is True
        assert not any("without an auditor node" in w for w in result["warnings"])
        recomputed = {(w["chain"], w["label"]): w["ownership"] for w in result["report"]["wallets"]}
        for chain, roles in EPOCH_ROLES.items():
            for role in roles:
                ours = recomputed[(chain, role)]
                assert ours["status"] == "proven", ours
                assert ours["age"] == found[(chain, role)][0]["age"]  # type: ignore[index]
        assert recomputed[("bitcoin", "old-epoch")]["status"] == "stale"
        assert "expired" in recomputed[("bitcoin", "old-epoch")]["reason"]

        # and from the document alone: valid, saying what only a node could have shown
        code, result, _ = verify(world, capsys, path)
        assert code == 0, result["discrepancies"]
        assert result["epochs_rechecked_on_node"] is False
        assert any(
            f"not re-checked without an auditor node: epoch {EPOCH}'s block hash" in w
            for w in result["warnings"]
        ), result["warnings"]
    # the same signatures, older at the later tip
    assert ages[3] == ages[0] + 6


def _resigned(world: World, doc: dict[str, Any], name: str) -> Path:
    key = load_signing_key(world.dir / "keys" / "attest.key")
    path = world.dir / f"{name}.json"
    body = {k: v for k, v in doc.items() if k != "signature"}
    path.write_text(json.dumps(sign_attestation(body, key)))
    return path


def _wallet(doc: dict[str, Any], chain: str, label: str) -> dict[str, Any]:
    entry = next(c for c in doc["chains"] if c["chain"] == chain)
    wallet: dict[str, Any] = next(w for w in entry["wallets"] if w["label"] == label)
    return wallet


def test_resigned_epoch_changes_are_caught_on_the_auditors_nodes(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    auditor = str(world.dir / "auditor.toml")
    original = json.loads(attest(world, capsys, "attestation-tamper").read_text())

    # an age in seconds the auditor's block times do not give
    doc = json.loads(json.dumps(original))
    proof = _wallet(doc, "bitcoin", "hot")["ownership"]
    proof["age"]["seconds"] += 1
    code, result, _ = verify(world, capsys, _resigned(world, doc, "seconds"), "--config", auditor)
    assert code == 3
    assert any("ownership.age.seconds is" in d for d in result["discrepancies"]), result

    # an epoch block the auditor's node does not have (named alike by every proof of the
    # epoch on the chain: one epoch names one block per chain, or the document is refused)
    doc = json.loads(json.dumps(original))
    for role in EPOCH_ROLES["ethereum"]:
        _wallet(doc, "ethereum", role)["ownership"]["epoch"]["hash"] = "ee" * 32
    code, result, _ = verify(world, capsys, _resigned(world, doc, "hash"), "--config", auditor)
    assert code == 3
    assert any(
        "on the auditor's node" in d and "is not on this chain" in d
        for d in result["discrepancies"]
    ), result["discrepancies"]

    # an expired epoch called proven (in the document and its report alike)
    doc = json.loads(json.dumps(original))
    _wallet(doc, "bitcoin", "old-epoch")["ownership"]["status"] = "proven"
    for row in doc["report"]["wallets"]:
        if row["label"] == "old-epoch":
            row["ownership"]["status"] = "proven"
    code, result, _ = verify(world, capsys, _resigned(world, doc, "expired"), "--config", auditor)
    assert code == 3
    assert any(
        "says proven, the auditor finds stale" in d and "expired" in d
        for d in result["discrepancies"]
    ), result["discrepancies"]

    # the same changes without the exchange's signature: the signature check
    doc = json.loads(json.dumps(original))
    _wallet(doc, "bitcoin", "cold")["ownership"]["age"]["blocks"] += 1
    path = world.dir / "unsigned-change.json"
    path.write_text(json.dumps(doc))
    code, _, text = run(capsys, "verify", str(path), "--public-key", public_key(world, capsys))
    assert code == 3 and "signature" in text and "Traceback" not in text
