"""`por challenge` on real local nodes (bcoin regtest, anvil): what it prints is what
`por snapshot` checks.

One module-scoped world: Bitcoin addresses of every single-key kind and a 2-of-3 P2WSH
multisig, an HD (xpub) wallet and a custodial address; an Ethereum EOA and an EIP-1271
contract wallet (chains/nodes/contracts/Wallet1271). The test asks `por challenge` for the
message, signs it the way the tools of docs/signing.md do (Core/Electrum compressed
headers, BIP-137 segwit headers, per-cosigner multisig signatures, EIP-191, the contract
owner's signature), writes the signatures into por.toml and runs `por snapshot`: every
signed address must come out proven. Epoch and point-in-time challenges both.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account.messages import encode_defunct

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from bcoin_fixtures import start_bcoin
from eth_fixtures import key, start_anvil

from chains.base import BlockRef, Chain
from chains.btc_bip137 import sign_bip137
from chains.challenge import challenge, epoch_challenge
from chains.nodes.bcoin import RegtestWallet
from chains.nodes.solc import load_artifact
from verifier.cli.challenge import BEGIN, END
from verifier.cli.main import main
from verifier.holdings.signing_howto import shell_quote

pytestmark = pytest.mark.node

EXCHANGE = "Example Exchange"
ATTESTATION = "chal-2026-11"
KINDS = ("p2pkh", "p2sh-p2wpkh", "p2wpkh", "p2wpkh", "p2wsh-2of3")
STYLE = ("core", "core", "core", "bip137", "multisig")
"""How each address is signed: Core/Electrum/Ledger compressed header (31-34) for every
single-key type, or the BIP-137 header of the address type (Trezor, Sparrow, Coldcard)."""


@dataclass
class World:
    dir: Path
    bcoin: Any
    anvil: Any
    wallet: RegtestWallet
    addresses: list[str]
    custodial: str
    eoa: Any
    contract: str
    contract_owner: Any
    head: str
    """The config without ownership proofs (exchange, nodes, wallets)."""


def _toml(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return json.dumps(value)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    bcoin = start_bcoin()
    anvil = start_anvil()
    try:
        wallet = RegtestWallet(bcoin)
        wallet.mine(440)
        addresses = [wallet.new_address(kind) for kind in KINDS]  # type: ignore[arg-type]
        custodial = wallet.new_address("p2wpkh")
        wallet.pay({a: 50_000 + i for i, a in enumerate([*addresses, custodial])})
        wallet.mine(1)
        eoa = key("challenge eoa")
        owner = key("challenge contract owner")
        contract = anvil.deploy(load_artifact("Wallet1271"), owner.address)
        anvil.set_balance(eoa.address, 3 * 10**18)
        anvil.mine(2)
        os.environ["POR_TEST_CHALLENGE_BCOIN_KEY"] = bcoin.api_key
        head = "\n".join(
            [
                "[exchange]",
                f'name = "{EXCHANGE}"',
                f'attestation_id = "{ATTESTATION}"',
                "",
                "[bitcoin]",
                'backend = "bcoin"',
                f'url = "{bcoin.url}"',
                'network = "regtest"',
                'password_env = "POR_TEST_CHALLENGE_BCOIN_KEY"',
                "timeout = 10",
                "",
                "[ethereum]",
                f'url = "{anvil.url}"',
                "chain_id = 31337",
                "timeout = 10",
                "",
            ]
        )
        yield World(
            tmp_path_factory.mktemp("challenge"),
            bcoin,
            anvil,
            wallet,
            addresses,
            custodial,
            eoa,
            contract,
            owner,
            head,
        )
    finally:
        bcoin.stop()
        anvil.stop()


def _config(world: World, proofs: dict[str, dict[str, Any]] | None, extra: str = "") -> Path:
    """por.toml with every wallet; `proofs`: address -> ownership table (None: none)."""
    proofs = proofs or {}
    text = world.head + extra + "\n"
    for i, address in enumerate(world.addresses):
        entry: dict[str, Any] = {"label": f"btc-{i}", "class": "cold", "address": address}
        if address in proofs:
            entry["ownership"] = proofs[address]
        text += "[[bitcoin.wallets]]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in entry.items())
    text += (
        f'[[bitcoin.wallets]]\nlabel = "custody"\nclass = "custodial"\n'
        f'address = "{world.custodial}"\n'
    )
    for label, address in (("eoa", world.eoa.address), ("safe", world.contract)):
        entry = {"label": label, "class": "hot", "address": address}
        if address in proofs:
            entry["ownership"] = proofs[address]
        text += "[[ethereum.wallets]]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in entry.items())
    path = world.dir / "por.toml"
    path.write_text(text)
    return path


def _run(capsys: pytest.CaptureFixture[str], *args: Any) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _sign(world: World, doc: dict[str, Any], epoch: str | None) -> dict[str, dict[str, Any]]:
    """Sign each chain's printed message the way the tools in docs/signing.md do."""
    btc, eth = doc["chains"]
    proofs: dict[str, dict[str, Any]] = {}
    for address, style in zip(world.addresses, STYLE, strict=True):
        if style == "multisig":
            proof = world.wallet.ownership_proof(address, btc["message"])
        else:
            owner = world.wallet._owners[address]  # the test wallet's own key
            kind = "p2pkh" if style == "core" else owner.kind
            proof = {
                "scheme": "bip137",
                "signature": sign_bip137(owner.keys[0].secret, btc["message"], kind),
            }
        proofs[address] = dict(proof)
    proofs[world.eoa.address] = {
        "scheme": "eip191",
        "signature": world.eoa.sign_message(encode_defunct(text=eth["message"])).signature.hex(),
    }
    proofs[world.contract] = {
        "scheme": "eip1271",
        "signature": world.contract_owner.sign_message(
            encode_defunct(text=eth["message"])
        ).signature.hex(),
    }
    if epoch is not None:
        for proof in proofs.values():
            proof["epoch"] = epoch
    return proofs


def _statuses(snapshot: dict[str, Any]) -> dict[str, str]:
    return {
        row["address"]: row["ownership"]["status"]
        for chain in snapshot["chains"]
        for row in chain["addresses"]
    }


def test_new_epoch_message_signed_by_each_tool_proves_at_a_later_tip(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(
        capsys,
        "challenge",
        "--config",
        _config(world, None),
        "--epoch",
        "2026-q4",
        "--expires",
        "2099-03-31T00:00:00Z",
        "--json",
    )
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["format"], doc["kind"], doc["epoch"]["id"]) == (
        "por-challenge-v1",
        "epoch",
        "2026-q4",
    )
    btc, eth = doc["chains"]
    # the message names the node's tip, byte for byte as chains.challenge builds it
    height = world.bcoin.height()
    tip = BlockRef(Chain.BITCOIN, "regtest", height, world.bcoin.block_hash(height))
    assert btc["message"] == epoch_challenge(EXCHANGE, "2026-q4", tip, "2099-03-31T00:00:00Z")
    assert bytes.fromhex(btc["message_hex"]).decode() == btc["message"]
    assert not btc["message"].endswith("\n")
    number = world.anvil.block_number()
    assert (eth["height"], eth["hash"]) == (
        number,
        world.anvil.block_hash(number).removeprefix("0x"),
    )
    schemes = {row["address"]: row["scheme"] for c in doc["chains"] for row in c["addresses"]}
    assert schemes[world.addresses[0]] == "bip137"
    # a P2WSH address without its witness script: BIP-322 is what can prove it as it stands
    assert schemes[world.addresses[4]] == "bip322-simple"
    assert schemes[world.custodial] is None
    assert schemes[world.eoa.address] == "eip191"
    assert schemes[world.contract] == "eip1271"  # found by its code at the block
    electrum = next(r for r in btc["addresses"] if r["address"] == world.addresses[2])["how"][0]
    assert electrum == f"electrum signmessage {world.addresses[2]} {shell_quote(btc['message'])}"
    assert doc["toml"].startswith('[[ownership.epochs]]\nid = "2026-q4"\n')

    proofs = _sign(world, doc, "2026-q4")
    config = _config(world, proofs, "\n" + doc["toml"])
    world.wallet.mine(3)
    world.anvil.mine(4)
    code, out, err = _run(capsys, "snapshot", "--config", config, "--json")
    assert code == 0, err
    statuses = _statuses(json.loads(out))
    assert statuses == {
        **dict.fromkeys(world.addresses, "proven"),
        world.custodial: "custodial",
        world.eoa.address: "proven",
        world.contract: "proven",
    }, out

    # the epoch is now defined: `por challenge --epoch` prints the same messages again,
    # after checking the configured blocks against the node
    code, out, err = _run(capsys, "challenge", "--config", config, "--epoch", "2026-q4", "--json")
    assert code == 0, err
    again = json.loads(out)
    assert [c["message"] for c in again["chains"]] == [btc["message"], eth["message"]]
    assert again["toml"] is None and again["epoch"]["defined"] is True
    # with its witness script in por.toml, the multisig address lists its three cosigners
    multisig = next(
        r for r in again["chains"][0]["addresses"] if r["address"] == world.addresses[4]
    )
    assert multisig["scheme"] == "p2wsh-multisig"
    assert len([h for h in multisig["how"] if h.startswith("cosigner ")]) == 3


def test_point_in_time_message_proves_at_the_printed_blocks(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    btc_height = world.bcoin.height() - 1
    eth_block = world.anvil.block_number() - 1
    code, out, err = _run(
        capsys,
        "challenge",
        "--config",
        _config(world, None),
        "--btc-height",
        btc_height,
        "--eth-block",
        eth_block,
        "--json",
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["kind"] == "point-in-time" and doc["epoch"] is None and doc["toml"] is None
    pinned = BlockRef(Chain.BITCOIN, "regtest", btc_height, world.bcoin.block_hash(btc_height))
    assert doc["chains"][0]["message"] == challenge(EXCHANGE, ATTESTATION, pinned)
    config = _config(world, _sign(world, doc, None))
    code, out, err = _run(
        capsys,
        "snapshot",
        "--config",
        config,
        "--btc-height",
        btc_height,
        "--eth-block",
        eth_block,
        "--json",
    )
    assert code == 0, err
    statuses = _statuses(json.loads(out))
    assert {statuses[a] for a in world.addresses} == {"proven"}
    assert statuses[world.eoa.address] == statuses[world.contract] == "proven"


def test_terminal_output_prints_the_message_verbatim_between_markers(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(world, None)
    code, out, err = _run(capsys, "challenge", "--config", config, "--epoch", "e-term")
    assert code == 0, err
    code, doc_out, _ = _run(capsys, "challenge", "--config", config, "--epoch", "e-term", "--json")
    doc = json.loads(doc_out)
    for chain in doc["chains"]:
        assert f"{BEGIN}\n{chain['message']}\n{END}\n" in out
    assert "no newline after it" in out or "trailing newline" in out
    assert "[[ownership.epochs]]" in out


def test_a_configured_epoch_whose_hash_is_not_on_the_node_is_refused(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = (
        f'\n[[ownership.epochs]]\nid = "forked"\nbitcoin = {{ height = 3, hash = "{"ab" * 32}" }}\n'
    )
    config = _config(world, None, extra)
    code, out, err = _run(capsys, "challenge", "--config", config, "--epoch", "forked", "--json")
    assert code == 3, err
    message = json.loads(out)["message"]
    assert "ownership.epochs[0].bitcoin.hash" in " ".join(err.split()) or "not on" in message
    assert world.bcoin.block_hash(3) in message


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("--btc-height", "99999999"), 4),  # above the node's tip
        (("--expires", "2099-03-31T00:00:00Z"), 2),  # an expiry without an epoch
        (("--epoch", "bad id"), 2),
        (("--epoch", "x", "--expires", "31/03/2099"), 2),
    ],
)
def test_bad_requests_exit_with_their_code(
    world: World, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], code: int
) -> None:
    rc, out, err = _run(capsys, "challenge", "--config", _config(world, None), *args, "--json")
    assert rc == code, err
    assert "Traceback" not in err
    json.loads(out)


# ----------------------------------------------------------------------------- docs/signing.md

DOCS = Path(__file__).resolve().parents[2] / "docs" / "signing.md"
BLOCK = re.compile(r'```(\w+) title="([^"]+)"\n(.*?)```', re.S)


def doc_blocks() -> dict[str, tuple[str, str]]:
    """Title -> (language, text) of every titled fenced block of docs/signing.md."""
    return {title: (lang, text) for lang, title, text in BLOCK.findall(DOCS.read_text())}


def _cast() -> str:
    """Foundry's cast: $POR_CAST, node_modules (npm @foundry-rs/cast-linux-amd64) or PATH."""
    root = Path(__file__).resolve().parents[2]
    for candidate in (
        os.environ.get("POR_CAST", ""),
        str(root / "node_modules" / "@foundry-rs" / "cast-linux-amd64" / "bin" / "cast"),
        shutil.which("cast") or "",
    ):
        if candidate and Path(candidate).is_file():
            return candidate
    if os.environ.get("CI"):
        pytest.fail("cast is required under CI (npm @foundry-rs/cast-linux-amd64)")
    pytest.skip("cast is not installed (npm @foundry-rs/cast-linux-amd64)")


def test_every_titled_doc_block_is_run_here() -> None:
    assert set(doc_blocks()) == {"challenge files", "cast", "web3.py"}


def test_doc_commands_sign_what_por_challenge_prints(world: World) -> None:
    """docs/signing.md's blocks, run as written: por challenge to files, then cast and the
    web3.py snippet sign the Ethereum message; both signatures prove the EOA."""
    from eth_account import Account

    from chains.eth_ownership import verify_eip191

    blocks = doc_blocks()
    work = world.dir / "docs-run"
    work.mkdir()
    shutil.copy(_config(world, None), work / "por.toml")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    subprocess.run(["bash", "-euo", "pipefail", "-c", blocks["challenge files"][1]],
                   cwd=work, env=env, check=True)  # fmt: skip
    doc = json.loads((work / "challenge.json").read_text())
    eth = next(c for c in doc["chains"] if c["chain"] == "ethereum")
    assert (work / "challenge-ethereum.txt").read_text() == eth["message"]  # no newline added
    btc = next(c for c in doc["chains"] if c["chain"] == "bitcoin")
    assert (work / "challenge-bitcoin.txt").read_bytes() == btc["message"].encode()

    secret = "0x" + "5e" * 32
    signer = Account.from_key(secret)
    (work / "eth.key").write_text(secret + "\n")
    (work / "eth.key").chmod(0o600)
    code = blocks["web3.py"][1]
    printed = subprocess.run(
        [sys.executable, "-c", code], cwd=work, check=True, capture_output=True, text=True
    ).stdout.strip()
    assert verify_eip191(signer.address, eth["message"], printed).status.value == "proven"

    (work / "keystore.pass").write_text("doc-test-pass")
    keystore = Account.encrypt(secret, "doc-test-pass", iterations=2)
    (work / "keystore.json").write_text(json.dumps(keystore))
    cast_env = {**env, "PATH": f"{Path(_cast()).parent}{os.pathsep}{env['PATH']}"}
    signature = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", blocks["cast"][1]],
        cwd=work, env=cast_env, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    assert verify_eip191(signer.address, eth["message"], signature).status.value == "proven"
    # cast, web3.py (and ethers) produce the same deterministic RFC 6979 signature
    assert signature.lower() == printed.lower()
