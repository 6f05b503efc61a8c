"""`por demo --insolvency`: the exchange of the demo fails, and its administrator distributes.

Where it sits: a step of the demo (verifier/tools/demo.py), after the attestation. It runs
the whole insolvency path of issue 15 on the demo's own files, each step through the code of
its command, and writes everything under OUT/insolvency/:

1. claims: the claims register at the commencement date (the liabilities tree's date) from
   the demo's liabilities tree (`por insolvency claims`) → claims/;
2. estate: what the administrator found, from the demo's report: every asset's proven
   customer holdings, except that the hot BTC wallet was drained in the failure (BTC is short,
   ETH and USDT in surplus), prices at the report's, and a fiat reserve → estate.toml;
3. plan: policy mixed (in kind per asset, BTC's shortfall topped up in JPY from the reserve)
   → plan/ (`por insolvency plan`);
4. one customer's proof bundle, verified as that customer would, offline (`por insolvency
   proof` and `verify`), and the site's "Insolvency distribution" page → site/;
5. payouts for half of the customers (every other account, paid in full) reconciled against
   the plan and stored in OUT/por.db (`por insolvency payouts`).
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from attestations.proofs import format_units
from attestations.store import TreeStore
from verifier.base.atomic import write_atomic
from verifier.base.console import plural
from verifier.base.errors import EXIT_OK, EXIT_SHORTFALL, InvalidProof

Say = Callable[[str], None]
HOT_DRAINED = "BTC"
"""The asset whose hot wallets were drained when the exchange failed (short in the estate)."""
RESERVE_JPY = "5000000000"
"""The fiat the administrator holds for customers (the demo's cash reserve), JPY."""


def estate_toml(report: Mapping[str, Any], valuation_date: str) -> str:
    """The estate from the demo's report: proven holdings per asset, the drained hot BTC
    wallet taken out, the report's prices (whole units, exact)."""
    lines = [
        'policy = "mixed"',
        f"exchange = {json.dumps(str(report.get('exchange') or 'demo exchange'))}",
        "",
        "[valuation]",
        f"date = {valuation_date}",
        f'currency = "{report.get("currency") or "JPY"}"',
        "decimals = 0",
        "prices = { " + ", ".join(f'{a["code"]} = "{a["price"]}"' for a in report["assets"]) + " }",
        "",
    ]
    for a in report["assets"]:
        held = int(a["holdings"]["base_units"])
        if a["code"] == HOT_DRAINED:
            held -= int(a["by_class"]["hot"]["base_units"])
        lines += [f"[assets.{a['code']}]", f'on_chain = "{format_units(held, a["decimals"])}"', ""]
    lines += ["[fiat]", f'reserve = "{RESERVE_JPY}"', ""]
    return "\n".join(lines)


def _claims(work: Path, out: Path, say: Say) -> Path:
    from verifier.insolvency.claims import check_commencement, read_register
    from verifier.insolvency.claims_files import write_claims

    with TreeStore(work / "tree") as store:
        as_of = store.root.as_of
        check_commencement(as_of, store.root.as_of, str(store.root_path))
        source_id = store.root.attestation_id
    register = read_register(work / "tree", workers=0)
    doc = write_claims(
        register,
        None,
        out / "claims",
        attestation_id=f"{source_id}/claims",
        as_of=as_of,
        exchange=None,
        notes=(),
        force=False,
        workers=0,
    )
    say(
        f"   1. claims register at {as_of}: {doc['customers']:,} customers, commitment "
        f"{doc['root']['commitment'][:16]}… → {out / 'claims'}"
    )
    return out / "claims"


def _plan(claims: Path, report: Mapping[str, Any], out: Path, say: Say) -> dict[str, Any]:
    from verifier.insolvency.plan import make_plan

    estate = out / "estate.toml"
    estate.write_text(estate_toml(report, time.strftime("%Y-%m-%d", time.gmtime())))
    result = make_plan(claims, estate, out / "plan")
    doc = result.doc
    say(f"   2. estate {estate}: the hot {HOT_DRAINED} wallet drained in the failure")
    say(f"   3. plan ({doc['policy']}) {doc['plan_id'][:23]}… → {out / 'plan'}")
    for a in doc["assets"]:
        say(
            f"      {a['code']:5} claims {format_units(int(a['total_claims']), a['decimals'])}, "
            f"available {format_units(int(a['available']), a['decimals'])}, recovery "
            f"{(a['ratio'] or {}).get('percent', '-')}"
            + (", short" if int(a["available"]) < int(a["total_claims"]) else ", in surplus")
        )
    fiat = doc.get("fiat")
    if fiat:
        say(
            f"      {fiat['currency']} pool {int(fiat['pool']):,} tops up the unpaid value "
            f"{int(fiat['claims_value']):,}: {int(fiat['distributable']):,} distributed"
        )
    return doc


def _customer(work: Path, claims: Path, out: Path, account: str, say: Say) -> None:
    from verifier.insolvency.verify import load_plan, make_bundle, verify_bundle
    from verifier.site.publish import build_site

    plan_path = out / "plan" / "plan.json"
    bundle = make_bundle(plan_path, claims, account)
    path = out / f"bundle-{account}.json"
    write_atomic(path, (json.dumps(bundle, indent=2) + "\n").encode(), mode=0o600)
    result = verify_bundle(json.loads(path.read_text()), load_plan(plan_path))
    if not result.valid:
        raise InvalidProof(result.failed[0], f"the demo's own bundle of {account} failed")
    paid = ", ".join(
        f"{code} {format_units(n, result.decimals.get(code, 0))}"
        for code, n in sorted(result.distribution.items())
    )
    say(
        f"   4. customer {account}: bundle {path} verified offline "
        f"({plural(len(result.checks), 'check')} passed): receives {paid}"
    )
    site = build_site(work / "attestation", out / "site", plan=plan_path)
    say(f"      site with the Insolvency distribution page: {site.out_dir / 'insolvency.html'}")


def _half_paid(plan_dir: Path) -> bytes:
    """Every other account (in the file's order) paid exactly what is due, one reference
    per account and asset; the other half not yet paid."""
    rows = list(csv.DictReader(io.StringIO((plan_dir / "distributions.csv").read_text())))
    accounts = sorted({r["account_id"] for r in rows})
    paid = set(accounts[::2])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["account_id", "asset", "units", "reference"])
    for n, r in enumerate(rows):
        if r["account_id"] in paid and int(r["distribution_units"]):
            writer.writerow([r["account_id"], r["asset"], r["distribution_units"], f"demo-tx-{n}"])
    return out.getvalue().encode()


def _payouts(work: Path, out: Path, say: Say) -> int:
    from verifier.history.db_url import normalise_url
    from verifier.history.payouts import record_payouts
    from verifier.history.store import Store
    from verifier.insolvency.payouts_files import reconcile_files

    paid = out / "paid.csv"
    write_atomic(paid, _half_paid(out / "plan"), mode=0o600)
    result, exchange = reconcile_files(out / "plan", paid)
    code = EXIT_OK if result.consistent else EXIT_SHORTFALL
    store = Store(normalise_url(str(work / "por.db"), None))
    run_id = record_payouts(store, result, paid_file=str(paid), exchange=exchange, exit_code=code)
    counts = ", ".join(f"{n:,} {s}" for s, n in result.statuses.items() if n)
    say(f"   5. payouts {paid}: {result.payments:,} payments; accounts {counts}")
    for a in result.assets:
        say(
            f"      {a.code:5} due {format_units(a.due, a.decimals)}, paid "
            f"{format_units(a.paid, a.decimals)}, unpaid {format_units(a.unpaid, a.decimals)}"
        )
    verdict = "consistent" if result.consistent else "NOT consistent"
    say(f"      {verdict}; stored as payout run {run_id} in {store.describe()}")
    return code


def run_insolvency(
    work: Path, say: Say, account: str, report: Mapping[str, Any] | None = None
) -> int:
    """The whole path on the demo's files (`report`: the demo's report.json unless given);
    returns 0 when every step verified and the payouts are consistent."""
    out = work / "insolvency"
    out.mkdir(parents=True, exist_ok=True)
    say("[bold]9. Insolvency[/bold]: the exchange fails; its administrator distributes")
    if report is None:
        report = json.loads((work / "attestation" / "report.json").read_text())
    claims = _claims(work, out, say)
    _plan(claims, report, out, say)
    _customer(work, claims, out, account, say)
    return _payouts(work, out, say)


__all__ = ["estate_toml", "run_insolvency"]
