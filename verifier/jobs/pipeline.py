"""The main job, end to end: snapshot → reserve → reconciliation → report (and attestation).

Where it sits: under `por reconcile`, `por attest`, `por verify` and `por demo`. It reads the
inputs named in `por.toml` (root document, prices, reserve statement, rule pack), takes the
snapshot, evaluates the rule pack on the holdings the snapshot proves, reconciles, and builds
the report; a stored run also evaluates the ``[stress]`` scenarios against the report.
Verification of an attestation recomputes the same figures from the attestation's own data
and from the auditor's nodes and lists every discrepancy.

Files are read as untrusted input: JSON through `verifier.base.safejson` (bounded nesting and
integers), and a tree built from the config never replaces a directory holding one of
the run's own inputs (`verifier.base.outdir.guard_output`).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from attestations.proofs import RootDocument, check_root_document, parse_root_document
from verifier.base import safejson, safetoml
from verifier.base.errors import InputError, InvalidProof, StoreError
from verifier.base.safejson import open_regular
from verifier.holdings.snapshot import Snapshot, take_snapshot
from verifier.inputs.config_values import PorConfig
from verifier.inputs.prices import Price, load_prices
from verifier.jobs.stress_run import StressRun, scheduled_stress
from verifier.reconcile.coverage import reconcile
from verifier.reconcile.reserve_inputs import reserve_inputs
from verifier.reconcile.result import Reconciliation
from verifier.reconcile.values import OwnBufferRule, Thresholds
from verifier.report.document import build_report
from verifier.reserve.pack import RulePack
from verifier.reserve.pack_file import load_pack
from verifier.reserve.positions import inputs_from_mapping
from verifier.reserve.rules import evaluate
from verifier.reserve.statement import load_statement
from verifier.reserve.statement_model import ReserveStatement

Progress = Callable[[str, int, int], None]


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open_regular(path, what="input file") as handle:  # a FIFO swapped in: refused
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Inputs:
    """The off-chain inputs of a reconciliation, read and checked."""

    root: RootDocument
    root_raw: dict[str, Any]
    currency: str
    prices: dict[str, Price]
    statement: ReserveStatement
    statement_raw: dict[str, Any]
    pack: RulePack
    hashes: dict[str, str] = field(default_factory=dict)


def _need(value: Path | str | None, config: PorConfig, key: str) -> Any:
    if value is None:
        raise InputError(
            "missing (needed by reconcile, attest and verify)", file=str(config.path), key=key
        )
    return value


def _build_liabilities(config: PorConfig) -> Path:
    """Build the tree from [liabilities] file/assets when no root.json is named.

    The tree goes to [liabilities] tree (default: "tree" beside the config) and its master
    secret to "<tree>.secret.key" beside it, kept across runs so that customers' salts and
    proofs stay stable from one reconciliation to the next.
    """
    from attestations.build import build_tree
    from verifier.base.outdir import guard_output
    from verifier.inputs.assets import read_assets
    from verifier.inputs.liabilities import read_liabilities

    r = config.reconcile
    source = _need(r.liabilities_file, config, "liabilities.root")
    assets_file = _need(r.assets_file, config, "liabilities.assets")
    tree = r.tree_dir or (config.path.parent / "tree")
    # the tree is replaced on every run: it must not hold any of the run's inputs
    guard_output(
        tree,
        [
            ("config file", config.path),
            ("liabilities file", source),
            ("assets file", assets_file),
            ("prices file", r.prices),
            ("reserve statement", r.statement),
            ("signing key", r.key_file),
        ],
        flag=f"[liabilities] tree of {config.path}",
    )
    assets = read_assets(assets_file)
    data = read_liabilities(source, assets)
    try:
        build_tree(
            data,
            tree,
            attestation_id=config.attestation_id,
            as_of=_now(),
            secret_file=tree.with_name(f"{tree.name}.secret.key"),
            force=True,
        )
    except OSError as exc:
        # a config directory read-only to the service (systemd's ProtectSystem=strict, a
        # read-only ConfigMap): the file system's refusal, named by the key that moves it
        raise StoreError(
            f"{config.path}: key 'liabilities.tree': the tree directory {str(tree)!r} (and "
            f"its secret {tree.name}.secret.key beside it) cannot be written: "
            f"{exc.strerror or type(exc).__name__}; set [liabilities] tree to a writable "
            "directory, such as the service's state directory"
        ) from None
    return tree / "root.json"


def load_root(path: Path) -> tuple[RootDocument, dict[str, Any]]:
    raw = safejson.load_path(path, what="root document")
    try:
        root = parse_root_document(raw)
        check_root_document(root)
    except InvalidProof as exc:
        raise InputError(f"root document: {exc.message}", file=str(path)) from exc
    return root, raw


def load_inputs(config: PorConfig) -> Inputs:
    """Read the root document, the prices, the reserve statement and the rule pack."""
    r = config.reconcile
    root_path = r.root if r.root is not None else _build_liabilities(config)
    root, root_raw = load_root(root_path)
    if root.attestation_id != config.attestation_id:
        raise InputError(
            f"the root document is for attestation {root.attestation_id!r}, the config for "
            f"{config.attestation_id!r}",
            file=str(root_path),
            key="attestation_id",
        )
    prices_path = _need(r.prices, config, "prices.file")
    currency, prices = load_prices(prices_path)
    statement_path = _need(r.statement, config, "reserve.statement")
    statement = load_statement(statement_path)
    pack = load_pack(_need(r.pack, config, "reserve.pack"))
    statement_raw = safetoml.load_path(statement_path, what="reserve statement")
    hashes = {
        "config": sha256_file(config.path),
        "root_document": sha256_file(root_path),
        "prices": sha256_file(prices_path),
        "statement": sha256_file(statement_path),
        "pack": _pack_sha256(_need(r.pack, config, "reserve.pack")),
    }
    return Inputs(
        root, root_raw, currency, prices, statement, _jsonable(statement_raw), pack, hashes
    )


def _pack_sha256(name_or_path: str) -> str:
    """SHA-256 of the rule pack's file (built-in or the user's own)."""
    from importlib import resources

    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        return sha256_file(path)
    data = (
        resources.files("verifier.reserve").joinpath("packs", f"{name_or_path}.toml").read_bytes()
    )
    return hashlib.sha256(data).hexdigest()


def _jsonable(value: Any) -> Any:
    """TOML values as JSON-able data (dates as ISO strings; numbers as strings)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


@dataclass
class Outcome:
    """What a reconciliation produced."""

    snapshot: Snapshot
    evaluation: dict[str, Any]
    reconciliation: Reconciliation
    report: dict[str, Any]
    stress: StressRun | None = None
    """``[stress]`` scenarios evaluated against `report` (stored runs only; None: none)."""

    @property
    def exit_code(self) -> int:
        return int(self.reconciliation.exit_code)


def figures(
    inputs: Inputs,
    snapshot_doc: Mapping[str, Any],
    *,
    as_of: date,
    min_coverage: Decimal = Decimal(1),
    min_combined: Decimal = Decimal(1),
    count_custodial: bool = False,
) -> tuple[dict[str, Any], Reconciliation]:
    """Rule pack and reconciliation on a snapshot document (pure; used by verify too)."""
    thresholds = Thresholds(min_coverage=min_coverage, min_combined=min_combined)
    # the exchange's own proven holdings (attribution "own") are its buffer, never backing
    buffer = OwnBufferRule()
    wanted = reserve_inputs(
        inputs.root,
        snapshot_doc,
        inputs.prices,
        count_custodial=count_custodial,
        own_buffer=buffer,
        currency=inputs.currency,
    )
    evaluation = evaluate(
        inputs.pack, inputs.statement, inputs_from_mapping(wanted), as_of=as_of
    ).to_json()
    rec = reconcile(
        inputs.root,
        snapshot_doc,
        inputs.prices,
        evaluation,
        thresholds=thresholds,
        count_custodial=count_custodial,
        own_buffer=buffer,
    )
    return evaluation, rec


async def run_reconcile(
    config: PorConfig,
    plans: Sequence[Any],
    *,
    progress: Progress | None = None,
    with_stress: bool = False,
) -> Outcome:
    """Snapshot, reserve, reconciliation and report; with `with_stress` (a stored run) and
    a ``[stress]`` table, its scenarios against the report (verifier/jobs/stress_run.py)."""
    inputs = load_inputs(config)
    snapshot = await take_snapshot(config, plans, progress)
    snapshot_doc = snapshot.to_json()
    evaluation, rec = figures(
        inputs,
        snapshot_doc,
        as_of=datetime.now(UTC).date(),
        min_coverage=Decimal(config.reconcile.min_coverage),
        min_combined=Decimal(config.reconcile.min_combined),
        count_custodial=config.count_custodial,
    )
    generated_at = _now()
    report = build_report(rec, generated_at=generated_at, input_hashes=inputs.hashes)
    stress = None
    if with_stress and config.stress is not None:
        stress = scheduled_stress(
            config.stress,
            report,
            inputs.statement,
            statement_sha256=inputs.hashes.get("statement"),
            generated_at=generated_at,
        )
    return Outcome(snapshot, evaluation, rec, report, stress)


def reconcile_now(
    config: PorConfig,
    plans: Sequence[Any],
    progress: Progress | None = None,
    *,
    with_stress: bool = False,
) -> Outcome:
    return asyncio.run(run_reconcile(config, plans, progress=progress, with_stress=with_stress))
