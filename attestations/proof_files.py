"""Every customer's inclusion proof as a file: `por liabilities proof --all --out-dir D`.

Reads a built tree (store.py), cuts and checks each account's proof against the tree's
own root, and writes one file per account plus `manifest.csv` (account id as UTF-8 hex,
file name) into a private temporary directory that is renamed into place only when every
proof was written: D holds all the proofs or is left as it was. Every file is mode 0600 —
a proof holds that customer's salt.

A file name is the account id when it is a safe name; any other id (a path separator, a
control character, a leading "account-") gets `account-<32 hex digits of its hash>.json`,
so no account id can choose where its proof lands.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from attestations.build import default_workers
from attestations.encoding import account_hash
from attestations.store import TreeStore
from attestations.workers import forked_pool
from verifier.base.errors import InputError
from verifier.base.outdir import guard_output

SAFE_NAME = re.compile(r"[A-Za-z0-9._@+-]{1,200}")
"""An account id that may be its own proof's file name (with .json)."""
BATCH = 2048
"""Accounts per unit of work (one worker call)."""
FORK_ABOVE = 50_000
"""Accounts below which forking workers costs more than it saves."""

_BULK: dict[str, Any] = {}
"""The open store and the temporary directory, set before the workers fork (they inherit
them; nothing is pickled but the batch bounds)."""


def proof_filename(account_id: str) -> str:
    """The file name of `account_id`'s proof in the output directory."""
    if (
        SAFE_NAME.fullmatch(account_id)
        and account_id not in {".", ".."}
        and not account_id.startswith("account-")
    ):
        return f"{account_id}.json"
    return f"account-{account_hash(account_id).hex()[:32]}.json"


def _write_proof_batch(bounds: tuple[int, int]) -> list[str]:
    """Write the proofs of account rows [a, b) (in a forked worker); return manifest lines."""
    store, tmp = _BULK["store"], _BULK["tmp"]
    lines = []
    for account, text in store.checked_proof_texts(*bounds):
        name = proof_filename(account)
        fd = os.open(tmp / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        lines.append(f"{account.encode().hex()},{name}")
    return lines


def write_all_proofs(
    tree_dir: Path,
    out_dir: Path,
    secret_file: Path | None,
    progress: Callable[[str, int, int], None],
) -> int:
    """Write every account's proof of tree `tree_dir` into `out_dir`; return their count.

    `out_dir` must not exist or be empty, and may not hold the tree or the secret
    (`guard_output`). A proof that does not verify is an `InvalidProof` and nothing is left.
    """
    guard_output(
        out_dir,
        [("tree directory", tree_dir), ("secret file", secret_file)],
        flag="--out-dir",
    )
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise InputError("output directory exists and is not empty", file=str(out_dir))
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        os.chmod(tmp, 0o700)
        with TreeStore(tree_dir, secret_file=secret_file) as store:
            count = _write_into(store, tmp, progress)
        if out_dir.exists():
            out_dir.rmdir()
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        _BULK.clear()
    return count


def _write_into(store: TreeStore, tmp: Path, progress: Callable[[str, int, int], None]) -> int:
    """Write the proofs and manifest.csv into `tmp`, in forked workers for a large tree."""
    total = store.meta.accounts
    store.proof_texts(0, 0)  # map the files and read the secret before forking
    _BULK.update(store=store, tmp=tmp)
    batches = [(a, min(a + BATCH, total)) for a in range(0, total, BATCH)]
    manifest = ["account_id_utf8_hex,file"]
    count = 0
    workers = default_workers()
    if workers > 1 and total > FORK_ABOVE:
        with forked_pool(workers) as pool:  # attestations/workers.py: signals, no hang
            for lines in pool.imap(_write_proof_batch, batches):
                manifest += lines
                count += len(lines)
                progress("write proofs", count, total)
    else:
        for batch in batches:
            lines = _write_proof_batch(batch)
            manifest += lines
            count += len(lines)
            progress("write proofs", count, total)
    (tmp / "manifest.csv").write_text("\n".join(manifest) + "\n")
    os.chmod(tmp / "manifest.csv", 0o600)
    return count
