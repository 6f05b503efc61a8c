"""The leaf order of docs/spec/por-mst-v1.md §5.1: every leaf by its salt, ties by the full key.

`attestations.build.leaf_order` sorts on the salts' first 8 bytes and orders the runs of
equal prefixes by the spec's full key; here it is held to the spec's definition written
as one Python sort, with salts drawn to collide (equal prefixes, and whole equal salts),
and a built tree is checked position by position against its own salts.
"""

from __future__ import annotations

import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from attestations.build import Liabilities, build_tree, leaf_order
from attestations.encoding import SALT_LEN, AssetSpec, derive_pad_salts
from attestations.store import TreeStore
from verifier.inputs.liabilities import read_liabilities


def spec_order(salts, pad_salts, hashes, parts) -> list[int]:
    real = len(salts)

    def key(leaf):
        if leaf < real:
            return (bytes(salts[leaf]), 0, bytes(hashes[leaf // parts]), leaf % parts)
        return (bytes(pad_salts[leaf - real]), 1, b"", leaf - real)

    return sorted(range(real + len(pad_salts)), key=key)


# few distinct byte values: prefixes (and whole salts) collide often
salt_bytes = st.binary(min_size=SALT_LEN, max_size=SALT_LEN).map(
    lambda b: bytes(x % 3 for x in b[:10]) + b[10:]
) | st.sampled_from([bytes(32), bytes([1]) * 32, bytes(8) + bytes([5]) * 24])


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 3).flatmap(
        lambda parts: st.tuples(
            st.just(parts),
            st.integers(1, 6).flatmap(
                lambda n: st.lists(salt_bytes, min_size=n * parts, max_size=n * parts)
            ),
            st.lists(salt_bytes, max_size=8),
            st.lists(st.sampled_from([bytes(32), bytes([9]) * 32]), min_size=6, max_size=6),
        )
    )
)
def test_leaf_order_is_the_spec_order(case):
    parts, salts, pads, account_hashes = case
    count = len(salts) // parts
    as_array = lambda items: np.frombuffer(b"".join(items), np.uint8).reshape(-1, SALT_LEN)  # noqa: E731
    s, p = as_array(salts), as_array(pads) if pads else np.zeros((0, SALT_LEN), np.uint8)
    h = as_array(account_hashes[:count])
    got = leaf_order(s, p, h, parts)
    assert got.dtype == np.int64
    assert got.tolist() == spec_order(s, p, h, parts)


def test_equal_prefixes_by_hand():
    """Three salts sharing 8 bytes, one padding salt equal to an account salt: hand order."""
    prefix = bytes([7]) * 8
    salts = [prefix + bytes([3]) * 24, prefix + bytes([1]) * 24, bytes([9]) * 32]
    pads = [prefix + bytes([1]) * 24]  # equal to leaf 1's whole salt: accounts first
    s = np.frombuffer(b"".join(salts), np.uint8).reshape(-1, 32)
    p = np.frombuffer(b"".join(pads), np.uint8).reshape(-1, 32)
    h = np.zeros((3, 32), np.uint8)
    assert leaf_order(s, p, h, 1).tolist() == [1, 3, 0, 2]


def test_built_tree_places_leaves_by_salt(tmp_path):
    """A real build: position by position, salts (account and padding) never decrease."""
    rows = ["account_id,asset,amount"] + [f"acct-{i},BTC,{i}.5" for i in range(37)]
    (tmp_path / "l.csv").write_text("\n".join(rows) + "\n")
    assets = (AssetSpec("BTC", 8),)
    data: Liabilities = read_liabilities(tmp_path / "l.csv", assets)
    out = tmp_path / "tree"
    build_tree(data, out, attestation_id="order", as_of="2026-12-05T00:00:00Z", split=2, workers=1)
    secret = bytes.fromhex((out / "secret.key").read_text().strip())
    meta = json.loads((out / "tree" / "meta.json").read_text())
    pad_salts = derive_pad_salts(secret, meta["padding"])
    at = [b""] * (1 << meta["height"])
    with TreeStore(out) as store:
        for proof in store.all_proofs():
            for leaf in proof.to_json()["leaves"]:
                at[leaf["index"]] = bytes.fromhex(leaf["salt"])
    perm = np.fromfile(out / "tree" / "positions.bin", dtype="<u8").tolist()
    for position, leaf in enumerate(perm):
        if leaf >= meta["leaves"]:
            n = leaf - meta["leaves"]
            at[position] = pad_salts[32 * n : 32 * n + 32]
    assert all(at) and at == sorted(at)
    assert meta["padding"] == 128 - 74  # height 7 for 74 leaves


def test_input_row_order_changes_nothing(tmp_path):
    """Accounts are numbered by account hash: the same rows in another order (and split 3)
    give byte-identical trees, every private file included, for the same secret."""
    import random

    rows = [f"acct-{i},{a},{i}.{j}" for i in range(50) for j, a in enumerate(["BTC", "ETH"])]
    shuffled = rows[:]
    random.Random(5).shuffle(shuffled)
    assets = (AssetSpec("BTC", 8), AssetSpec("ETH", 18))
    secret = tmp_path / "secret.key"
    secret.write_text("ab" * 32 + "\n")
    secret.chmod(0o600)
    files = []
    for n, lines in enumerate((rows, shuffled)):
        csv = tmp_path / f"in{n}.csv"
        csv.write_text("\n".join(["account_id,asset,amount", *lines]) + "\n")
        out = tmp_path / f"tree{n}"
        data = read_liabilities(csv, assets)
        build_tree(data, out, attestation_id="o", as_of="x", split=3, secret_file=secret)
        files.append(
            {
                p.relative_to(out).as_posix(): p.read_bytes()
                for p in sorted(out.rglob("*"))
                if p.is_file() and p.name != "meta.json"
            }
        )
    assert files[0].keys() == files[1].keys()
    assert files[0] == files[1]
    # and the rows are numbered by account hash: index.bin's rows are 0, 1, 2, ...
    index = np.fromfile(
        tmp_path / "tree0" / "tree" / "index.bin",
        dtype=[("h", "V32"), ("row", "<u8"), ("p", "<u8", (3,))],
    )
    assert index["row"].tolist() == list(range(50))
