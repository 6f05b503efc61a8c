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
   The run also evaluates the `[stress]` scenario file: a copy of
   verifier/stress/examples/dmm-2024.toml (the largest hot wallet of the demo's wallet-software
   vendor drained); its summary is printed and written as stress.json and stress.html.
7. Publish the static site where customers verify their proof in the browser, with its
   Scenarios page (`por publish --stress`).
8. With `--scheduled N`: the scheduled job. Blocks are mined on both nodes between runs and
   each run reconciles at the new tips with the same signatures through `run_once` (the code
   of `por reconcile`), stored in the history database with its scenario outcomes; a
   summary line per run, then the history table. Every process is stopped at the end.

Steps 3 to 5 (the wallets, their proofs and the files a user would write) are
verifier/tools/demo_funding.py; this module runs the steps in order, one function each.
Everything lives in one work directory that is replaced on every run (it carries a marker so
that no other directory is ever removed).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.text import Text

from attestations.audit import audit_tree
from attestations.build import build_tree, write_private
from attestations.proofs import format_units, parse_proof, parse_root_document, verify_proof
from attestations.store import TreeStore
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
from verifier.tools.demo_funding import ATTESTATION, EPOCH, Nodes, fund_and_configure
from verifier.tools.sample import assets_toml, sample_assets, write_sample

if TYPE_CHECKING:
    from verifier.history.schedule import RunOptions
    from verifier.inputs.config_values import PorConfig
    from verifier.jobs.pipeline import Inputs, Outcome
    from verifier.jobs.verification import Verification

MARKER = ".por-demo"
DEMO_ACCOUNT = "acct-00000042"
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
    stress = getattr(result, "stress", None)
    if stress is not None:
        evaluated = [o for o in stress.outcomes if o.error is None]
        whole = sum(1 for o in evaluated if o.made_whole)
        ages += f"{'; ' if ages else ''}scenarios {whole}/{len(stress.outcomes)} made whole"
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


Say = Callable[[str], None]
"""How a step prints its lines: stdout, or stderr when stdout carries JSON."""


def run_demo(
    *, accounts: int, out_dir: Path, as_json: bool, scheduled: int = 0, insolvency: bool = False
) -> int:
    """Run the demo; returns the exit code (0 when every step ran and verified, and every
    scheduled run was covered).

    With `as_json`: without `scheduled`, the report document (pretty-printed); with it,
    NDJSON: the report as one compact line, then one `por-run-v1` line per scheduled run.
    """
    from chains.nodes.anvil import Anvil
    from chains.nodes.bcoin import Bcoin
    from verifier.history.schedule import open_store
    from verifier.history.view import read_runs, render_table
    from verifier.report.terminal import render_terminal

    if not 0 <= scheduled <= MAX_SCHEDULED:
        raise UsageError(f"--scheduled: 0 to {MAX_SCHEDULED} runs, not {scheduled}")
    say: Say = err.print if as_json else out.print
    started_all = time.perf_counter()
    _fresh_dir(out_dir)  # a foreign --out is refused (exit 3) whether or not nodes exist
    _require_nodes()  # before the long first step
    work = out_dir
    totals = _liabilities(work, accounts, as_json, say)

    say("[bold]2. Local nodes[/bold]: bcoin (regtest) and anvil on loopback")
    with Bcoin() as bcoin, Anvil() as anvil:
        nodes = Nodes(bcoin, anvil)
        say(f"   bcoin {bcoin.url}, anvil {anvil.url}")
        say(
            "[bold]3. Exchange wallets[/bold]: fund, pin the blocks, sign ownership proofs "
            f"once for epoch {EPOCH}"
        )
        started = time.perf_counter()
        config_path = fund_and_configure(work, nodes, totals, epochs=True)
        _add_scenarios(config_path)
        say(f"   done in {_since(started)} s; config {config_path}")

        options, config, outcome, inputs = _reconcile(work, config_path, as_json, scheduled, say)
        stress_file = _stress_files(work, outcome, say)
        html, public_key = _attest(work, config, inputs, outcome, say)
        verification = _verify_as_auditor(work, public_key, say)
        _publish(work, say, stress_file)
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
    if insolvency:  # step 9 (verifier/tools/demo_insolvency.py), on the files above
        from verifier.tools.demo_insolvency import run_insolvency

        account = DEMO_ACCOUNT if accounts > 42 else "acct-00000000"
        codes.append(run_insolvency(work, say, account))
    say(f"HTML report: {html}   (whole demo: {_since(started_all)} s)")
    return next(
        (
            code
            for code in (verification.exit_code if verification.discrepancies else 0, *codes)
            if code != EXIT_OK
        ),
        EXIT_OK,
    )


def _liabilities(work: Path, accounts: int, as_json: bool, say: Say) -> dict[str, int]:
    """Step 1: the sample liabilities built into the tree, one customer's proof verified as
    that customer would, and the full audit. Returns the totals owed per asset code."""
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
    return totals


def _reconcile(
    work: Path, config_path: Path, as_json: bool, scheduled: int, say: Say
) -> tuple[RunOptions, PorConfig, Outcome, Inputs]:
    """Step 4: one stored run, through `por reconcile`'s code (stored, alerts computed); the
    demo keeps the config, the outcome and the inputs to attest them."""
    from verifier.history.schedule import RunOptions, run_once
    from verifier.holdings.plans import build_plans
    from verifier.jobs.pipeline import load_inputs, reconcile_now

    say(
        "[bold]4. Reconcile[/bold] under jp-fsa-2026 (snapshot, reserve, coverage), "
        f"stored in {work / 'por.db'}"
    )
    # env={}: the caller's POR_WEBHOOK_URL or POR_DATABASE_URL must not receive its runs
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
            outcome = reconcile_now(config, build_plans(config), progress, with_stress=True)
        kept.append((config, outcome))
        return outcome

    first = run_once(options, main_run)
    if first.error is not None:
        raise first.error
    ((config, outcome),) = kept
    inputs = load_inputs(config)
    if as_json and scheduled:  # NDJSON: every stdout line is one JSON document
        print_json_line(outcome.report)
    return options, config, outcome, inputs


def _attest(
    work: Path, config: PorConfig, inputs: Inputs, outcome: Outcome, say: Say
) -> tuple[Path, str]:
    """Step 5: a signing key made as `por keys create` makes it (its public key added to
    auditor.toml), the attestation signed, the report written. Returns the HTML report's
    path and the public key."""
    from verifier.inputs.keys import create_signing_key
    from verifier.jobs.attest import attest
    from verifier.report.html import render_html, write_html

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
    return html, public_key


def _verify_as_auditor(work: Path, public_key: str, say: Say) -> Verification:
    """Step 6: the attestation verified on the nodes with auditor.toml and the published key."""
    from verifier.inputs.config import load_config
    from verifier.jobs.verify import verify

    say("[bold]6. Verify as an auditor[/bold] on the nodes, with the published key")
    verification = verify(
        work / "attestation" / "attestation.json",
        auditor=load_config(work / "auditor.toml"),
        expected_public_key=public_key,
    )
    for check in verification.checks:
        say(f"   [green]✓[/green] {escape(check)}")
    for problem in verification.discrepancies:
        say(f"   [red]✗[/red] {escape(problem)}")
    return verification


def _publish(work: Path, say: Say, stress_file: Path | None = None) -> None:
    """Step 7: the static site where customers verify their proof in the browser, with the
    Scenarios page when the scenarios were evaluated."""
    from verifier.site.publish import build_site

    site = build_site(work / "attestation", work / "site", stress=stress_file)
    say(
        f"[bold]7. Publish[/bold]: static site in {work / 'site'} "
        f"({plural(len(site.files), 'file')}"
        + (", with its Scenarios page" if stress_file is not None else "")
        + ") — customers check their proof in the browser; preview with "
        f"`por serve {work / 'site'}`"
    )


SCENARIO_EXAMPLE = "dmm-2024.toml"
"""The scenario the demo runs (verifier/stress/examples/): the largest hot wallet of the
demo's wallet-software vendor (vaultsoft) drained in one hack."""


def _add_scenarios(config_path: Path) -> None:
    """The `[stress]` table, as a user adds it: a copy of the example scenario file beside
    por.toml, evaluated by every stored run."""
    from verifier.stress.scenario import example_path

    shutil.copyfile(example_path(SCENARIO_EXAMPLE), config_path.parent / "scenarios.toml")
    with config_path.open("a", encoding="utf-8") as handle:
        handle.write('\n[stress]\nscenarios = "scenarios.toml"\n')


def _stress_files(work: Path, outcome: Outcome, say: Say) -> Path | None:
    """The main run's scenarios: a short summary, stress.json and stress.html. Returns
    stress.json's path (None when the scenario file could not be evaluated: said, not fatal)."""
    from verifier.base.atomic import write_atomic
    from verifier.stress.html import render_stress_html

    stress = outcome.stress
    if stress is None:
        return None
    say(f"   scenarios ({SCENARIO_EXAMPLE}, stored with the run):")
    if stress.document is None:
        say(f"   [red]not evaluated[/red]: {escape(stress.file_error or '')}")
        return None
    for line in scenario_lines(stress.document):
        say(f"   {escape(line)}")
    json_file, html_file = work / "stress.json", work / "stress.html"
    write_atomic(json_file, (json.dumps(stress.document, indent=2) + "\n").encode())
    write_atomic(html_file, render_stress_html(stress.document).encode())
    say(f"   {json_file}, {html_file}")
    return json_file


def scenario_lines(document: dict[str, Any]) -> list[str]:
    """Each scenario of a por-stress-v1 document in one line: its loss, what paid it, and
    whether every customer was made whole (figures as the report shows them)."""
    from decimal import localcontext

    from verifier.reconcile.numbers import EXACT
    from verifier.report.figures import money

    currency = str(document.get("currency") or "")
    lines = []
    for s in document.get("scenarios") or []:
        with localcontext(EXACT):  # a sum of exact decimals, never rounded
            loss = sum(
                (Decimal(str(a.get("loss_value") or 0)) for a in s.get("assets") or []),
                Decimal(0),
            )
        paid = [
            f"{p['name']} {currency} {money(p['paid'])}"
            for p in s.get("payers") or []
            if Decimal(str(p.get("paid") or 0)) > 0
        ]
        verdict = (
            "every customer made whole"
            if s.get("made_whole")
            else f"NOT made whole: {currency} {money(s.get('uncovered_value'))} uncovered"
        )
        lines.append(
            f"{s.get('id')}: loss {currency} {money(loss)}; paid by "
            f"{', '.join(paid) or 'nothing'}; {verdict}; time to pay: "
            f"{s.get('time_to_pay_note')}"
        )
    return lines
