"""`por attest` (exchange) and `por verify` (auditor) on top of the pipeline.

Where it sits: after reconciliation. `attest` turns an outcome into the signed
`por-attestation-v1` document (attestations/document/). `verify` checks such a document
independently: the exchange's signature and every field, every ownership signature against
the challenge of its stated block, every balance re-read on the auditor's own nodes at the
stated heights and block hashes (when an auditor config names nodes), the liabilities root
document, and the reserve and coverage recomputed from the document's own data. Every
discrepancy is listed; none is fatal until the end, so the auditor sees them all.

Nothing lost, nothing half-written: `attest` builds the whole new attestation directory
(attestation.json, root.json, report.json, report.html) under a temporary sibling and
swaps it into place at the end (`install_directory`), so a failure midway — a full disk,
a signal — leaves the previous attestation directory exactly as it was. Its output may
neither hold nor lie inside any input the config names (`attest_inputs`).

`verify` reads the document as hostile input: bounded JSON (`verifier.base.safejson`), and
whatever the signed document holds that this tool cannot recompute from (a malformed
statement, threshold or status, an unknown rule pack) is a listed discrepancy (exit 3),
never a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import errno
import json
import os
import re
import secrets
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

from attestations.document.files import write_attestation
from attestations.document.model import (
    Attestation,
    ChainEntry,
    PriceQuote,
    RulePackRef,
    WalletEntry,
)
from attestations.document.sign import build_attestation, sign_attestation, verify_attestation
from chains.base import BlockRef, Chain, Ownership, OwnershipCheck, ProofAge
from chains.btc_ownership import verify_bitcoin_ownership
from chains.eth_ownership import verify_eip191
from verifier.base import safejson, safetoml
from verifier.base.console import plural
from verifier.base.errors import (
    EXIT_INFRA,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_SHORTFALL,
    ChainError,
    InputError,
    PorError,
    StoreError,
    UsageError,
)
from verifier.holdings.ownership import (
    DEFAULT_MAX_AGE_DAYS,
    PACK_PARAMETER,
    MaxAge,
    epoch_message,
    judged,
    on_chain_problem,
    proof_age,
    staleness,
)
from verifier.inputs.config import PorConfig
from verifier.inputs.keys import load_signing_key
from verifier.inputs.prices import Price
from verifier.jobs.pipeline import Inputs, Outcome, figures
from verifier.reconcile.coverage import Reconciliation
from verifier.report.document import build_report
from verifier.reserve.pack_file import known_packs, load_pack
from verifier.reserve.statement import parse_statement

T = TypeVar("T")

# ----------------------------------------------------------------------------- attest


def _proof_for(
    ownership: Mapping[str, Any] | None, address: str, witness_script: str | None
) -> dict[str, Any] | None:
    """The ownership proof of one address as the document states it."""
    if ownership is None:
        return None
    proof = dict(ownership)
    per_address = proof.pop("addresses", None)
    if isinstance(per_address, Mapping):  # an xpub wallet: keep this address's signature only
        if address not in per_address:
            return {"scheme": proof.get("scheme")}
        proof["signature"] = per_address[address]
    if witness_script is not None and proof.get("scheme") == "p2wsh-multisig":
        proof.setdefault("witness_script", witness_script)
    return proof


def _with_verdict(proof: dict[str, Any] | None, verdict: OwnershipCheck) -> dict[str, Any] | None:
    """The proof with the snapshot's verdict on it: the epoch it signs (its block on this
    chain, in place of the config's epoch id), its age at the pinned block and the status,
    so a verifier recomputes the epoch message and the staleness from the document."""
    if proof is None:
        return None
    proof["epoch"] = None if verdict.epoch is None else verdict.epoch.to_json()
    proof["age"] = None if verdict.age is None else verdict.age.to_json()
    proof["status"] = verdict.status.value
    return proof


def attestation_document(config: PorConfig, inputs: Inputs, outcome: Outcome) -> dict[str, Any]:
    """The unsigned `por-attestation-v1` document of an outcome."""
    from chains.btc_multisig import multisig_witness_script

    chains = []
    for reading in outcome.snapshot.chains:
        wallets = []
        for item in reading.addresses:
            w = item.wallet
            script = None
            if w.kind == "multisig" and w.multisig_m is not None:
                script = multisig_witness_script(w.multisig_m, w.multisig_keys, sort=w.sorted_keys)
            wallets.append(
                WalletEntry(
                    address=item.address,
                    label=w.label,
                    wallet_class=w.wallet_class,
                    attribution=w.attribution,
                    balances=dict(item.balances),
                    ownership=_with_verdict(
                        _proof_for(w.ownership, item.address, script), item.ownership
                    ),
                )
            )
        chains.append(
            ChainEntry(block=reading.block, wallets=tuple(wallets), challenge=reading.challenge)
        )
    reserve = dict(inputs.statement_raw)
    if config.reconcile.statement is not None:
        reserve["statement_toml"] = config.reconcile.statement.read_text(encoding="utf-8")
    return build_attestation(
        attestation_id=config.attestation_id,
        as_of=outcome.snapshot.taken_at,
        exchange=config.exchange,
        liabilities=inputs.root_raw,
        chains=chains,
        reserve=reserve,
        prices={
            code: PriceQuote(p.value, p.currency, p.source, p.time)
            for code, p in inputs.prices.items()
        },
        rule_pack=RulePackRef(inputs.pack.id, inputs.pack.version),
        report=outcome.report,
        max_age=None if outcome.snapshot.max_age is None else outcome.snapshot.max_age.to_json(),
    )


ATTESTATION_FILES = ("attestation.json", "root.json", "report.json", "report.html")
"""What `attest` writes; an existing --out may hold these and nothing else."""


def attest(
    config: PorConfig, inputs: Inputs, outcome: Outcome, out_dir: Path, key_file: Path
) -> dict[str, Any]:
    """Sign the attestation and write DIR whole: attestation.json, root.json, report.json
    and report.html, or — on any failure — nothing (the previous DIR is left as it was)."""
    check_attestation_dir(out_dir)
    key = load_signing_key(key_file)  # never created here: `por keys create` does that
    doc = sign_attestation(attestation_document(config, inputs, outcome), key)
    write_attestation_dir(out_dir, doc, outcome.report)
    return doc


def attest_inputs(config: PorConfig) -> list[tuple[str, Path]]:
    """Every file and directory `attest` reads or must keep, for
    `verifier.base.outdir.guard_output`.

    The config itself; every path the config names (walked generically, so a path key
    added later is covered too); the rule pack when it is a file; the liabilities tree
    (given by its root.json, or built beside the config) and its master secret.
    """
    named = {
        "reconcile.root": "root document (liabilities.root)",
        "reconcile.liabilities_file": "liabilities file",
        "reconcile.assets_file": "assets file",
        "reconcile.tree_dir": "liabilities tree",
        "reconcile.prices": "prices file",
        "reconcile.statement": "reserve statement",
        "reconcile.key_file": "signing key (attest.key_file)",
    }
    found: list[tuple[str, Path]] = [("config file", config.path)]

    def walk(value: Any, where: str) -> None:
        if isinstance(value, Path):
            if all(value != path for _, path in found):
                found.append((named.get(where, f"file of {where}"), value))
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            for item in dataclasses.fields(value):
                if where or item.name != "path":
                    walk(getattr(value, item.name), f"{where}.{item.name}".lstrip("."))
        elif isinstance(value, tuple | list):
            for n, item in enumerate(value):
                walk(item, f"{where}[{n}]")

    walk(config, "")
    r = config.reconcile
    if r.pack is not None and r.pack not in known_packs():
        found.append(("rule pack", Path(r.pack)))
    if r.root is not None:
        tree = r.root.parent
        if (tree / "tree" / "meta.json").is_file():
            found.append(("liabilities tree", tree))
            with contextlib.suppress(PorError):
                meta = safejson.load_path(tree / "tree" / "meta.json", what="tree metadata")
                secret = meta.get("secret_file") if isinstance(meta, dict) else None
                if isinstance(secret, str) and secret:
                    found.append(("tree secret", tree / secret))
    elif r.liabilities_file is not None:
        tree = r.tree_dir or (config.path.parent / "tree")
        found.append(("liabilities tree", tree))
        found.append(("tree secret", tree.with_name(f"{tree.name}.secret.key")))
    return found


def check_attestation_dir(out_dir: Path) -> None:
    """Refuse an --out that `attest` cannot replace whole without losing something.

    The directory is swapped for the new one, so it may hold only what `attest` writes
    (and temporary files a crashed earlier run left); anything else is named (exit 2).
    """
    if not os.path.lexists(out_dir):
        return
    real = Path(os.path.realpath(out_dir))
    if not real.is_dir():
        raise UsageError(f"--out {out_dir} exists and is not a directory")
    for entry in sorted(real.iterdir()):
        name = entry.name
        if name in ATTESTATION_FILES and entry.is_file() and not entry.is_symlink():
            continue
        if name.startswith(".") and any(name.startswith(f".{f}.") for f in ATTESTATION_FILES):
            continue  # a temporary file of an interrupted write
        raise UsageError(
            f"--out {out_dir} holds {name!r}, which `por attest` does not write; the "
            "directory is replaced whole, so choose an empty directory or a previous "
            "attestation directory"
        )


def write_attestation_dir(out_dir: Path, doc: Mapping[str, Any], report: Mapping[str, Any]) -> None:
    """Write the signed `doc` and its report as directory `out_dir`, all or nothing.

    Everything is written and fsynced under a temporary sibling (``.NAME.tmp-XXXX``), then
    swapped in by `install_directory`. Raises `StoreError` (exit 4) naming the directory
    when anything cannot be written; the previous directory is then untouched and the
    temporary one removed.
    """
    from verifier.report.html import render_html

    check_attestation_dir(out_dir)
    target = Path(os.path.realpath(out_dir))  # a symlinked --out: replace what it points at
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp-{secrets.token_hex(6)}")
        tmp.mkdir()  # mode 0777 & ~umask, as a plain mkdir of the directory would have
    except OSError as exc:
        raise StoreError(
            f"{out_dir}: cannot write the attestation ({exc.strerror}); nothing changed"
        ) from None
    try:
        write_attestation(tmp, doc)  # verifies the document first; atomic, fsynced files
        _write_file(tmp / "report.json", (json.dumps(report, indent=2) + "\n").encode())
        _write_file(tmp / "report.html", render_html(dict(report)).encode("utf-8"))
        _fsync_dir(tmp)
        install_directory(tmp, target)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise StoreError(
            f"{out_dir}: cannot write the attestation ({exc.strerror or exc}); the previous "
            "attestation directory is unchanged"
        ) from None
    except StoreError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        # name the directory the user gave, not the temporary one
        message = exc.message.replace(str(tmp), str(out_dir))
        raise StoreError(f"{message}; the previous attestation directory is unchanged") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_file(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):  # no such libc symbol (older glibc, musl)
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    renameat2.argtypes += [ctypes.c_uint]
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
        return False  # the file system cannot exchange: fall back to two renames
    raise OSError(code, os.strerror(code), str(b))


def install_directory(new: Path, target: Path) -> None:
    """Put the complete directory `new` in place of `target` (a sibling), all or nothing.

    Where the kernel and file system can (Linux, renameat2 RENAME_EXCHANGE), the two are
    swapped in one atomic step: a reader sees the old directory or the new one, never
    neither. Elsewhere two renames: `target` aside to ``.NAME.old-XXXX``, then `new` in.
    In the one window between them `target` does not exist: an error or interrupt there
    renames the previous directory back; a crash of the process exactly there leaves both
    complete directories beside it (the previous one as ``.NAME.old-*``, the new one as
    ``.NAME.tmp-*``), so nothing is lost. The previous directory is removed only once the
    new one is in place.

    Raises OSError only while nothing has changed; once the new directory is in place,
    what remains (syncing the parent, removing the previous copy) cannot fail the call.
    """
    if not os.path.lexists(target):
        os.rename(new, target)
        previous = None
    elif _exchange(new, target):
        previous = new  # after the exchange, `new` names the previous directory
    else:
        previous = target.with_name(f".{target.name}.old-{secrets.token_hex(6)}")
        try:
            os.rename(target, previous)
            os.rename(new, target)
        except BaseException:  # an error or an interrupt in the window: put the old one back
            if not os.path.lexists(target) and os.path.lexists(previous):
                os.rename(previous, target)
            raise
    # the point of no return: the new directory is in place
    with contextlib.suppress(OSError):
        _fsync_dir(target.parent)
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)


# ----------------------------------------------------------------------------- verify

NOT_RECHECKED = "contract-wallet signature: re-checked on a node only"


@dataclass
class Verification:
    """What `por verify` found."""

    attestation_id: str
    public_key: str
    signer_pinned: bool = False
    """True when the signature was checked against a key the auditor gave (--public-key,
    --public-key-file or the auditor config), not only the key the document carries."""
    checks: list[str] = field(default_factory=list)
    discrepancies: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    reconciliation: Reconciliation | None = None
    report: dict[str, Any] | None = None
    node_error: ChainError | None = None
    """The auditor's node failed: what it should have re-read was not (exit 4, "not
    verified"; a document already found wrong stays exit 3)."""
    epoch_proofs: int = 0
    """Epoch proofs (not custodial) in the document."""
    epochs_on_node: set[str] = field(default_factory=set)
    """The epoch proofs (chain:address) whose epoch block, block times and expiry the
    auditor's node decided."""
    epochs_on_trust: list[str] = field(default_factory=list)
    """The epoch proofs counted proven with facts only a node can tell (the epoch block's
    hash, the expiry, the age in seconds) taken from the document."""

    @property
    def epochs_rechecked_on_node(self) -> bool | None:
        """None: no epoch proof; True: every one decided on the auditor's node."""
        if not self.epoch_proofs:
            return None
        return len(self.epochs_on_node) == self.epoch_proofs

    @property
    def verdict_note(self) -> str | None:
        """What a VALID verdict must say with it: some epoch proof counted proven on the
        document's word for what only a node can tell."""
        if self.epochs_on_trust:
            return "epoch proofs partly taken on trust: verify with --config naming your nodes"
        return None

    @property
    def exit_code(self) -> int:
        if self.discrepancies:
            return EXIT_INVALID
        if self.node_error is not None:
            return EXIT_INFRA
        if self.reconciliation is not None and self.reconciliation.exit_code != EXIT_OK:
            return EXIT_SHORTFALL
        return EXIT_OK

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "por-verification-v1",
            "attestation_id": self.attestation_id,
            "public_key": self.public_key,
            "signer_pinned": self.signer_pinned,
            "valid": not self.discrepancies and self.node_error is None,
            "checks": self.checks,
            "discrepancies": self.discrepancies,
            "warnings": self.warnings,
            "epochs_rechecked_on_node": self.epochs_rechecked_on_node,
            "node_error": None if self.node_error is None else self.node_error.to_json(),
            "exit_code": self.exit_code,
            "report": self.report,
        }


def _signature_verdict(chain: ChainEntry, wallet: WalletEntry, message: str) -> OwnershipCheck:
    """The wallet's ownership signature checked over `message`, offline (an EIP-1271
    contract wallet is asked on a node: NOT_RECHECKED here)."""
    proof = wallet.ownership
    if chain.block.chain is Chain.BITCOIN:
        return verify_bitcoin_ownership(proof, wallet.address, chain.block.network, message)
    if proof is None:
        return OwnershipCheck(wallet.address, Ownership.UNPROVEN, None, "no signature")
    if proof.get("scheme") == "eip191":
        return verify_eip191(wallet.address, message, str(proof.get("signature", "")))
    return OwnershipCheck(
        wallet.address, Ownership.UNPROVEN, str(proof.get("scheme")), NOT_RECHECKED
    )


def _limits(doc: Attestation) -> MaxAge:
    """The maximum proof age the document states it applied (`settings.ownership_max_age`)."""
    # parse_attestation refuses a document whose proofs name an epoch without its limits
    assert doc.max_age is not None
    return MaxAge(doc.max_age.days, doc.max_age.source, dict(doc.max_age.blocks))


def _key(chain: ChainEntry, wallet: WalletEntry) -> str:
    return f"{chain.block.chain.value}:{wallet.address}"


def _epoch_verdict(
    doc: Attestation, chain: ChainEntry, wallet: WalletEntry, verification: Verification
) -> OwnershipCheck:
    """An epoch proof judged from the document alone: the epoch's message rebuilt and the
    signature re-checked over it; the stated age checked against the heights; staleness
    recomputed under the document's own limits with the stated age in seconds.

    What only a node can show is taken as attested and re-decided by `_reread`: whether the
    epoch block is on the chain, block times (the expiry is compared with the pinned block's
    time, which the document does not carry), and EIP-1271 contract wallets."""
    epoch = wallet.epoch
    assert epoch is not None
    pinned = chain.block
    key = _key(chain, wallet)
    scheme = wallet.ownership.get("scheme") if wallet.ownership is not None else None
    scheme = scheme if isinstance(scheme, str) else None
    if epoch.height > pinned.height:
        problem = on_chain_problem(epoch, pinned, None)
        return OwnershipCheck(wallet.address, Ownership.UNPROVEN, scheme, str(problem), epoch=epoch)
    blocks = pinned.height - epoch.height
    stated = wallet.age
    if stated is not None and stated.blocks != blocks:
        verification.discrepancies.append(
            f"{key}: ownership.age.blocks is {stated.blocks}, but epoch {_short(epoch.id)} block "
            f"{epoch.height} is {blocks} blocks below the pinned block {pinned.height}"
        )
    if stated is None:  # parse_attestation: only a proof the exchange found unproven
        return OwnershipCheck(
            wallet.address,
            Ownership.UNPROVEN,
            scheme,
            f"as attested: the exchange's node does not have epoch {epoch.id} block "
            f"{epoch.height} {epoch.hash} (re-checked only on the auditor's node)",
            epoch=epoch,
        )
    age = ProofAge(blocks, stated.seconds)
    limits = _limits(doc)
    signature = _signature_verdict(chain, wallet, epoch_message(doc.exchange, epoch, pinned))
    if signature.reason == NOT_RECHECKED:
        stale = staleness(epoch, age, None, pinned.chain.value, limits)
        if stale is not None and wallet.status == Ownership.PROVEN.value:
            verification.discrepancies.append(
                f"{key}: the document says proven, but under its own limits the epoch "
                f"{_short(epoch.id)} proof is stale: {stale}"
            )
        return dataclasses.replace(signature, epoch=epoch, age=age)
    verdict = judged(signature, epoch, age, None, pinned.chain.value, limits)
    unknown = epoch.expires is not None or age.seconds is None
    if verdict.status is Ownership.PROVEN and wallet.status == Ownership.STALE.value and unknown:
        # stale by a fact the document cannot show (the expiry against the pinned block's
        # time, or an age in seconds): counting it as unproven is the cautious reading
        return dataclasses.replace(
            verdict,
            status=Ownership.STALE,
            reason=f"stale as attested: epoch {epoch.id}'s expiry or age in seconds is "
            "re-checked only with the auditor's node (the document has no block times)",
        )
    return verdict


def _check_max_age(raw: Mapping[str, Any], doc: Attestation, verification: Verification) -> None:
    """The report's ``settings.ownership_max_age`` must be the document's own limits (the
    ones staleness is recomputed under), when the report states one."""
    report = raw.get("report")
    settings = report.get("settings") if isinstance(report, Mapping) else None
    if not isinstance(settings, Mapping) or "ownership_max_age" not in settings:
        return
    ours = None if doc.max_age is None else doc.max_age.to_json()
    stated = settings["ownership_max_age"]
    if isinstance(stated, Mapping) and isinstance(stated.get("blocks"), Mapping):
        stated = {**stated, "blocks": dict(sorted(stated["blocks"].items()))}
    if stated != ours:
        verification.discrepancies.append(
            f"report.settings.ownership_max_age is {_short(stated)}, the document's "
            f"settings.ownership_max_age is {_short(ours)}"
        )


def _recheck_ownership(doc: Attestation, verification: Verification) -> dict[str, OwnershipCheck]:
    """Every ownership signature re-checked against its chain's challenge, or an epoch
    proof's against its epoch's challenge (no node needed, except EIP-1271 contract wallets,
    which are re-checked with the auditor's node)."""
    verdicts: dict[str, OwnershipCheck] = {}
    epochs = 0
    for chain in doc.chains:
        text = chain.challenge or ""
        for wallet in chain.wallets:
            if wallet.wallet_class.value == "custodial":
                verdict = OwnershipCheck(
                    wallet.address, Ownership.CUSTODIAL, None, "declared custodial"
                )
            elif wallet.epoch is not None:
                verdict = _epoch_verdict(doc, chain, wallet, verification)
                epochs += 1
            else:
                verdict = _signature_verdict(chain, wallet, text)
            verdicts[_key(chain, wallet)] = verdict
    verification.checks.append(
        f"{len(verdicts)} ownership proofs re-checked against the challenges of their stated blocks"
    )
    verification.epoch_proofs = epochs
    return verdicts


_PACK_SOURCE = re.compile(r"rule pack (\S+) parameter (\S+)")
"""How `por attest` names a limit from the rule pack (verifier.holdings.ownership.resolve_max_age).
"""


def _limit_source(doc: Attestation, verification: Verification) -> str:
    """How far the document's maximum age in days is checked, in words for the check line:
    the default and a built-in rule pack's parameter are checked (another value is a
    discrepancy); the exchange's own `[ownership] max_age_days` or any other source can
    only be taken as the document states it."""
    limits = _limits(doc)
    where = "settings.ownership_max_age"
    if limits.source == "default":
        if limits.days != DEFAULT_MAX_AGE_DAYS:
            verification.discrepancies.append(
                f"{where}: the source says the default, which is {DEFAULT_MAX_AGE_DAYS} days, "
                f"not {limits.days}"
            )
        return "checked as this tool's default"
    named = _PACK_SOURCE.fullmatch(limits.source)
    if named is None:
        return "as the document states it"
    pack_id, parameter = named.groups()
    if parameter != PACK_PARAMETER:
        verification.discrepancies.append(
            f"{where}.source names rule pack parameter {_short(parameter)}; a maximum age "
            f"comes from {PACK_PARAMETER}"
        )
        return "as the document states it"
    if pack_id != doc.rule_pack.id:
        verification.discrepancies.append(
            f"{where}.source names rule pack {_short(pack_id)}, the document applied "
            f"{_short(doc.rule_pack.id)}"
        )
        return "as the document states it"
    if pack_id not in known_packs():  # _recompute names the unknown pack
        return "as the document states it"
    pack = load_pack(pack_id)
    if pack.version != doc.rule_pack.version:  # _recompute names the version
        return "as the document states it"
    value = pack.get(PACK_PARAMETER)
    if value is None:
        verification.discrepancies.append(
            f"{where}.source names rule pack {pack.id} {pack.version} parameter "
            f"{PACK_PARAMETER}, which that pack does not have"
        )
        return "as the document states it"
    if value.value != limits.days:
        verification.discrepancies.append(
            f"{where}.days is {limits.days}, rule pack {pack.id} {pack.version} sets "
            f"{PACK_PARAMETER} = {value.value}"
        )
    return f"checked against rule pack {pack.id} {pack.version}"


def _epoch_checks(
    doc: Attestation, verdicts: Mapping[str, OwnershipCheck], verification: Verification
) -> None:
    """The check line of the epoch proofs, claiming only what was decided here, and a
    warning per epoch whose proven proofs rest on what only a node can tell (the document
    carries no block times and nothing shows its epoch block is on the chain)."""
    if not verification.epoch_proofs:
        return
    limits = _limits(doc)
    source = _limit_source(doc, verification)
    count = plural(verification.epoch_proofs, "epoch proof")
    if verification.epochs_rechecked_on_node:
        verification.checks.append(
            f"{count}: each epoch's challenge rebuilt and the signature re-checked over it, the "
            "epoch block read on the auditor's node, the ages checked against its heights and "
            "block times and staleness (expiry included) recomputed under the document's "
            f"limits ({limits.describe()}; the day limit {source})"
        )
    else:
        blocks = ", ".join(f"{c} {plural(n, 'block')}" for c, n in sorted(limits.blocks.items()))
        verification.checks.append(
            f"{count}: each epoch's challenge rebuilt and the signature re-checked over it, the "
            "ages in blocks checked against the heights and the document's block limits "
            f"applied ({blocks or 'none stated'})"
        )
    trusted: dict[tuple[str, str], list[WalletEntry]] = {}
    for chain in doc.chains:
        ages: dict[str, set[int]] = {}
        for wallet in chain.wallets:
            if (
                wallet.epoch is not None
                and wallet.age is not None
                and wallet.age.seconds is not None
            ):
                ages.setdefault(wallet.epoch.id, set()).add(wallet.age.seconds)
        for epoch_id, seconds in ages.items():
            if len(seconds) > 1:  # one epoch block, one pinned block: one age
                verification.discrepancies.append(
                    f"{chain.block.chain.value}: the proofs of epoch {_short(epoch_id)} state "
                    f"different ages in seconds ({', '.join(map(str, sorted(seconds)))}) from "
                    "the same epoch block to the same pinned block"
                )
        for wallet in chain.wallets:
            key = _key(chain, wallet)
            verdict = verdicts.get(key)
            if (
                wallet.epoch is None
                or key in verification.epochs_on_node
                or verdict is None
                or verdict.status is not Ownership.PROVEN
            ):
                continue
            verification.epochs_on_trust.append(key)
            trusted.setdefault((chain.block.chain.value, wallet.epoch.id), []).append(wallet)
    for (name, epoch_id), wallets in trusted.items():
        epoch = wallets[0].epoch
        assert epoch is not None
        facts = [f"block hash (block {epoch.height} {epoch.hash})"]
        if epoch.expires is not None:
            facts.append(f"expiry ({epoch.expires})")
        stated_ages = sorted({w.age.seconds for w in wallets if w.age is not None}, key=str)
        stated = ", ".join("not stated" if s is None else str(s) for s in stated_ages)
        facts.append(
            f"age in seconds ({stated}, against {plural(limits.days, 'day')}: the day limit "
            f"{source})"
        )
        verification.warnings.append(
            f"{name}: not re-checked without an auditor node: epoch {_short(epoch_id)}'s "
            f"{', '.join(facts[:-1])} and {facts[-1]} taken from the document, for "
            f"{plural(len(wallets), 'proof')} counted proven"
        )


async def _reread(
    doc: Attestation,
    auditor: PorConfig,
    verification: Verification,
    verdicts: dict[str, OwnershipCheck],
) -> None:
    """Re-read every balance on the auditor's nodes at the stated heights and hashes."""
    from chains.eth_ownership import check_eip1271
    from verifier.holdings.plans import bitcoin_adapter, ethereum_adapter

    for chain in doc.chains:
        if chain.block.chain is Chain.BITCOIN and auditor.bitcoin is not None:
            adapter: Any = bitcoin_adapter(auditor.bitcoin)
        elif chain.block.chain is Chain.ETHEREUM and auditor.ethereum is not None:
            adapter = ethereum_adapter(auditor.ethereum)
        else:
            verification.discrepancies.append(
                f"{chain.block.chain.value}: the auditor config names no node; balances not re-read"
            )
            continue
        name = chain.block.chain.value
        async with adapter:
            try:
                block = await adapter.block_at(chain.block.height)
            except ChainError as exc:
                # the auditor's own node failed (down, behind, another network): nothing
                # about the document is known from it, so no discrepancy but exit 4
                _auditor_node_error(verification, name, exc)
                continue
            if block.hash != chain.block.hash:
                verification.discrepancies.append(
                    f"{name}: block {chain.block.height} is {block.hash} on the auditor's node, "
                    f"not {chain.block.hash}"
                )
                continue
            addresses = [w.address for w in chain.wallets]
            epoch_blocks: dict[int, BlockRef | None] = {}
            try:
                snapshot = await adapter.holdings(addresses, block)
            except ChainError as exc:
                _auditor_node_error(verification, name, exc)
                continue
            seen = {(b.address, b.asset): b.units for b in snapshot.balances}
            unlisted = _unlisted_tokens(chain, auditor)
            for code in sorted(unlisted):
                # the auditor's config, not the exchange's document, lacks it: said once,
                # with what to add, rather than as "the node reads None" for every wallet
                verification.discrepancies.append(
                    f"{name}: the auditor config lists no token {_short(code)} "
                    "([[ethereum.tokens]]): its balances cannot be re-read"
                )
            for wallet in chain.wallets:
                for code, units in wallet.balances.items():
                    if code in unlisted:
                        continue
                    found = seen.get((wallet.address, code))
                    if found is None:
                        found = next(
                            (
                                u
                                for (a, c), u in seen.items()
                                if a.lower() == wallet.address.lower() and c == code
                            ),
                            None,
                        )
                    if found != units:
                        verification.discrepancies.append(
                            f"{name} {wallet.address} {code}: attested {units}, the auditor's "
                            f"node reads {found} at height {block.height}"
                        )
                proof = wallet.ownership
                if wallet.epoch is not None and wallet.wallet_class.value != "custodial":
                    on_node = await _node_epoch_verdict(
                        doc, chain, wallet, adapter, block, epoch_blocks, verification
                    )
                    if on_node is not None:
                        verdicts[_key(chain, wallet)] = on_node
                        verification.epochs_on_node.add(_key(chain, wallet))
                elif name == "ethereum" and proof is not None and proof.get("scheme") == "eip1271":
                    verdicts[f"{name}:{wallet.address}"] = await check_eip1271(
                        adapter,
                        wallet.address,
                        chain.challenge or "",
                        str(proof.get("signature", "")),
                        block,
                    )
            verification.checks.append(
                f"{name}: {plural(len(addresses), 'address')} re-read on the auditor's node "
                f"at height "
                f"{block.height}, block {block.hash}"
            )


def _unlisted_tokens(chain: ChainEntry, auditor: PorConfig) -> set[str]:
    """The Ethereum assets the document attests that the auditor config does not list (its
    native asset or a [[ethereum.tokens]] code): its node is never asked for them."""
    if chain.block.chain is not Chain.ETHEREUM or auditor.ethereum is None:
        return set()
    listed = {auditor.ethereum.asset, *(t.code for t in auditor.ethereum.tokens)}
    return {code for w in chain.wallets for code in w.balances} - listed


def _auditor_node_error(verification: Verification, where: str, exc: ChainError) -> None:
    """Keep the auditor's node failure (the first): the verification is incomplete, exit 4
    unless the document was already found wrong (exit 3)."""
    if verification.node_error is None:
        verification.node_error = exc
        exc.message = f"{where}: the auditor's node: {exc.message}"


async def _node_epoch_verdict(
    doc: Attestation,
    chain: ChainEntry,
    wallet: WalletEntry,
    adapter: Any,
    pinned: BlockRef,
    epoch_blocks: dict[int, BlockRef | None],
    verification: Verification,
) -> OwnershipCheck | None:
    """An epoch proof judged on the auditor's node: the epoch block read there (its hash must
    be the document's), the age from the node's block times, the expiry against the pinned
    block's time, the signature over the epoch's challenge (an EIP-1271 wallet asked at the
    pinned block, as the snapshot does) and staleness under the document's limits."""
    from chains.eth_ownership import check_eip1271

    epoch = wallet.epoch
    assert epoch is not None
    key = _key(chain, wallet)
    proof = wallet.ownership or {}
    scheme = proof.get("scheme") if isinstance(proof.get("scheme"), str) else None
    node_block = None
    if epoch.height <= pinned.height:
        if epoch.height not in epoch_blocks:
            try:
                epoch_blocks[epoch.height] = await adapter.block_at(epoch.height)
            except ChainError as exc:  # the auditor's node, not the document (exit 4)
                where = f"{key}: epoch {_short(epoch.id)} block {epoch.height}"
                _auditor_node_error(verification, where, exc)
                return None  # the offline verdict stands; the run ends "not verified"
        node_block = epoch_blocks[epoch.height]
    problem = on_chain_problem(epoch, pinned, node_block)
    if problem is not None:
        if wallet.age is not None:  # the document measured an age from that block
            verification.discrepancies.append(f"{key}: on the auditor's node, {problem}")
        return OwnershipCheck(wallet.address, Ownership.UNPROVEN, scheme, problem, epoch=epoch)
    assert node_block is not None
    age = proof_age(node_block, pinned)
    stated = wallet.age
    if (
        stated is not None
        and stated.seconds is not None
        and age.seconds is not None
        and stated.seconds != age.seconds
    ):
        verification.discrepancies.append(
            f"{key}: ownership.age.seconds is {stated.seconds}, the auditor's node's block "
            f"times give {age.seconds} (epoch {_short(epoch.id)} block {epoch.height} to the "
            f"pinned block {pinned.height})"
        )
    message = epoch_message(doc.exchange, epoch, pinned)
    if pinned.chain is Chain.ETHEREUM and scheme == "eip1271":
        signature = await check_eip1271(
            adapter, wallet.address, message, str(proof.get("signature", "")), pinned
        )
    else:
        signature = _signature_verdict(chain, wallet, message)
    return judged(signature, epoch, age, pinned.time, pinned.chain.value, _limits(doc))


def _snapshot_doc(doc: Attestation, verdicts: Mapping[str, OwnershipCheck]) -> dict[str, Any]:
    """The attested balances with the auditor's own ownership verdicts, as a snapshot doc."""
    chains: list[dict[str, Any]] = []
    for chain in doc.chains:
        addresses = []
        for wallet in chain.wallets:
            verdict = verdicts[f"{chain.block.chain.value}:{wallet.address}"]
            addresses.append(
                {
                    "label": wallet.label,
                    "wallet": wallet.label,
                    "class": wallet.wallet_class.value,
                    "attribution": wallet.attribution.value,
                    "address": wallet.address,
                    "balances": {c: str(u) for c, u in wallet.balances.items()},
                    "ownership": verdict.to_json(),
                }
            )
        chains.append(
            {
                "chain": chain.block.chain.value,
                "network": chain.block.network,
                "height": chain.block.height,
                "block_hash": chain.block.hash,
                "method": "as attested",
                "requests": 0,
                "challenge": chain.challenge,
                "addresses": addresses,
                "totals": {},
            }
        )
    return {
        "snapshot": "por-snapshot-v1",
        "exchange": doc.exchange,
        "attestation_id": doc.attestation_id,
        "taken_at": doc.as_of,
        "count_custodial": False,
        "chains": chains,
        "ownership_max_age": None if doc.max_age is None else doc.max_age.to_json(),
        "warnings": [],
    }


NOT_PINNED = (
    "not verified: no pinned public key; the document's own key proves nothing about who "
    "signed — give --public-key (the exchange's published key) or --trust-embedded-key"
)


def auditor_public_key(auditor: PorConfig) -> str | None:
    """``[attest] public_key`` of an auditor config (64 hex digits), or None.

    Read from the raw table: the config schema only admits the key; its form is checked here.
    """
    from verifier.inputs.keys import read_public_key

    attest = auditor.raw.get("attest")
    if not isinstance(attest, Mapping) or "public_key" not in attest:
        return None
    value = attest["public_key"]
    if not isinstance(value, str):
        raise InputError(
            "must be 64 hex digits (a string)",
            file=str(auditor.path),
            key="attest.public_key",
            value=str(value),
        )
    try:
        return read_public_key(value, source="attest.public_key")
    except InputError:
        raise InputError(
            "must be 64 hex digits (the exchange's published public key)",
            file=str(auditor.path),
            key="attest.public_key",
            value=value,
        ) from None


def _check_auditor_names(doc: Attestation, auditor: PorConfig, verification: Verification) -> None:
    """The auditor config's ``[exchange] name`` and (when given) ``attestation_id`` must be
    the document's: an auditor checking another exchange's or period's document by mistake
    would otherwise see VALID."""
    where = str(auditor.path)
    if auditor.exchange != doc.exchange:
        verification.discrepancies.append(
            f"exchange: the attestation names {_short(doc.exchange)!r}, the auditor config "
            f"{where} [exchange] name is {_short(auditor.exchange)!r}"
        )
    section = auditor.raw.get("exchange")
    expected_id = section.get("attestation_id") if isinstance(section, Mapping) else None
    if expected_id is None:
        return
    if expected_id != doc.attestation_id:
        verification.discrepancies.append(
            f"attestation_id: the attestation is {_short(doc.attestation_id)!r}, the auditor "
            f"config {where} [exchange] attestation_id is {_short(str(expected_id))!r}"
        )
    else:
        verification.checks.append(
            f"exchange {doc.exchange!r} and attestation id {doc.attestation_id!r} are the "
            "auditor config's"
        )


def verify(
    path: Path,
    *,
    auditor: PorConfig | None = None,
    expected_public_key: str | None = None,
    trust_embedded_key: bool = False,
) -> Verification:
    """Verify an attestation; every discrepancy is collected, then returned.

    Without `expected_public_key` (the exchange's published key, pinned by the auditor) the
    result is never valid — a signature checked against the key the document carries proves
    nothing about who signed — unless `trust_embedded_key` is set; then it may be valid,
    with ``signer_pinned`` false and a warning naming the key to compare.
    """
    # bounded JSON: a deeply nested file segfaults the plain decoder once a dependency has
    # raised the recursion limit; numbers with a fraction stay Decimal for the field checks
    raw = safejson.load_path(path, what="attestation", parse_float=Decimal, strict_keys=True)
    doc = verify_attestation(raw, expected_public_key=expected_public_key)
    verification = Verification(
        doc.attestation_id,
        raw["signature"]["public_key"],
        signer_pinned=expected_public_key is not None,
    )
    if expected_public_key is not None:
        verification.checks.append(
            "the exchange's Ed25519 signature over the canonical document, by the pinned key"
        )
    elif trust_embedded_key:
        verification.checks.append(
            "the Ed25519 signature over the canonical document, by the key the document "
            "carries (not pinned)"
        )
        verification.warnings.append(
            f"signer not pinned: the document's own key {verification.public_key} was "
            "trusted (--trust-embedded-key); compare it with the exchange's published key"
        )
    else:
        verification.discrepancies.append(NOT_PINNED)
    if auditor is not None:
        _check_auditor_names(doc, auditor, verification)
    verification.checks.append(
        "every field well-formed; each challenge names the exchange, the "
        "attestation and its chain's pinned block"
    )
    verification.checks.append("the liabilities root document's commitment recomputes")
    verdicts = _recheck_ownership(doc, verification)
    _check_max_age(raw, doc, verification)
    if auditor is not None:
        asyncio.run(_reread(doc, auditor, verification, verdicts))
    stated = {_key(c, w): w.status for c in doc.chains for w in c.wallets}
    for key, verdict in verdicts.items():
        claimed = _attested_status(raw, key)
        own = stated.get(key)  # the wallet's ownership.status in the signed document
        if claimed is not None and own is not None and claimed != own:
            verification.discrepancies.append(
                f"{key}: the report says {_short(claimed)}, the document's ownership.status "
                f"says {own}"
            )
        says = "the report says"
        if claimed is None and own is not None:
            claimed, says = own, "the document's ownership.status says"
        if verdict.reason == NOT_RECHECKED:
            known = {o.value for o in Ownership}
            if claimed is not None and claimed not in known:
                verification.discrepancies.append(
                    f"{key}: the report states ownership status {_short(claimed)}, which is "
                    f"none of {', '.join(sorted(known))}"
                )
            elif claimed is not None:  # recompute with the attested status, and say so
                verdicts[key] = OwnershipCheck(
                    verdict.address,
                    Ownership(claimed),
                    verdict.scheme,
                    "taken from the attestation: not re-checked without a node",
                    epoch=verdict.epoch,
                    age=verdict.age,
                )
            # not a check: listed apart (a warning), never with a check mark
            verification.warnings.append(
                f"{key}: contract-wallet signature not re-checked (no auditor node for this "
                "chain); its attested status was used"
            )
            continue
        if claimed is not None and claimed != verdict.status.value:
            verification.discrepancies.append(
                f"{key}: {says} {_short(claimed)}, the auditor finds "
                f"{verdict.status.value} ({verdict.reason})"
            )
    _epoch_checks(doc, verdicts, verification)
    try:
        _recompute(raw, doc, verdicts, verification)
    except PorError as exc:
        verification.discrepancies.append(f"recomputing reserve and coverage failed: {exc.message}")
    except (ArithmeticError, ValueError, TypeError, LookupError) as exc:
        # the signed document is the exchange's word, not ours: data that the recomputation
        # cannot use is a discrepancy in the document, named by its type, not a crash
        verification.discrepancies.append(
            "recomputing reserve and coverage failed on the document's data "
            f"({type(exc).__name__}: {_short(str(exc))})"
        )
    return verification


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _threshold(settings: Any, key: str) -> Decimal:
    """A coverage threshold from the signed report's settings (default 1), checked."""
    value = settings.get(key, "1") if isinstance(settings, Mapping) else "1"
    try:
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise InvalidOperation
        number = Decimal(str(value)) if not isinstance(value, Decimal) else value
        if not number.is_finite() or not 0 <= number <= 1000:
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        raise InputError(
            "not a coverage threshold (a decimal from 0 to 1000)",
            key=f"report.settings.thresholds.{key}",
            value=_short(value),
        ) from None
    return number


def _attested_status(raw: Mapping[str, Any], key: str) -> str | None:
    report = raw.get("report") or {}
    for wallet in report.get("wallets", []) if isinstance(report, Mapping) else []:
        if isinstance(wallet, Mapping) and f"{wallet.get('chain')}:{wallet.get('address')}" == key:
            status = (
                wallet.get("ownership", {}).get("status")
                if isinstance(wallet.get("ownership"), Mapping)
                else wallet.get("status")
            )
            return str(status) if status is not None else None
    return None


def _recompute(
    raw: Mapping[str, Any],
    doc: Attestation,
    verdicts: Mapping[str, OwnershipCheck],
    verification: Verification,
) -> None:

    if doc.rule_pack.id not in known_packs():
        # never load a file a document names: only this tool's own packs are recomputed
        verification.discrepancies.append(
            f"rule pack {_short(doc.rule_pack.id)} is not one of this tool's packs "
            f"({', '.join(known_packs())}); reserve and coverage not recomputed"
        )
        return
    pack = load_pack(doc.rule_pack.id)
    if pack.version != doc.rule_pack.version:
        verification.discrepancies.append(
            f"rule pack {pack.id}: the document used version {doc.rule_pack.version}, this tool "
            f"has {pack.version}"
        )
        return
    text = doc.reserve.get("statement_toml")
    if not isinstance(text, str):
        verification.discrepancies.append("the reserve statement is not in the document")
        return
    try:
        parsed = safetoml.loads(text, source="attestation reserve.statement_toml")
    except InputError as exc:
        verification.discrepancies.append(
            f"the document's reserve.statement_toml is not TOML ({_short(exc.message)})"
        )
        return
    statement = parse_statement(parsed, "attestation reserve.statement_toml")
    prices = {c: Price(q.value, q.currency, q.source, q.time) for c, q in doc.prices.items()}
    currency = next(iter(prices.values())).currency if prices else "USD"
    report = raw.get("report") if isinstance(raw.get("report"), Mapping) else {}
    settings = report.get("settings", {}) if isinstance(report, Mapping) else {}
    thresholds = settings.get("thresholds", {}) if isinstance(settings, Mapping) else {}
    inputs = Inputs(
        doc.liabilities,
        dict(raw["liabilities"]),
        currency,
        prices,
        statement,
        dict(doc.reserve),
        pack,
        {},
    )
    as_of = datetime.fromisoformat(doc.as_of.replace("Z", "+00:00")).astimezone(UTC).date()
    _, rec = figures(
        inputs,
        _snapshot_doc(doc, verdicts),
        as_of=as_of,
        min_coverage=_threshold(thresholds, "min_coverage"),
        min_combined=_threshold(thresholds, "min_combined"),
    )
    verification.reconciliation = rec
    verification.report = build_report(rec, generated_at=doc.as_of, input_hashes={})
    verification.checks.append(
        f"reserve recomputed under {pack.id} {pack.version} and coverage recomputed from the "
        "attested balances, prices and statement"
    )
    _compare(report, verification.report, verification)


def _compare(
    attested: Any, ours: Mapping[str, Any], verification: Verification, path: str = ""
) -> None:
    """Figures that differ between the attested report and the recomputed one."""
    if not isinstance(attested, Mapping) or not attested:
        return
    for key in ("assets", "combined", "reserve"):
        if key in attested and _figures(attested[key]) != _figures(ours.get(key)):
            verification.discrepancies.append(
                f"report.{key}: the attested figures differ from the recomputed ones"
            )


def _figures(value: Any) -> Any:
    """`value` without the rule pack's provenance text: the pack's ``sources`` and each
    parameter's ``source`` and ``verified_on`` say where a rule comes from, not what it
    computes, so a source added or reworded later does not fail an attestation signed
    before (the pack's id and version are compared on their own)."""
    if not isinstance(value, Mapping):
        return value
    out = dict(value)
    if isinstance(out.get("pack"), Mapping):
        out["pack"] = {k: v for k, v in out["pack"].items() if k != "sources"}
    if isinstance(out.get("parameters"), list):
        out["parameters"] = [
            {k: v for k, v in p.items() if k not in ("source", "verified_on")}
            if isinstance(p, Mapping)
            else p
            for p in out["parameters"]
        ]
    return out


__all__: Sequence[str] = ("Verification", "attest", "attestation_document", "verify")
