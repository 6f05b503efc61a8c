"""`por demo` / `make demo`: the main job on the embedded default, end to end.

Until the chain and reconciliation work lands, the main job is the liabilities half:
generate a sample (100,000 accounts × 3 assets), build the tree, print the root and the
commitment, cut one customer's proof and verify it against the published root document,
then audit the whole tree. Everything lives in one work directory that is replaced on
every run (it carries a marker so that no other directory is ever removed).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from rich.markup import escape

from attestations.audit import audit_tree
from attestations.build import build_tree
from attestations.proofs import format_units, parse_proof, parse_root_document, verify_proof
from attestations.store import TreeStore
from verifier.console import out, print_json, progress_bar
from verifier.errors import EXIT_OK, InputError
from verifier.inputs import read_assets, read_liabilities
from verifier.sample import assets_toml, sample_assets, write_sample

MARKER = ".por-demo"
DEMO_ACCOUNT = "acct-00000042"


def _fresh_dir(path: Path) -> None:
    if path.exists():
        if not (path / MARKER).exists() and any(path.iterdir()):
            raise InputError(
                "refusing to replace a directory that the demo did not create", file=str(path)
            )
        shutil.rmtree(path)
    path.mkdir(parents=True)
    (path / MARKER).write_text("work directory of `por demo`; replaced on every run\n")


def run_demo(*, accounts: int, out_dir: Path, as_json: bool) -> int:
    """Run the demo; returns the exit code."""

    def say(text: str) -> None:
        if not as_json:
            out.print(text)

    steps: dict[str, Any] = {}
    _fresh_dir(out_dir)
    assets = sample_assets(3)
    input_file = out_dir / "liabilities.csv"
    assets_file = out_dir / "assets.toml"
    say(f"[bold]1. Sample liabilities[/bold]: {accounts:,} accounts × {len(assets)} assets")
    started = time.perf_counter()
    rows = write_sample(input_file, accounts, assets)
    assets_file.write_text(assets_toml(assets))
    steps["sample"] = {"file": str(input_file), "rows": rows, "seconds": _since(started)}
    say(f"   {rows:,} rows in {input_file}")

    say("[bold]2. Build the Merkle sum tree[/bold] (por-mst-v1)")
    tree_dir = out_dir / "tree"
    started = time.perf_counter()
    with progress_bar(not as_json) as progress:
        data = read_liabilities(input_file, read_assets(assets_file), progress=progress)
        result = build_tree(
            data,
            tree_dir,
            attestation_id="demo-2026-11",
            as_of="2026-11-21T00:00:00Z",
            progress=progress,
        )
    root = result.root
    steps["build"] = {
        "tree": str(tree_dir),
        "accounts": result.accounts,
        "height": root.height,
        "root": root.root.hash.hex(),
        "commitment": root.commitment.hex(),
        "totals": {
            a.code: format_units(s, a.decimals)
            for a, s in zip(root.assets, root.root.sums, strict=True)
        },
        "seconds": _since(started),
    }
    say(f"   root hash   {root.root.hash.hex()}")
    say(f"   commitment  [bold]{root.commitment.hex()}[/bold]")
    for code, total in steps["build"]["totals"].items():
        say(f"   total {code:5} {total}")
    say(f"   public root document: {tree_dir / 'root.json'}")

    account = DEMO_ACCOUNT if accounts > 42 else "acct-00000000"
    say(f"[bold]3. Inclusion proof[/bold] for customer {account}")
    started = time.perf_counter()
    with TreeStore(tree_dir) as store:
        proof = store.proof(account)
    proof_file = out_dir / f"proof-{account}.json"
    proof_file.write_text(json.dumps(proof.to_json(), indent=2) + "\n")
    proof_file.chmod(0o600)
    steps["proof"] = {"account_id": account, "file": str(proof_file), "seconds": _since(started)}
    say(f"   {proof_file} ({len(proof.leaves)} leaf, {root.height} path entries)")

    say("[bold]4. Verify it[/bold] as the customer would (offline, against root.json)")
    published = parse_root_document(json.loads((tree_dir / "root.json").read_text()))
    verified = verify_proof(
        parse_proof(json.loads(proof_file.read_text())), published_root=published
    )
    steps["verify"] = {
        "valid": True,
        "balances": verified.balances_whole(),
        "checks": list(verified.checks),
    }
    for code, amount in verified.balances_whole().items():
        say(f"   {code:5} {amount}")
    for check in verified.checks:
        say(f"   [green]✓[/green] {escape(check)}")

    say("[bold]5. Audit the whole tree[/bold] (every leaf and node recomputed)")
    started = time.perf_counter()
    with progress_bar(not as_json) as progress:
        audit = audit_tree(tree_dir, progress=progress)
    steps["audit"] = {
        "valid": True,
        "leaves_recomputed": audit.leaves_recomputed,
        "seconds": _since(started),
    }
    say(
        f"   [green]OK[/green]: {audit.leaves:,} leaves, {audit.padding:,} padding, "
        f"commitment {audit.commitment}"
    )
    if as_json:
        print_json({"demo": "liabilities", "out_dir": str(out_dir), "steps": steps})
    return EXIT_OK


def _since(started: float) -> str:  # float-ok: seconds
    return f"{time.perf_counter() - started:.3f}"
