"""`por attest` (exchange): an outcome of the pipeline → the signed attestation directory.

Where it sits: after reconciliation (verifier/jobs/pipeline.py). `attestation_document` turns
an outcome into the unsigned `por-attestation-v1` document (attestations/document/), `attest`
signs it with the exchange's key and writes it; `por verify` checks such a document
independently (verifier/jobs/verify.py).

Nothing lost, nothing half-written: `attest` builds the whole new attestation directory
(attestation.json, root.json, report.json, report.html) under a temporary sibling and
swaps it into place at the end (`install_directory`), so a failure midway — a full disk,
a signal — leaves the previous attestation directory exactly as it was. Its output may
neither hold nor lie inside any input the config names (`attest_inputs`).
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import errno
import json
import os
import secrets
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from attestations.document.files import write_attestation
from attestations.document.model import ChainEntry, PriceQuote, RulePackRef, WalletEntry
from attestations.document.sign import build_attestation, sign_attestation
from chains.base import OwnershipCheck
from verifier.base import safejson
from verifier.base.atomic import private_dir
from verifier.base.errors import PorError, StoreError, UsageError
from verifier.inputs.config_values import PorConfig
from verifier.inputs.keys import load_signing_key
from verifier.jobs.pipeline import Inputs, Outcome
from verifier.reserve.pack_file import known_packs


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
        # made with stop signals held: a SIGTERM cannot land between creating and knowing it
        tmp = private_dir(target.parent, f".{target.name}.tmp-")
    except OSError as exc:
        raise StoreError(
            f"{out_dir}: cannot write the attestation ({exc.strerror}); nothing changed"
        ) from None
    try:
        _public_mode(tmp)
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


def _public_mode(directory: Path) -> None:
    """Give `directory` (made 0700) the mode a plain mkdir would have, 0777 & ~umask: the
    attestation is public. The umask is read from a probe directory, not os.umask, which
    would change it for every thread meanwhile."""
    probe = directory / ".mode"
    probe.mkdir()
    mode = probe.stat().st_mode & 0o777
    probe.rmdir()
    os.chmod(directory, mode)


# not verifier.base.atomic.write_atomic: the files go into a fresh temporary directory that
# is swapped in whole (install_directory), so each file needs no rename of its own
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


__all__: Sequence[str] = (
    "ATTESTATION_FILES",
    "attest",
    "attest_inputs",
    "attestation_document",
    "check_attestation_dir",
    "install_directory",
    "write_attestation_dir",
)
