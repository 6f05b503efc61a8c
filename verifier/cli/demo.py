"""`por demo`: the whole job on local bcoin and anvil nodes (verifier/tools/demo.py).

This module holds only the command and its help, which is the demo's user-facing
description: tests/cli/test_help.py keeps it in step with what the demo does.
"""

from __future__ import annotations

from pathlib import Path

import click

from verifier.cli.options import JSON_OPTION, MAX_SAMPLE_ACCOUNTS


@click.command(
    "demo",
    short_help="The whole job on local bcoin and anvil nodes, then N scheduled runs "
    "(--scheduled N).",
)
@click.option(
    "--accounts",
    default=100_000,
    show_default=True,
    type=click.IntRange(1, MAX_SAMPLE_ACCOUNTS),
    help="Sample customers in the liabilities tree (each holds BTC, ETH and USDT).",
)
@click.option(
    "--out",
    "out_dir",
    default=Path("demo-out"),
    show_default=True,
    type=click.Path(path_type=Path),
    help="Work directory: replaced on every run (only one a demo made); por.toml, por.db, "
    "the attestation, the site and runs/ stay there.",
)
@click.option(
    "--scheduled",
    default=0,
    show_default=True,
    type=click.IntRange(0, 1000),
    help="Then run the scheduled job N times: mine blocks on both nodes, reconcile at the new "
    "tips with the same (epoch) signatures, store each run in OUT/por.db. With --json the "
    "output is NDJSON: the main report as one compact line, then one por-run-v1 line per run.",
)
@click.option(
    "--insolvency",
    is_flag=True,
    help="Then the exchange fails: claims register, an estate from the report (hot BTC "
    "drained: BTC short, ETH and USDT in surplus), the distribution plan, one customer's "
    "bundle verified, payouts for half the customers stored in OUT/por.db; under "
    "OUT/insolvency/.",
)
@JSON_OPTION
def demo(accounts: int, out_dir: Path, scheduled: int, insolvency: bool, as_json: bool) -> int:
    """The whole job on this machine, on local nodes it starts and stops.

    \b
    1. Liabilities: ACCOUNTS sample customers × BTC, ETH, USDT → the Merkle sum tree,
       a full audit, and one customer's proof verified as that customer would.
    2. Local nodes: bcoin (regtest) and anvil on free loopback ports (from npm's
       node_modules here, or $POR_NODE_MODULES; without them exit 4).
    3. Exchange wallets, funded: Bitcoin cold 2-of-3 multisig, hot, an own buffer, a
       custodial one; Ethereum a cold key, a hot contract wallet, a buffer; a USDT token.
    4. Ownership proofs signed once for an ownership epoch, reused by later runs (one
       wallet on an expired epoch shows a stale proof; one signs another block).
    5. A reserve statement under the jp-fsa-2026 pack; por.toml written as a user would.
    6. Reconcile (stored in OUT/por.db), attest with a key made as `por keys create`
       makes it, verify as an auditor with the published key, HTML report. The run
       evaluates a scenario ([stress]: the DMM 2024 example, the largest hot wallet of
       the demo's wallet vendor drained): summary, OUT/stress.json, OUT/stress.html.
    7. Publish the static site (customers verify their proof in the browser), with
       its Scenarios page.
    8. With --scheduled N: mine blocks on both nodes and reconcile at each new tip with
       the same epoch signatures, N times, each storing its scenario outcomes; one line
       per run, then the `por history` table (one report per run in OUT/runs/).
    9. With --insolvency: the exchange fails. Its claims register from the liabilities
       tree, an estate from the report (the hot BTC wallet drained), a mixed plan (in
       kind, BTC's shortfall topped up in JPY), one customer's bundle verified offline and
       on a site page, payouts for half the customers stored in OUT/por.db
       (OUT/insolvency/).

    --json prints the report document; with --scheduled N, NDJSON: the report as one
    compact line, then one por-run-v1 line per run. Exit 0 when everything verified and
    every scheduled run was covered."""
    from verifier.tools.demo import run_demo

    return run_demo(
        accounts=accounts,
        out_dir=out_dir,
        as_json=as_json,
        scheduled=scheduled,
        insolvency=insolvency,
    )
