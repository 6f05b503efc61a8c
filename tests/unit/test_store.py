"""The tree store: the bulk proof path is byte-identical to the one-proof path; the
split and the padding keep their invariants; builds are reproducible from the secret."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from attestations.build import Liabilities, build_tree, split_balances, totals
from attestations.encoding import AssetSpec
from attestations.store import TreeStore

ASSETS = (AssetSpec("BTC", 8), AssetSpec("ETH", 18))


def _liabilities(values: list[tuple[str, int, int]]) -> Liabilities:
    balances = np.zeros((len(values), 2, 2), dtype=">u8")
    for row, (_, btc, eth) in enumerate(values):
        for a, v in enumerate((btc, eth)):
            balances[row, a, 0] = v >> 64
            balances[row, a, 1] = v & (2**64 - 1)
    return Liabilities(
        assets=ASSETS,
        account_ids=pa.array([v[0] for v in values], type=pa.string()),
        balances=balances,
    )


@pytest.mark.parametrize("split", [1, 3])
def test_bulk_proofs_equal_single_proofs(tmp_path: Path, split: int) -> None:
    rows = [(f"user-{i}", i * 1000, (i << 70) + 7) for i in range(37)]
    build_tree(_liabilities(rows), tmp_path / "t", attestation_id="a", as_of="t", split=split)
    with TreeStore(tmp_path / "t") as store:
        bulk = store.proof_texts(0, len(rows))
        # bulk proofs come in the tree's row order (accounts by account hash)
        order = store.account_ids().to_pylist()
        single = [(a, json.dumps(store.proof(a).to_json(), separators=(",", ":"))) for a in order]
    assert sorted(order) == sorted(a for a, _, _ in rows)
    assert bulk == single


def test_split_parts_add_up_and_are_not_trivial() -> None:
    values = np.zeros((50, 2, 2), dtype=">u8")
    values[:, 0, 1] = np.arange(50) * 123_456_789
    values[:, 1, 0] = 5  # 5 * 2**64 + lo
    values[:, 1, 1] = 99
    parts = split_balances(values, 4, seed=12345)
    assert parts.shape == (200, 2, 2)
    assert totals(parts) == totals(values)
    per_account = parts.reshape(50, 4, 2, 2)
    for row in range(50):
        for a in range(2):
            whole = (int(values[row, a, 0]) << 64) | int(values[row, a, 1])
            pieces = [
                (int(per_account[row, p, a, 0]) << 64) | int(per_account[row, p, a, 1])
                for p in range(4)
            ]
            assert sum(pieces) == whole
            if whole > 10**6:
                assert max(pieces) < whole  # actually split, not all in one part


def test_build_is_reproducible_from_the_secret(tmp_path: Path) -> None:
    rows = [(f"c{i}", i, i * 2) for i in range(20)]
    secret = tmp_path / "master.key"
    first = build_tree(
        _liabilities(rows), tmp_path / "a", attestation_id="x", as_of="t", secret_file=secret
    )
    assert secret.stat().st_mode & 0o777 == 0o600
    second = build_tree(
        _liabilities(rows), tmp_path / "b", attestation_id="x", as_of="t", secret_file=secret
    )
    third = build_tree(_liabilities(rows), tmp_path / "c", attestation_id="x", as_of="t")
    assert first.root == second.root
    assert third.root.commitment != first.root.commitment  # a new secret, new salts
    for name in ("level-00.bin", "positions.bin", "index.bin"):
        assert (tmp_path / "a/tree" / name).read_bytes() == (
            tmp_path / "b/tree" / name
        ).read_bytes()


def test_root_json_holds_no_secret(tmp_path: Path) -> None:
    rows = [(f"c{i}", i, i) for i in range(5)]
    build_tree(_liabilities(rows), tmp_path / "t", attestation_id="x", as_of="t")
    secret = (tmp_path / "t/secret.key").read_text().strip()
    public = (tmp_path / "t/root.json").read_text()
    assert secret not in public
    with TreeStore(tmp_path / "t") as store:
        salt = store.proof("c1").leaves[0].salt.hex()
    assert salt not in public
    assert (tmp_path / "t/secret.key").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "t").stat().st_mode & 0o777 == 0o700


def test_parallel_build_equals_serial_build(tmp_path: Path) -> None:
    # above the pool threshold (16384 leaves) the build forks workers over subtrees
    rows = [(f"acct-{i}", i * 3, i * 5) for i in range(20_000)]
    secret = tmp_path / "s.key"
    serial = build_tree(
        _liabilities(rows),
        tmp_path / "s",
        attestation_id="p",
        as_of="t",
        secret_file=secret,
        workers=1,
    )
    parallel = build_tree(
        _liabilities(rows),
        tmp_path / "p",
        attestation_id="p",
        as_of="t",
        secret_file=secret,
        workers=2,
    )
    assert serial.root == parallel.root
    for k in range(serial.root.height + 1):
        name = f"level-{k:02d}.bin"
        assert (tmp_path / "s/tree" / name).read_bytes() == (
            tmp_path / "p/tree" / name
        ).read_bytes()
