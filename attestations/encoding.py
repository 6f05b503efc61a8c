"""The byte-level rules of `por-mst-v1` (docs/spec/por-mst-v1.md, normative), one function per rule.

Pure: no I/O. Everything that hashes a leaf, a node or the commitment goes through here,
so the builder, the verifier and the auditor cannot disagree about the encoding.

Invariants:
  1. Integers are unsigned big-endian; a balance or sum component is 16 bytes, so every
     component is ``0 <= x < 2**128`` (a typed error otherwise, never an ``assert``).
  2. Domain separation by the first byte: 0x00 leaf, 0x01 node, 0x02 padding leaf,
     0x03 commitment, 0x04 account hash. A node can never verify as a leaf.
  3. Assets are sorted by code (ASCII order), unique, codes ``[A-Z0-9._-]{1,16}``,
     decimals 0..36, at most 255 of them.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from verifier.base.errors import InvalidProof, SumOverflow

FORMAT = "por-mst-v1"
HASH_LEN = 32
SALT_LEN = 32
SUM_LEN = 16
MAX_SUM = 2**128
MAX_ASSETS = 255
MAX_DECIMALS = 36
MAX_HEIGHT = 64  # leaf indices are 64-bit here; u8 allows 255 but 2**64 leaves is beyond reach

TAG_LEAF = b"\x00"
TAG_NODE = b"\x01"
TAG_PAD = b"\x02"
TAG_COMMIT = b"\x03"
TAG_ACCOUNT = b"\x04"

ASSET_CODE_RE = re.compile(r"[A-Z0-9._-]{1,16}")


@dataclass(frozen=True, slots=True)
class AssetSpec:
    """One asset of the tree: its code and its number of decimals."""

    code: str
    """Ticker-like code, ``[A-Z0-9._-]{1,16}``; the tree orders assets by it (ASCII)."""
    decimals: int
    """Base units per whole unit are ``10**decimals`` (BTC 8, ETH 18, USDT on Ethereum 6)."""

    def __post_init__(self) -> None:
        if not isinstance(self.code, str) or not ASSET_CODE_RE.fullmatch(self.code):
            raise InvalidProof("assets", f"asset code {self.code!r} is not [A-Z0-9._-]{{1,16}}")
        if (
            not isinstance(self.decimals, int)
            or isinstance(self.decimals, bool)
            or not 0 <= self.decimals <= MAX_DECIMALS
        ):
            raise InvalidProof(
                "assets", f"asset {self.code}: decimals {self.decimals!r} not in 0..36"
            )


def check_assets(assets: Sequence[AssetSpec]) -> tuple[AssetSpec, ...]:
    """Check the asset list rules (sorted, unique, 1..255 entries) and return it as a tuple."""
    if not 1 <= len(assets) <= MAX_ASSETS:
        raise InvalidProof("assets", f"{len(assets)} assets; the format allows 1..255")
    codes = [a.code for a in assets]
    for before, after in itertools.pairwise(codes):
        if before == after:
            raise InvalidProof("assets", f"asset {after} listed twice")
        if before.encode() > after.encode():
            raise InvalidProof("assets", f"assets not sorted by code: {before} before {after}")
    return tuple(assets)


def enc(values: Sequence[int]) -> bytes:
    """`enc(v)`: each component as 16 unsigned big-endian bytes; raises on a value out of range."""
    out = bytearray()
    for value in values:
        if value < 0:
            raise SumOverflow(f"negative component {value}")
        if value >= MAX_SUM:
            raise SumOverflow(f"component {value} reaches 2**128")
        out += value.to_bytes(SUM_LEN, "big")
    return bytes(out)


def dec(data: bytes, count: int) -> tuple[int, ...]:
    """Inverse of `enc` for `count` components."""
    if len(data) != SUM_LEN * count:
        raise InvalidProof("encoding", f"{len(data)} bytes for {count} sums")
    return tuple(int.from_bytes(data[i * SUM_LEN : (i + 1) * SUM_LEN], "big") for i in range(count))


def account_hash(account_id: str) -> bytes:
    """`H(0x04 || utf8(account_id))`."""
    return hashlib.sha256(TAG_ACCOUNT + account_id.encode("utf-8")).digest()


def leaf_hash(salt: bytes, acct_hash: bytes, balances: Sequence[int]) -> bytes:
    """`H(0x00 || salt || account_hash || enc(v))`."""
    if len(salt) != SALT_LEN:
        raise InvalidProof("salt", f"salt has {len(salt)} bytes, not 32")
    return hashlib.sha256(TAG_LEAF + salt + acct_hash + enc(balances)).digest()


def pad_hash(pad_salt: bytes) -> bytes:
    """`H(0x02 || pad_salt)`; a padding leaf's sums are all zero."""
    if len(pad_salt) != SALT_LEN:
        raise InvalidProof("salt", f"padding salt has {len(pad_salt)} bytes, not 32")
    return hashlib.sha256(TAG_PAD + pad_salt).digest()


def add_sums(left: Sequence[int], right: Sequence[int]) -> tuple[int, ...]:
    """Component-wise sum; any component reaching 2**128 raises `SumOverflow`."""
    out = tuple(a + b for a, b in zip(left, right, strict=True))
    for value in out:
        if value >= MAX_SUM:
            raise SumOverflow(f"node sum {value} reaches 2**128")
    return out


def node_hash(
    left_hash: bytes, left_sums: Sequence[int], right_hash: bytes, right_sums: Sequence[int]
) -> bytes:
    """`H(0x01 || L.hash || enc(L.sums) || R.hash || enc(R.sums))`."""
    return hashlib.sha256(
        TAG_NODE + left_hash + enc(left_sums) + right_hash + enc(right_sums)
    ).digest()


def tree_height(leaf_count: int) -> int:
    """`max(1, ceil(log2(leaf_count)))`: the height of the padded tree."""
    if leaf_count < 1:
        raise ValueError("a tree needs at least one leaf")
    return max(1, (leaf_count - 1).bit_length())


def commitment(
    attestation_id: str,
    assets: Sequence[AssetSpec],
    height: int,
    root_hash: bytes,
    root_sums: Sequence[int],
) -> bytes:
    """The published commitment; binds the id, the asset order and decimals, the height and root."""
    ident = attestation_id.encode("utf-8")
    if len(ident) > 0xFFFF:
        raise InvalidProof("attestation_id", "attestation id longer than 65535 bytes")
    if not 0 <= height <= 0xFF:
        raise InvalidProof("height", f"height {height} does not fit in u8")
    msg = bytearray(TAG_COMMIT)
    msg += struct.pack(">H", len(ident)) + ident
    msg += struct.pack(">B", len(assets))
    for asset in assets:
        code = asset.code.encode("ascii")
        msg += struct.pack(">B", len(code)) + code + struct.pack(">B", asset.decimals)
    msg += struct.pack(">B", height) + root_hash + enc(root_sums)
    return hashlib.sha256(bytes(msg)).digest()


def derive_salt(master_secret: bytes, account_id: str, part: int) -> bytes:
    """Recommended salt: `HMAC-SHA256(master_secret, utf8(account_id) || u32(part))`."""
    return hmac.digest(
        master_secret, account_id.encode("utf-8") + struct.pack(">I", part), "sha256"
    )


def derive_pad_salts(master_secret: bytes, count: int) -> bytes:
    """`count` padding salts of 32 bytes, concatenated, derived from the master secret.

    One SHAKE-256 stream keyed by an HMAC of the secret under a fixed label: reproducible
    from the secret, independent of every account salt, and one call however many pads.
    """
    key = hmac.digest(master_secret, b"por-mst-v1/padding", "sha256")
    return hashlib.shake_256(key).digest(SALT_LEN * count) if count else b""


def derive_seed(master_secret: bytes, label: bytes) -> int:
    """A 256-bit seed for the shuffle or the split, derived from the master secret."""
    return int.from_bytes(hmac.digest(master_secret, b"por-mst-v1/" + label, "sha256"), "big")
