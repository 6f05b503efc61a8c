"""`por demo` / `make demo`: the whole job on this machine, on the embedded default.

1. Liabilities: 100,000 sample customers × BTC, ETH, USDT → the Merkle sum tree; one
   customer's proof verified as that customer would.
2. Local nodes: bcoin (regtest) and anvil, started on free loopback ports.
3. Exchange wallets, funded: Bitcoin cold (2-of-3 P2WSH), hot (P2WPKH), an own buffer, one
   custodial and one whose proof signs another block's challenge; Ethereum a cold EOA, a hot
   EIP-1271 contract wallet and an own buffer; a USDT test token.
4. Ownership proofs signed over the challenge of the pinned blocks.
5. A reserve statement under `jp-fsa-2026`, prices in JPY, `por.toml` written as a user would.
6. Reconcile, attest (Ed25519), verify the attestation as an auditor on the nodes, print the
   summary and write the HTML report. Every process is stopped at the end.
7. Publish the static site where customers verify their proof in the browser.

Everything lives in one work directory that is replaced on every run (it carries a marker so
that no other directory is ever removed).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.markup import escape

from attestations.audit import audit_tree
from attestations.build import build_tree, write_private
from attestations.proofs import format_units, parse_proof, parse_root_document, verify_proof
from attestations.store import TreeStore
from chains.base import BlockRef, Chain
from chains.challenge import challenge
from verifier.console import err, out, print_json, progress_bar
from verifier.errors import EXIT_OK, InputError
from verifier.inputs import read_assets, read_liabilities
from verifier.sample import assets_toml, sample_assets, write_sample

MARKER = ".por-demo"
DEMO_ACCOUNT = "acct-00000042"
EXCHANGE = "Demo Exchange KK"
ATTESTATION = "demo-2026-11"
PRICES = {"BTC": "15000000", "ETH": "550000", "USDT": "150"}


def _fresh_dir(path: Path) -> None:
    if path.exists():
        if not (path / MARKER).exists() and any(path.iterdir()):
            raise InputError(
                "refusing to replace a directory that the demo did not create", file=str(path)
            )
        shutil.rmtree(path)
    path.mkdir(parents=True)
    (path / MARKER).write_text("work directory of `por demo`; replaced on every run\n")


def _require_nodes() -> None:
    """Exit 4 before any work when anvil, bcoin or Node.js is missing, saying how to get them.

    An installed wheel carries no node_modules: `chains.nodes.base` looks in POR_NODE_MODULES,
    the source checkout, then ./node_modules, and its message says how to install them.
    """
    from chains.nodes.base import NodeMissing, node_program

    try:
        if shutil.which("node") is None:
            raise NodeMissing("node (Node.js >= 14) is not on PATH; bcoin needs it")
        node_program(".bin/anvil")  # npm @foundry-rs/anvil-linux-amd64
        node_program("bcoin/package.json")
    except NodeMissing as exc:
        raise NodeMissing(f"por demo needs local nodes (anvil, bcoin): {exc.message}") from None


def _since(started: float) -> str:  # float-ok: seconds
    return f"{time.perf_counter() - started:.2f}"


def _toml(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value))


def _wallets(section: str, wallets: list[dict[str, Any]]) -> str:
    return "".join(
        f"[[{section}.wallets]]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in w.items()) + "\n"
        for w in wallets
    )


RESERVE = """# Demo reserve statement (schema: docs/reserve.md), evaluated under jp-fsa-2026.
currency = "JPY"
exchange = "Demo Exchange KK"
as_of = {today}

[[cash]]
name = "liability reserve trust"
amount = "3500000000"
holder = "Demo Trust Bank"
on_trust = true

[[insurance]]
name = "crypto crime policy"
insurer = "Demo Non-Life Insurance"
authorised = true
limit = "4000000000"
limit_type = "aggregate"
deductible = "400000000"
scope = "0.8"
start = {start}
end = {end}
notice_days = 90

[[volume]]
category = "spot"
year = 2023
amount = "3000000000000"

[[volume]]
category = "spot"
year = 2024
amount = "4000000000000"

[[volume]]
category = "spot"
year = 2025
amount = "5000000000000"

[[incident]]
date = 2025-05-31
loss = "1000000000"
recovered = "400000000"
description = "hot wallet leak"

[entity]
jurisdiction = "JP"

[entity.operational_risk]
m_ops = "1.2"
"""


@dataclass
class Nodes:
    bcoin: Any
    anvil: Any


def _fund_and_configure(work: Path, nodes: Nodes, totals: dict[str, int]) -> Path:
    """Wallets, funding, pinned blocks, signatures, prices, statement and por.toml."""
    from datetime import date, timedelta

    from eth_account import Account
    from eth_account.messages import encode_defunct
    from eth_utils.crypto import keccak

    from chains.nodes.bcoin import RegtestWallet
    from chains.nodes.solc import load_artifact

    bcoin, anvil = nodes.bcoin, nodes.anvil
    keys = work / "keys"
    keys.mkdir(mode=0o700)

    # ---------------------------------------------------------------- bitcoin
    wallet = RegtestWallet(bcoin)
    wallet.mine(500)  # past segwit activation; 400 mature coinbases
    btc = totals["BTC"]
    plan = {
        "cold": (wallet.new_address("p2wsh-2of3"), btc * 95 // 100, "cold", "customer"),
        "hot": (wallet.new_address("p2wpkh"), btc * 6 // 100, "hot", "customer"),
        "own-buffer": (wallet.new_address("p2wpkh"), btc * 6 // 100, "cold", "own"),
        "custodian": (wallet.new_address("p2wpkh"), btc * 2 // 100, "custodial", "customer"),
        "stale-proof": (wallet.new_address("p2wpkh"), btc // 100, "hot", "customer"),
    }
    wallet.pay({address: units for address, units, _, _ in plan.values()}, fee=200_000)
    wallet.mine(1)
    btc_height = bcoin.height()
    btc_block = BlockRef(Chain.BITCOIN, "regtest", btc_height, bcoin.block_hash(btc_height))
    text = challenge(EXCHANGE, ATTESTATION, btc_block)
    earlier = BlockRef(Chain.BITCOIN, "regtest", btc_height - 1, bcoin.block_hash(btc_height - 1))
    btc_wallets = []
    for label, (address, _, cls, attribution) in plan.items():
        entry: dict[str, Any] = {
            "label": label,
            "class": cls,
            "attribution": attribution,
            "address": address,
        }
        if cls != "custodial":
            signed = challenge(EXCHANGE, ATTESTATION, earlier) if label == "stale-proof" else text
            entry["ownership"] = wallet.ownership_proof(address, signed)
        btc_wallets.append(entry)
    write_private(keys / "bcoin.pass", bcoin.api_key.encode())

    # ---------------------------------------------------------------- ethereum
    token = load_artifact("TestToken")
    wallet_artifact = load_artifact("Wallet1271")
    usdt = anvil.deploy(token, "Tether USD (demo)", "USDT", 6)
    cold = Account.from_key(keccak(text="por demo cold"))
    buffer = Account.from_key(keccak(text="por demo buffer"))
    owner = Account.from_key(keccak(text="por demo contract owner"))
    contract = anvil.deploy(wallet_artifact, owner.address)
    eth, tether = totals["ETH"], totals["USDT"]
    anvil.set_balance(cold.address, eth * 97 // 100)
    anvil.set_balance(buffer.address, eth * 4 // 100)
    anvil.set_balance(contract, eth * 4 // 100)
    anvil.transact(
        usdt,
        token,
        "mint",
        [cold.address, contract, buffer.address],
        [tether * 99 // 100, tether * 2 // 100, tether * 2 // 100],
    )
    eth_number = anvil.mine(2)
    eth_block = BlockRef(
        Chain.ETHEREUM,
        str(anvil.chain_id),
        eth_number,
        anvil.block_hash(eth_number).removeprefix("0x"),
    )
    eth_text = challenge(EXCHANGE, ATTESTATION, eth_block)

    def sig(account: Any) -> str:
        value = account.sign_message(encode_defunct(text=eth_text)).signature.hex()
        return "0x" + str(value).removeprefix("0x")

    eth_wallets = [
        {
            "label": "cold",
            "class": "cold",
            "address": cold.address,
            "ownership": {"scheme": "eip191", "signature": sig(cold)},
        },
        {
            "label": "hot-contract",
            "class": "hot",
            "address": contract,
            "ownership": {"scheme": "eip1271", "signature": sig(owner)},
        },
        {
            "label": "own-buffer",
            "class": "cold",
            "attribution": "own",
            "address": buffer.address,
            "ownership": {"scheme": "eip191", "signature": sig(buffer)},
        },
    ]

    # ---------------------------------------------------------------- off-chain inputs
    today = date.today()
    (work / "prices.toml").write_text(
        'currency = "JPY"\nsource = "demo reference rate"\n'
        f"time = {today.isoformat()}T00:00:00Z\n\n[prices]\n"
        + "".join(f'{code} = "{value}"\n' for code, value in PRICES.items())
    )
    (work / "reserve.toml").write_text(
        RESERVE.format(
            today=today.isoformat(),
            start=(today - timedelta(days=120)).isoformat(),
            end=(today + timedelta(days=245)).isoformat(),
        )
    )
    node_sections = (
        f'[bitcoin]\nbackend = "bcoin"\nurl = "{bcoin.url}"\nnetwork = "regtest"\n'
        'password_file = "keys/bcoin.pass"\ntimeout = 20\n\n'
    )
    eth_section = (
        f'[ethereum]\nurl = "{anvil.url}"\nchain_id = {anvil.chain_id}\ntimeout = 20\n\n'
        f'[[ethereum.tokens]]\ncode = "USDT"\ncontract = "{usdt}"\ndecimals = 6\n\n'
    )
    config = work / "por.toml"
    config.write_text(
        f'[exchange]\nname = "{EXCHANGE}"\nattestation_id = "{ATTESTATION}"\n\n'
        + node_sections
        + _wallets("bitcoin", btc_wallets)
        + eth_section
        + _wallets("ethereum", eth_wallets)
        + '[liabilities]\nroot = "tree/root.json"\n\n[prices]\nfile = "prices.toml"\n\n'
        '[reserve]\nstatement = "reserve.toml"\npack = "jp-fsa-2026"\n\n'
        '[attest]\nkey_file = "keys/attest.key"\n'
    )
    (work / "auditor.toml").write_text(
        f'[exchange]\nname = "{EXCHANGE}"\nattestation_id = "{ATTESTATION}"\n\n'
        + node_sections
        + eth_section
    )
    return config


def run_demo(*, accounts: int, out_dir: Path, as_json: bool) -> int:
    """Run the demo; returns the exit code (0 when every step ran and verified)."""
    from chains.nodes.anvil import Anvil
    from chains.nodes.bcoin import Bcoin
    from verifier.attest import attest, verify
    from verifier.config import load_config
    from verifier.html_report import render_html, write_html
    from verifier.pipeline import load_inputs, reconcile_now
    from verifier.plans import build_plans
    from verifier.report import render_terminal

    say = err.print if as_json else out.print
    started_all = time.perf_counter()
    _fresh_dir(out_dir)  # a foreign --out is refused (exit 3) whether or not nodes exist
    _require_nodes()  # before the long first step
    work = out_dir

    say(f"[bold]1. Liabilities[/bold]: {accounts:,} sample customers × BTC, ETH, USDT")
    started = time.perf_counter()
    assets = sample_assets(3)
    input_file = work / "liabilities.csv"
    write_sample(input_file, accounts, assets)
    (work / "assets.toml").write_text(assets_toml(assets))
    with progress_bar(not as_json) as progress:
        data = read_liabilities(input_file, read_assets(work / "assets.toml"), progress=progress)
        result = build_tree(
            data,
            work / "tree",
            attestation_id=ATTESTATION,
            as_of=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            progress=progress,
        )
    root = result.root
    totals = dict(zip((a.code for a in root.assets), root.root.sums, strict=True))
    say(
        f"   tree of {result.leaves:,} leaves in {_since(started)} s; commitment "
        f"[bold]{root.commitment.hex()}[/bold]"
    )
    for asset, units in zip(root.assets, root.root.sums, strict=True):
        say(f"   owed {asset.code:5} {format_units(units, asset.decimals)}")
    account = DEMO_ACCOUNT if accounts > 42 else "acct-00000000"
    with TreeStore(work / "tree") as store:
        proof = store.proof(account)
    proof_file = work / f"proof-{account}.json"
    write_private(proof_file, (json.dumps(proof.to_json(), indent=2) + "\n").encode())
    published = parse_root_document(json.loads((work / "tree/root.json").read_text()))
    verified = verify_proof(parse_proof(proof.to_json()), published_root=published)
    say(
        f"   customer {account}: proof verified — "
        + ", ".join(f"{c} {v}" for c, v in verified.balances_whole().items())
    )
    audit = audit_tree(work / "tree")
    say(f"   full audit: every leaf and node recomputed ({audit.leaves:,} leaves)")

    say("[bold]2. Local nodes[/bold]: bcoin (regtest) and anvil on loopback")
    with Bcoin() as bcoin, Anvil() as anvil:
        say(f"   bcoin {bcoin.url}, anvil {anvil.url}")
        say("[bold]3. Exchange wallets[/bold]: fund, pin the blocks, sign ownership proofs")
        started = time.perf_counter()
        config_path = _fund_and_configure(work, Nodes(bcoin, anvil), totals)
        say(f"   done in {_since(started)} s; config {config_path}")

        say("[bold]4. Reconcile[/bold] under jp-fsa-2026 (snapshot, reserve, coverage)")
        config = load_config(config_path)
        inputs = load_inputs(config)
        plans = build_plans(config)
        with progress_bar(not as_json) as progress:
            outcome = reconcile_now(config, plans, progress)
        attestation_dir = work / "attestation"
        say("[bold]5. Attest[/bold] (Ed25519) and write the report")
        assert config.reconcile.key_file is not None
        doc = attest(config, inputs, outcome, attestation_dir, config.reconcile.key_file)
        (attestation_dir / "report.json").write_text(json.dumps(outcome.report, indent=2) + "\n")
        html = attestation_dir / "report.html"
        write_html(html, render_html(outcome.report))
        say(f"   {attestation_dir / 'attestation.json'} signed by {doc['signature']['public_key']}")

        say("[bold]6. Verify as an auditor[/bold] on the nodes")
        verification = verify(
            attestation_dir / "attestation.json", auditor=load_config(work / "auditor.toml")
        )
        for check in verification.checks:
            say(f"   [green]✓[/green] {escape(check)}")
        for problem in verification.discrepancies:
            say(f"   [red]✗[/red] {escape(problem)}")
    say("   nodes stopped")
    from verifier.site import build_site

    site = build_site(attestation_dir, work / "site")
    say(
        f"[bold]7. Publish[/bold]: static site in {work / 'site'} ({len(site.files)} files) — "
        f"customers check their proof in the browser; preview with `por serve {work / 'site'}`"
    )
    if as_json:
        print_json(outcome.report)
    else:
        render_terminal(outcome.report, out)
    say(f"HTML report: {html}   (whole demo: {_since(started_all)} s)")
    return EXIT_OK if not verification.discrepancies else verification.exit_code
