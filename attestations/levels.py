"""Vectorised `por-mst-v1` levels: many nodes at once as fixed-width records.

Pure: numpy arrays in, numpy arrays out. A *record* is one node as it is stored on disk and
fed to the parent's hash: ``hash (32 bytes) || enc(sums)`` — ``32 + 16*A`` bytes, sums as
big-endian unsigned 128-bit integers, so a pair of sibling records laid side by side is
exactly the node message after its 0x01 tag.

Invariants:
  1. A level has an even number of records except the root level (one record).
  2. Parent sums are computed with an explicit carry; a component reaching 2**128 raises
     `SumOverflow` naming the parent's position — never a silent wrap.
  3. Hashing is one batch call per level or leaf batch (attestations/hashing.py: native
     libcrypto on both cores when built, else one `hashlib.sha256` call per node); the
     leaves of a range of positions are gathered from the account columns in the same
     native pass (`leaf_level`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from attestations.encoding import HASH_LEN, SUM_LEN, TAG_LEAF, TAG_NODE, TAG_PAD
from attestations.hashing import hash_rows_into, native_leaf_level, native_node_level
from verifier.base.errors import SumOverflow

U8 = npt.NDArray[np.uint8]
U64 = npt.NDArray[np.uint64]


def record_width(asset_count: int) -> int:
    """Bytes per stored node: its hash and one 16-byte sum per asset."""
    return HASH_LEN + SUM_LEN * asset_count


def split_sums(records: U8, asset_count: int) -> tuple[U64, U64]:
    """The (hi, lo) 64-bit halves of every sum component, native byte order, shape (m, A)."""
    sums = np.ascontiguousarray(records[:, HASH_LEN:]).view(">u8").reshape(-1, asset_count, 2)
    return sums[:, :, 0].astype(np.uint64), sums[:, :, 1].astype(np.uint64)


def join_sums(hi: U64, lo: U64) -> U8:
    """Big-endian enc() of (hi, lo) halves, shape (m, 16*A)."""
    out = np.empty((hi.shape[0], hi.shape[1], 2), dtype=">u8")
    out[:, :, 0] = hi
    out[:, :, 1] = lo
    return out.view(np.uint8).reshape(hi.shape[0], -1)


def add128(a_hi: U64, a_lo: U64, b_hi: U64, b_lo: U64) -> tuple[U64, U64, npt.NDArray[np.bool_]]:
    """128-bit unsigned addition on halves; returns (hi, lo, overflowed)."""
    lo = a_lo + b_lo
    carry = (lo < a_lo).astype(np.uint64)
    hi1 = a_hi + b_hi
    over1 = hi1 < a_hi
    hi = hi1 + carry
    over2 = hi < hi1
    return hi, lo, over1 | over2


def parent_level(records: U8, asset_count: int, first_parent: int = 0) -> U8:
    """The level above `records` (an even count of sibling pairs).

    `first_parent` is the global position of the first parent, only for error messages.
    """
    count, width = records.shape
    if count % 2:
        raise ValueError("a level must hold sibling pairs")
    native = native_node_level(records, asset_count)
    if native is not None:  # the same bytes in one pass: hash and 128-bit sums in C
        parents, bad = native
        if bad >= 0:
            raise SumOverflow(f"node {first_parent + bad}: a sum component reaches 2**128")
        return parents
    hi, lo = split_sums(records, asset_count)
    p_hi, p_lo, over = add128(hi[0::2], lo[0::2], hi[1::2], lo[1::2])
    if over.any():
        bad = int(np.flatnonzero(over.any(axis=1))[0])
        raise SumOverflow(f"node {first_parent + bad}: a sum component reaches 2**128")
    out = np.empty((count // 2, width), dtype=np.uint8)
    # a sibling pair laid side by side is the node message after its tag
    hash_rows_into(out, TAG_NODE, [records.reshape(count // 2, 2 * width)])
    out[:, HASH_LEN:] = join_sums(p_hi, p_lo)
    return out


def leaf_records(salts: U8, account_hashes: U8, encoded: U8) -> U8:
    """Records of account leaves: `H(0x00 || salt || account_hash || enc(v))` and `v`."""
    count = salts.shape[0]
    out = np.empty((count, HASH_LEN + encoded.shape[1]), dtype=np.uint8)
    hash_rows_into(out, TAG_LEAF, [salts, account_hashes, encoded])
    out[:, HASH_LEN:] = encoded
    return out


def pad_records(pad_salts: U8, asset_count: int) -> U8:
    """Records of padding leaves: `H(0x02 || pad_salt)` and zero sums."""
    count = pad_salts.shape[0]
    out = np.zeros((count, record_width(asset_count)), dtype=np.uint8)
    hash_rows_into(out, TAG_PAD, [pad_salts])
    return out


def leaf_level(
    index: npt.NDArray[np.int64],
    salts: U8,
    account_hashes: U8,
    encoded: U8,
    pad_salts: U8,
    parts: int,
    asset_count: int,
) -> U8:
    """Records of the leaves at consecutive positions, `index[k]` naming the leaf at the k-th.

    ``j = index[k] < len(salts)``: an account leaf, with salt ``salts[j]``, account hash
    ``account_hashes[j // parts]`` and sums ``encoded[j]`` (enc(v), 16 bytes per asset);
    otherwise the padding leaf with salt ``pad_salts[j - len(salts)]``. The extension gathers
    and hashes in one pass (no gathered copies); the numpy gathers below are its reference.
    """
    salts = np.ascontiguousarray(salts, dtype=np.uint8).reshape(-1, HASH_LEN)
    account_hashes = np.ascontiguousarray(account_hashes, dtype=np.uint8).reshape(-1, HASH_LEN)
    encoded = np.ascontiguousarray(encoded).view(np.uint8).reshape(len(salts), -1)
    pad_salts = np.ascontiguousarray(pad_salts, dtype=np.uint8).reshape(-1, HASH_LEN)
    native = native_leaf_level(index, salts, account_hashes, encoded, pad_salts, parts, asset_count)
    if native is not None:
        return native
    real = len(salts)
    if len(index) and (int(index.min()) < 0 or int(index.max()) >= real + len(pad_salts)):
        raise ValueError("a leaf index is out of range")
    is_real = index < real
    real_at, pad_at = np.flatnonzero(is_real), np.flatnonzero(~is_real)
    ids = index[real_at]
    out = np.empty((len(index), record_width(asset_count)), dtype=np.uint8)
    out[real_at] = leaf_records(salts[ids], account_hashes[ids // parts], encoded[ids])
    if len(pad_at):
        out[pad_at] = pad_records(pad_salts[index[pad_at] - real], asset_count)
    return out
