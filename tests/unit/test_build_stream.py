"""The out-of-core build (attestations/build_stream.py) against `build_tree`, file by file.

Same secret, same rows: every level, positions.bin, index.bin, root.json and meta.json are
byte-identical, accounts.arrow holds the same ids in the same order. Chunks, order
buckets, row ranges and padding blocks are made small so that every seam is crossed.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.ipc
import pytest

from attestations import build_stream
from attestations.build import Liabilities, build_tree, pad_salt_blocks
from attestations.build_stream import StreamedTree
from attestations.encoding import AssetSpec, derive_pad_salts
from attestations.store import TreeStore
from tests.unit.account_order_helper import in_account_order
from verifier.base.errors import InputError

ASSETS = (AssetSpec("BTC", 8), AssetSpec("ETH", 18), AssetSpec("USDT", 6))


def sample(count: int, seed: int) -> Liabilities:
    rng = np.random.default_rng(seed)
    balances = np.zeros((count, 3, 2), dtype=">u8")
    balances[:, :, 1] = rng.integers(0, 2**62, size=(count, 3), dtype=np.uint64)
    balances[::9, 1, 0] = 3  # some balances above 2**64
    balances[::4, 2] = 0
    ids = pa.array([f"acct-{i}-ü" for i in range(count)], pa.string())
    return Liabilities(assets=ASSETS, account_ids=ids, balances=balances, input_sha256="ab" * 32)


def streamed(data: Liabilities, out, secret, split: int, chunk: int, expected: int) -> None:
    ids, balances = in_account_order(data, 1)
    shell = Liabilities(
        assets=data.assets,
        account_ids=pa.array([], pa.string()),
        balances=np.zeros((0, 3, 2), ">u8"),
        excluded=data.excluded,
        input_sha256=data.input_sha256,
    )
    tree = StreamedTree(
        shell,
        out,
        attestation_id="s",
        as_of="t",
        split=split,
        secret_file=secret,
        expected_accounts=expected,
    )
    for start in range(0, len(ids), chunk):
        tree.add(ids[start : start + chunk], balances[start : start + chunk])
    tree.finish()


def files(out) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name != "accounts.arrow"
    }


def account_ids(out) -> list[str]:
    with pa.OSFile(str(out / "tree" / "accounts.arrow")) as f:
        return pyarrow.ipc.open_file(f).read_all().column("account_id").to_pylist()


@pytest.mark.parametrize(
    ("count", "split", "chunk", "expected"),
    [(1, 1, 1, 1), (2, 1, 1, 2), (37, 3, 5, 37), (300, 2, 64, 1 << 26), (513, 1, 100, 3000)],
)
def test_streamed_build_is_build_tree(tmp_path, monkeypatch, count, split, chunk, expected):
    monkeypatch.setattr(build_stream, "ROW_RANGE", 16)
    secret = tmp_path / "secret.key"
    secret.write_text("5c" * 32 + "\n")
    secret.chmod(0o600)
    data = sample(count, seed=count)
    build_tree(data, tmp_path / "a", attestation_id="s", as_of="t", split=split, secret_file=secret)
    streamed(data, tmp_path / "b", secret, split, chunk, expected)
    a, b = files(tmp_path / "a"), files(tmp_path / "b")
    assert a.keys() == b.keys()
    for name in a:
        assert a[name] == b[name], name
    assert account_ids(tmp_path / "a") == account_ids(tmp_path / "b")
    with TreeStore(tmp_path / "b") as store:  # a proof out of the streamed tree verifies
        proof, _ = store.checked_proof("acct-0-ü")
        assert proof.account_id == "acct-0-ü"


def test_padding_blocks_are_the_stream(monkeypatch):
    whole = derive_pad_salts(b"k" * 32, 1000)
    assert b"".join(pad_salt_blocks(b"k" * 32, 1000, block=64)) == whole
    assert b"".join(pad_salt_blocks(b"k" * 32, 1000, block=5000)) == whole
    assert list(pad_salt_blocks(b"k" * 32, 0)) == []


def test_total_reaching_2_128_is_refused_and_nothing_left(tmp_path):
    data = sample(4, seed=1)
    data.balances[:, 0] = np.array([2**64 - 1, 2**64 - 1], dtype=">u8")
    shell = Liabilities(
        assets=ASSETS, account_ids=pa.array([], pa.string()), balances=np.zeros((0, 3, 2), ">u8")
    )
    tree = StreamedTree(shell, tmp_path / "t", attestation_id="s", as_of="t")
    with pytest.raises(InputError, match="total of BTC reaches 2\\*\\*128"):
        tree.add(data.account_ids, data.balances)
    tree.abandon()
    assert not (tmp_path / "t").exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_meta_counts(tmp_path):
    data = sample(5, seed=2)
    streamed(data, tmp_path / "b", None, 2, 2, 5)
    meta = json.loads((tmp_path / "b" / "tree" / "meta.json").read_text())
    assert (meta["accounts"], meta["leaves"], meta["padding"], meta["height"]) == (5, 10, 6, 4)
