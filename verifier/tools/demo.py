"""`por demo` / `make demo`: the whole job on this machine, on the embedded default.

1. Liabilities: 100,000 sample customers × BTC, ETH, USDT → the Merkle sum tree; one
   customer's proof verified as that customer would.
2. Local nodes: bcoin (regtest) and anvil, started on free loopback ports.
3. Exchange wallets, funded: Bitcoin cold (2-of-3 P2WSH), hot (P2WPKH), an own buffer, one
   custodial and one whose proof signs another block's challenge; Ethereum a cold EOA, a hot
   EIP-1271 contract wallet and an own buffer; a USDT test token.
4. Ownership proofs signed once for an ownership *epoch* (chains/challenge.py
   `epoch_challenge`, `[[ownership.epochs]]` in por.toml) so that later runs reuse them; an
   expired older epoch shows a stale proof, and one proof signs another block (unproven).
5. A reserve statement under `jp-fsa-2026`, prices in JPY, `por.toml` written as a user would.
6. Reconcile (stored in `por.db` as `por reconcile` stores runs), attest (Ed25519, with a key
   made as `por keys create` makes it), verify the attestation as an auditor on the nodes,
   print the summary and write the HTML report.
7. Publish the static site where customers verify their proof in the browser.
8. With `--scheduled N`: the scheduled job. Blocks are mined on both nodes between runs and
   each run reconciles at the new tips with the same signatures through `run_once` (the code
   of `por reconcile`), stored in the history database; a summary line per run, then the
   history table. Every process is stopped at the end.

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
from rich.text import Text

from attestations.audit import audit_tree
from attestations.build import build_tree, write_private
from attestations.proofs import format_units, parse_proof, parse_root_document, verify_proof
from attestations.store import TreeStore
from chains.base import BlockRef, Chain
from chains.challenge import challenge, epoch_challenge
from verifier.base.console import (
    err,
    out,
    plural,
    print_json,
    print_json_line,
    print_wrapped,
    progress_bar,
)
from verifier.base.errors import EXIT_OK, InputError, UsageError
from verifier.inputs.assets import read_assets
from verifier.inputs.liabilities import read_liabilities
from verifier.tools.sample import assets_toml, sample_assets, write_sample

MARKER = ".por-demo"
DEMO_ACCOUNT = "acct-00000042"
EXCHANGE = "Demo Exchange KK"
ATTESTATION = "demo-2026-11"
PRICES = {"BTC": "15000000", "ETH": "550000", "USDT": "150"}
EPOCH = "demo-epoch-1"
"""The signing round the ongoing wallets' proofs belong to: every run reuses them."""
OLD_EPOCH = "demo-epoch-0"
"""A previous round, expired: the one wallet still on it shows a stale proof."""
MAX_AGE_DAYS = 92
MAX_AGE_BLOCKS = {"bitcoin": 13248, "ethereum": 662400}
"""A quarter of blocks on each chain (10 min and 12 s blocks), as an exchange would set it."""
MAX_SCHEDULED = 1000
BLOCKS_BETWEEN_RUNS = {"bitcoin": 6, "ethereum": 3}
"""Mined before each scheduled run. Few on anvil: its cache grows with every block."""


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


def _expiry(days: int) -> str:
    """Midnight UTC `days` from today (negative: in the past), as the epoch signs it."""
    from datetime import UTC, datetime, timedelta

    day = datetime.now(UTC).date() + timedelta(days=days)
    return f"{day.isoformat()}T00:00:00Z"


def _epoch_block(block: BlockRef) -> dict[str, int | str]:
    return {"height": block.height, "hash": block.hash}


def _ownership_section(epochs: list[dict[str, Any]]) -> str:
    """[ownership] with its epochs, written as a user would (docs/snapshot.md)."""
    text = (
        "# Ownership epochs: each proof below signs its epoch's challenge once; later runs\n"
        "# reuse it while it is younger than these limits and its epoch has not expired.\n"
        f"[ownership]\nmax_age_days = {MAX_AGE_DAYS}\n"
        f"max_age_blocks = {_toml(MAX_AGE_BLOCKS)}\n\n"
    )
    for epoch in epochs:
        text += "[[ownership.epochs]]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in epoch.items())
        text += "\n"
    return text


def _fund_and_configure(
    work: Path, nodes: Nodes, totals: dict[str, int], *, epochs: bool = False
) -> Path:
    """Wallets, funding, pinned blocks, signatures, prices, statement and por.toml.

    `epochs=False` (the tests' world): every proof signs the point-in-time challenge of the
    blocks pinned now, so only a reconciliation at these blocks proves them. `epochs=True`
    (the demo): the ongoing wallets sign the challenge of the ownership epoch EPOCH, whose
    blocks are the tips at signing time, and reconciliations at later tips reuse them; one
    more wallet, "old-epoch", is still on OLD_EPOCH, which has expired (a stale proof).
    """
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
        # a proof over another block's challenge: unproven (named "stale-proof" in the
        # tests' world, "wrong-block" in the demo's, where "stale" is an epoch status)
        "wrong-block" if epochs else "stale-proof": (
            wallet.new_address("p2wpkh"),
            btc // 100,
            "hot",
            "customer",
        ),
    }
    if epochs:
        plan["old-epoch"] = (wallet.new_address("p2wpkh"), btc // 200, "hot", "customer")
    wallet.pay({address: units for address, units, _, _ in plan.values()}, fee=200_000)
    wallet.mine(1)
    btc_height = bcoin.height()
    btc_block = BlockRef(Chain.BITCOIN, "regtest", btc_height, bcoin.block_hash(btc_height))
    earlier = BlockRef(Chain.BITCOIN, "regtest", btc_height - 1, bcoin.block_hash(btc_height - 1))
    # the previous signing round: an early block, expired yesterday
    old_block = BlockRef(Chain.BITCOIN, "regtest", 1, bcoin.block_hash(1))
    expires, old_expires = _expiry(120), _expiry(-1)
    if epochs:
        text = epoch_challenge(EXCHANGE, EPOCH, btc_block, expires)
    else:
        text = challenge(EXCHANGE, ATTESTATION, btc_block)
    btc_wallets = []
    for label, (address, _, cls, attribution) in plan.items():
        entry: dict[str, Any] = {
            "label": label,
            "class": cls,
            "attribution": attribution,
            "address": address,
        }
        if cls == "custodial":
            btc_wallets.append(entry)
            continue
        if label in {"stale-proof", "wrong-block"}:  # deliberately over another block
            entry["ownership"] = wallet.ownership_proof(
                address, challenge(EXCHANGE, ATTESTATION, earlier)
            )
        elif label == "old-epoch":
            old_text = epoch_challenge(EXCHANGE, OLD_EPOCH, old_block, old_expires)
            entry["ownership"] = {**wallet.ownership_proof(address, old_text), "epoch": OLD_EPOCH}
        else:
            entry["ownership"] = wallet.ownership_proof(address, text)
            if epochs:
                entry["ownership"]["epoch"] = EPOCH
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
    if epochs:
        eth_text = epoch_challenge(EXCHANGE, EPOCH, eth_block, expires)
    else:
        eth_text = challenge(EXCHANGE, ATTESTATION, eth_block)

    def proof(scheme: str, account: Any) -> dict[str, str]:
        value = account.sign_message(encode_defunct(text=eth_text)).signature.hex()
        signed = {"scheme": scheme, "signature": "0x" + str(value).removeprefix("0x")}
        return {**signed, "epoch": EPOCH} if epochs else signed

    eth_wallets = [
        {
            "label": "cold",
            "class": "cold",
            "address": cold.address,
            "ownership": proof("eip191", cold),
        },
        {
            "label": "hot-contract",
            "class": "hot",
            "address": contract,
            "ownership": proof("eip1271", owner),
        },
        {
            "label": "own-buffer",
            "class": "cold",
            "attribution": "own",
            "address": buffer.address,
            "ownership": proof("eip191", buffer),
        },
    ]
    ownership = ""
    if epochs:
        ownership = _ownership_section(
            [
                {
                    "id": EPOCH,
                    "expires": expires,
                    "bitcoin": _epoch_block(btc_block),
                    "ethereum": _epoch_block(eth_block),
                },
                {"id": OLD_EPOCH, "expires": old_expires, "bitcoin": _epoch_block(old_block)},
            ]
        )

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
        + ownership
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


def _ages(report: dict[str, Any]) -> str:
    """The proven epoch proofs' ages, e.g. "proof age (epoch e1): bitcoin 6, ethereum 3 blocks"."""
    ages: dict[str, dict[str, int]] = {}
    for wallet in report.get("wallets", []):
        own = wallet.get("ownership") or {}
        epoch, age = own.get("epoch"), own.get("age")
        if own.get("status") == "proven" and isinstance(epoch, dict) and isinstance(age, dict):
            ages.setdefault(str(epoch.get("id")), {})[str(wallet["chain"])] = int(age["blocks"])
    return "; ".join(
        f"proof age (epoch {name}): "
        + ", ".join(f"{chain} {blocks}" for chain, blocks in sorted(by.items()))
        + " blocks"
        for name, by in sorted(ages.items())
    )


def run_line(number: int, total: int, result: Any, seconds: str) -> str:
    """One scheduled run, one line (rich markup): heights, coverage, proofs, verdict."""
    from verifier.report.figures import pct as percent

    run = f"run {result.run.id}" if result.run is not None else "run (not stored)"
    head = f"{number}/{total} {run}"
    report = result.report
    if result.error is not None or report is None:
        message = result.error.message if result.error is not None else "no report"
        return f"{head}: [red]failed (exit {result.exit_code})[/red] {escape(message)}"
    heights = ", ".join(f"{c['chain']} {c['height']}" for c in report["chains"])
    coverage = " ".join(f"{a['code']} {percent(a['coverage_ratio'])}" for a in report["assets"])
    statuses: dict[str, int] = {}
    for wallet in report.get("wallets", []):
        status = str((wallet.get("ownership") or {}).get("status"))
        statuses[status] = statuses.get(status, 0) + 1
    proofs = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
    ages = _ages(report)
    verdict = (
        "[green]covered[/green]"
        if result.exit_code == EXIT_OK
        else f"[red]not covered (exit {result.exit_code})[/red]"
    )
    return (
        f"{head} at {heights}: {coverage}; proofs {proofs}"
        + (f"; {escape(ages)}" if ages else "")
        + f" — {verdict} in {seconds} s"
    )


def run_scheduled(nodes: Nodes, options: Any, count: int, *, as_json: bool) -> list[int]:
    """The scheduled job, `count` times: mine blocks on both nodes, then one stored run at
    the new tips (`run_once`, as `por reconcile` runs it) with the same config and
    signatures. Returns the exit codes; with `as_json`, one `por-run-v1` line per run (the
    run summary of `por reconcile --every --json`)."""
    from chains.nodes.bcoin import RegtestWallet
    from verifier.history.schedule import run_once, run_summary

    # the same deterministic seed as the demo's wallet: blocks pay its miner address
    miner = RegtestWallet(nodes.bcoin).miner
    codes = []
    for number in range(1, count + 1):
        started = time.perf_counter()
        nodes.bcoin.mine(BLOCKS_BETWEEN_RUNS["bitcoin"], miner)
        nodes.anvil.mine(BLOCKS_BETWEEN_RUNS["ethereum"])
        result = run_once(options)
        if as_json:
            print_json_line(run_summary(result))
        # wrapped at spaces to the console's width: no figure or hash is ever split
        line = Text.from_markup(run_line(number, count, result, _since(started)))
        print_wrapped(err if as_json else out, line, indent="   ", subsequent="       ")
        codes.append(result.exit_code)
    return codes


def run_demo(*, accounts: int, out_dir: Path, as_json: bool, scheduled: int = 0) -> int:
    """Run the demo; returns the exit code (0 when every step ran and verified, and every
    scheduled run was covered).

    With `as_json`: without `scheduled`, the report document (pretty-printed); with it,
    NDJSON: the report as one compact line, then one `por-run-v1` line per scheduled run.
    """
    from chains.nodes.anvil import Anvil
    from chains.nodes.bcoin import Bcoin
    from verifier.history.schedule import RunOptions, open_store, run_once
    from verifier.history.view import read_runs, render_table
    from verifier.holdings.plans import build_plans
    from verifier.inputs.config import load_config
    from verifier.inputs.config_values import PorConfig
    from verifier.inputs.keys import create_signing_key
    from verifier.jobs.attest import attest
    from verifier.jobs.pipeline import Outcome, load_inputs, reconcile_now
    from verifier.jobs.verify import verify
    from verifier.report.html import render_html, write_html
    from verifier.report.terminal import render_terminal
    from verifier.site.publish import build_site

    if not 0 <= scheduled <= MAX_SCHEDULED:
        raise UsageError(f"--scheduled: 0 to {MAX_SCHEDULED} runs, not {scheduled}")
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
    leaves = plural(result.leaves, "leaf", "leaves", thousands=True)
    say(
        f"   tree of {leaves} in {_since(started)} s; commitment "
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
    audited = plural(audit.leaves, "leaf", "leaves", thousands=True)
    say(f"   full audit: every leaf and node recomputed ({audited})")

    say("[bold]2. Local nodes[/bold]: bcoin (regtest) and anvil on loopback")
    with Bcoin() as bcoin, Anvil() as anvil:
        nodes = Nodes(bcoin, anvil)
        say(f"   bcoin {bcoin.url}, anvil {anvil.url}")
        say(
            "[bold]3. Exchange wallets[/bold]: fund, pin the blocks, sign ownership proofs "
            f"once for epoch {EPOCH}"
        )
        started = time.perf_counter()
        config_path = _fund_and_configure(work, nodes, totals, epochs=True)
        say(f"   done in {_since(started)} s; config {config_path}")

        say(
            "[bold]4. Reconcile[/bold] under jp-fsa-2026 (snapshot, reserve, coverage), "
            f"stored in {work / 'por.db'}"
        )
        # the run goes through `por reconcile`'s code (stored, alerts computed); the demo
        # keeps the outcome to attest it. env={}: the caller's POR_WEBHOOK_URL or
        # POR_DATABASE_URL must not receive the demo's runs
        options = RunOptions(
            config_file=config_path,
            db=str((work / "por.db").resolve()),  # a relative --db is beside the config
            report_dir=(work / "runs").resolve(),
            quiet=True,
            env={},
        )
        kept: list[tuple[PorConfig, Outcome]] = []

        def main_run(config: PorConfig) -> Outcome:
            with progress_bar(not as_json) as progress:
                outcome = reconcile_now(config, build_plans(config), progress)
            kept.append((config, outcome))
            return outcome

        first = run_once(options, main_run)
        if first.error is not None:
            raise first.error
        ((config, outcome),) = kept
        inputs = load_inputs(config)
        if as_json and scheduled:  # NDJSON: every stdout line is one JSON document
            print_json_line(outcome.report)

        attestation_dir = work / "attestation"
        say("[bold]5. Attest[/bold] (Ed25519) and write the report")
        assert config.reconcile.key_file is not None
        # as `por keys create` makes it: `por attest` never creates a key by itself
        public_key = create_signing_key(config.reconcile.key_file)
        with (work / "auditor.toml").open("a") as auditor_file:
            auditor_file.write(f'[attest]\npublic_key = "{public_key}"\n')
        doc = attest(config, inputs, outcome, attestation_dir, config.reconcile.key_file)
        (attestation_dir / "report.json").write_text(json.dumps(outcome.report, indent=2) + "\n")
        html = attestation_dir / "report.html"
        write_html(html, render_html(outcome.report))
        say(f"   {attestation_dir / 'attestation.json'} signed by {doc['signature']['public_key']}")

        say("[bold]6. Verify as an auditor[/bold] on the nodes, with the published key")
        verification = verify(
            attestation_dir / "attestation.json",
            auditor=load_config(work / "auditor.toml"),
            expected_public_key=public_key,
        )
        for check in verification.checks:
            say(f"   [green]✓[/green] {escape(check)}")
        for problem in verification.discrepancies:
            say(f"   [red]✗[/red] {escape(problem)}")

        site = build_site(attestation_dir, work / "site")
        say(
            f"[bold]7. Publish[/bold]: static site in {work / 'site'} "
            f"({plural(len(site.files), 'file')}) "
            "— customers check their proof in the browser; preview with "
            f"`por serve {work / 'site'}`"
        )
        if as_json and not scheduled:
            print_json(outcome.report)
        elif not as_json:
            render_terminal(outcome.report, out)

        codes: list[int] = []
        if scheduled:
            say(f"[bold]8. The scheduled job[/bold]: {plural(scheduled, 'run')} at later tips")
            say(
                f"   before each, {BLOCKS_BETWEEN_RUNS['bitcoin']} Bitcoin and "
                f"{BLOCKS_BETWEEN_RUNS['ethereum']} Ethereum blocks are mined; every run"
            )
            say(f"   reuses the signatures of epoch {EPOCH}")
            codes = run_scheduled(nodes, options, scheduled, as_json=as_json)
    say("   nodes stopped")
    if scheduled:
        history = open_store(options, config)
        render_table(read_runs(history), err if as_json else out)
        say(f"   history: `por history --db {work / 'por.db'}`; run reports in {work / 'runs'}")
    say(f"HTML report: {html}   (whole demo: {_since(started_all)} s)")
    return next(
        (
            code
            for code in (verification.exit_code if verification.discrepancies else 0, *codes)
            if code != EXIT_OK
        ),
        EXIT_OK,
    )
