"""`por reconcile`, `por attest` and `por verify` end to end on real bcoin and anvil nodes.

The world is the demo's (verifier/tools/demo.py): exchange wallets of every kind, funded and
signed over the challenges of the pinned blocks, a jp-fsa-2026 reserve statement, prices.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from demo_world import demo_world

from attestations.document.sign import sign_attestation
from verifier.cli.main import main
from verifier.inputs.keys import load_signing_key

pytestmark = pytest.mark.node


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    work = tmp_path_factory.mktemp("reconcile")
    with demo_world(work, accounts=400):
        yield work


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_reconcile_json_and_html(world: Path, capsys: pytest.CaptureFixture[str]) -> None:
    html = world / "out" / "report.html"
    code, out, err = run(
        capsys, "reconcile", "--config", str(world / "por.toml"), "--json", "--html", str(html)
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["verdict"]["covered"] and report["verdict"]["reserve_met"]
    assert {a["code"] for a in report["assets"]} == {"BTC", "ETH", "USDT"}
    assert report["rule_pack"]["id"] == "jp-fsa-2026"
    assert {c["chain"] for c in report["chains"]} == {"bitcoin", "ethereum"}
    assert len(report["input_hashes"]) >= 4
    statuses = {w["label"]: w["ownership"]["status"] for w in report["wallets"]}
    assert statuses["stale-proof"] == "unproven" and statuses["custodian"] == "custodial"
    page = html.read_text()
    assert "<svg" in page and "http://" not in page and "https://" not in page


def test_attest_then_verify(world: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = world / "attestation"
    key = world / "keys" / "attest.key"
    if not key.exists():  # the demo's world may already hold one
        code, out, err = run(capsys, "keys", "create", "--config", str(world / "por.toml"))
        assert code == 0, err
    code, out, err = run(capsys, "keys", "show", "--config", str(world / "por.toml"), "--json")
    assert code == 0, err
    published = json.loads(out)["public_key"]
    code, out, err = run(
        capsys, "attest", "--config", str(world / "por.toml"), "--out", str(out_dir), "--json"
    )
    assert code == 0, err
    assert key.stat().st_mode & 0o777 == 0o600
    summary = json.loads(out)
    assert summary["public_key"] == published
    code, out, err = run(
        capsys,
        "verify",
        str(out_dir / "attestation.json"),
        "--config",
        str(world / "auditor.toml"),
        "--public-key",
        summary["public_key"],
        "--json",
    )
    result = json.loads(out)
    assert code == 0, result["discrepancies"]
    assert result["valid"] and any("re-read" in c for c in result["checks"])
    assert result["signer_pinned"] is True

    # the pinned key from the auditor config: the same verdict
    pinned = world / "auditor-pinned.toml"
    pinned.write_text(
        (world / "auditor.toml").read_text() + f'\n[attest]\npublic_key = "{published}"\n'
    )
    code, out, _ = run(capsys, "verify", str(out_dir / "attestation.json"), "--config", str(pinned))
    assert code == 0, out
    assert "VALID" in out and "NOT VERIFIED" not in out

    # the auditor config of another exchange or attestation id: a discrepancy naming both
    for field, value in (("name", "Other Exchange"), ("attestation_id", "other-2026")):
        text = pinned.read_text()
        line = next(x for x in text.splitlines() if x.startswith(f"{field} ="))
        other = world / f"auditor-other-{field}.toml"
        other.write_text(text.replace(line, f'{field} = "{value}"', 1))
        code, out, _ = run(
            capsys, "verify", str(out_dir / "attestation.json"), "--config", str(other), "--json"
        )
        result = json.loads(out)
        assert code == 3
        assert any(value in d and field in d for d in result["discrepancies"]), result

    # a changed balance breaks the signature
    doc = json.loads((out_dir / "attestation.json").read_text())
    original = json.loads((out_dir / "attestation.json").read_text())
    doc["chains"][0]["wallets"][0]["balances"]["BTC"] = "1"
    tampered = world / "tampered.json"
    tampered.write_text(json.dumps(doc))
    code, _, err = run(capsys, "verify", str(tampered), "--public-key", published)
    assert code == 3 and "signature" in err

    # re-signed by the exchange's own key: the signature holds, the auditor's node does not
    signing_key = load_signing_key(key)
    doc.pop("signature")
    resigned = world / "resigned.json"
    resigned.write_text(json.dumps(sign_attestation(doc, signing_key)))
    code, out, _ = run(
        capsys,
        "verify",
        str(resigned),
        "--config",
        str(world / "auditor.toml"),
        "--public-key",
        published,
        "--json",
    )
    result = json.loads(out)
    assert code == 3
    assert any("attested 1" in d for d in result["discrepancies"])

    # another signer than the pinned key
    code, _, _ = run(capsys, "verify", str(resigned), "--public-key", "00" * 32)
    assert code == 3

    # the untouched document re-signed by a key that is not the exchange's: the pinned key
    # catches it; trusting the embedded key passes it, but says the signer is not pinned
    original.pop("signature")
    forged = world / "forged.json"
    forged.write_text(json.dumps(sign_attestation(original, Ed25519PrivateKey.generate())))
    auditor = str(world / "auditor.toml")
    code, _, err = run(
        capsys, "verify", str(forged), "--config", auditor, "--public-key", published
    )
    assert code == 3 and published in " ".join(err.split())
    code, out, _ = run(capsys, "verify", str(forged), "--config", auditor, "--json")
    result = json.loads(out)
    assert code == 3 and result["signer_pinned"] is False and not result["valid"]
    assert any("no pinned public key" in d for d in result["discrepancies"])
    code, out, _ = run(
        capsys, "verify", str(forged), "--config", auditor, "--trust-embedded-key", "--json"
    )
    result = json.loads(out)
    assert code == 0, result["discrepancies"]
    assert result["valid"] is True and result["signer_pinned"] is False
    assert result["warnings"] and result["public_key"] != published


def test_reserve_shortfall_exits_1(world: Path, capsys: pytest.CaptureFixture[str]) -> None:
    statement = (world / "reserve.toml").read_text()
    poor = world / "reserve-poor.toml"
    poor.write_text(statement.replace('amount = "3500000000"', 'amount = "100"', 1))
    config = (world / "por.toml").read_text().replace('"reserve.toml"', '"reserve-poor.toml"')
    (world / "por-poor.toml").write_text(config)
    code, out, _ = run(capsys, "reconcile", "--config", str(world / "por-poor.toml"), "--json")
    assert code == 1
    report = json.loads(out)
    assert not report["verdict"]["reserve_met"]
    assert report["verdict"]["breaches"]


def test_missing_price_is_invalid_input(world: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prices = (world / "prices.toml").read_text()
    (world / "prices-partial.toml").write_text(
        "\n".join(line for line in prices.splitlines() if not line.startswith("USDT")) + "\n"
    )
    config = (world / "por.toml").read_text().replace('"prices.toml"', '"prices-partial.toml"')
    (world / "por-partial.toml").write_text(config)
    code, _, err = run(capsys, "reconcile", "--config", str(world / "por-partial.toml"))
    assert code == 3 and "USDT" in err


def test_liabilities_built_from_a_file_keep_their_commitment(
    world: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = (
        (world / "por.toml")
        .read_text()
        .replace(
            'root = "tree/root.json"',
            'file = "liabilities.csv"\nassets = "assets.toml"\ntree = "built/tree"',
        )
    )
    (world / "por-build.toml").write_text(config)
    commitments = []
    for _ in range(2):
        code, out, err = run(
            capsys, "reconcile", "--config", str(world / "por-build.toml"), "--json"
        )
        assert code == 0, err
        commitments.append(json.loads(out)["attestation"]["commitment"])
    assert commitments[0] == commitments[1]  # the secret beside the tree is kept
    assert (world / "built" / "tree.secret.key").stat().st_mode & 0o777 == 0o600
