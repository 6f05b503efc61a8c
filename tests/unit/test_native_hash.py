"""The native batch SHA-256 (attestations/_sha256batch.c) gives hashlib's bytes, and refuses
every buffer whose length does not match what it was told, without crashing.

Compared against hashlib/hmac directly (the definition), and against attestations/hashing.py's
pure-Python path (the fallback) on random batches. Skipped where the extension is not built
(no compiler or libssl-dev); the Python path is tested everywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attestations import hashing
from attestations.encoding import TAG_ACCOUNT, account_hash, derive_salt, leaf_hash, node_hash

try:
    from attestations import _sha256batch as native  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - the build had no compiler or libssl-dev
    native = None

needs_native = pytest.mark.skipif(native is None, reason="native extension not built")


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _offsets(ids: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.array([len(x) for x in ids], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    data = np.frombuffer(b"".join(ids), dtype=np.uint8)
    return offsets, data


@pytest.fixture(params=["native", "python"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test once per backend: the extension (where built) and hashlib."""
    if request.param == "native":
        if native is None:
            pytest.skip("native extension not built")
        monkeypatch.setattr(hashing, "NATIVE", native)
    else:
        monkeypatch.setattr(hashing, "NATIVE", None)
    return str(request.param)


# ----------------------------------------------------------------------------- by hand


def test_rows_are_the_concatenation_hashed(backend: str) -> None:
    a = np.frombuffer(b"abcdef", np.uint8).reshape(2, 3)
    b = np.frombuffer(b"XY", np.uint8).reshape(2, 1)
    out = hashing.hash_rows(b"\x01", [a, b])
    assert out[0].tobytes() == _sha(b"\x01abcX")
    assert out[1].tobytes() == _sha(b"\x01defY")


def test_digest_lands_in_the_first_32_bytes_of_a_record(backend: str) -> None:
    records = np.full((3, 48), 7, dtype=np.uint8)
    salts = np.arange(96, dtype=np.uint8).reshape(3, 32)
    hashing.hash_rows_into(records, b"\x02", [salts])
    for i in range(3):
        assert records[i, :32].tobytes() == _sha(b"\x02" + salts[i].tobytes())
        assert records[i, 32:].tobytes() == b"\x07" * 16  # the sums are left alone


def test_leaf_and_node_match_the_encoding_module(backend: str) -> None:
    from attestations.levels import leaf_records, parent_level

    salt, acct = bytes(range(32)), account_hash("alice")
    enc_v = (5).to_bytes(16, "big") + (2**126).to_bytes(16, "big")
    leaves = leaf_records(
        np.frombuffer(salt * 2, np.uint8).reshape(2, 32),
        np.frombuffer(acct * 2, np.uint8).reshape(2, 32),
        np.frombuffer(enc_v * 2, np.uint8).reshape(2, 32),
    )
    assert leaves[0, :32].tobytes() == leaf_hash(salt, acct, (5, 2**126))
    parent = parent_level(leaves[:, :].copy(), 2)
    expected = node_hash(
        leaves[0, :32].tobytes(), (5, 2**126), leaves[1, :32].tobytes(), (5, 2**126)
    )
    assert parent[0, :32].tobytes() == expected


def test_account_hashes_and_salts_match_the_encoding_module(backend: str) -> None:
    ids = ["alice", "", "ü" * 100, "bob"]
    offsets, data = _offsets([x.encode() for x in ids])
    hashes = hashing.hash_varlen(TAG_ACCOUNT, offsets, data)
    assert [h.tobytes() for h in hashes] == [account_hash(x) for x in ids]
    secret = bytes(range(32))
    salts = hashing.hmac_varlen(secret, offsets, data, 3)
    assert [s.tobytes() for s in salts] == [
        derive_salt(secret, x, p) for x in ids for p in range(3)
    ]


def test_hmac_with_a_key_longer_than_a_block(backend: str) -> None:
    key = b"k" * 100  # hashed first (RFC 2104)
    offsets, data = _offsets([b"id"])
    got = hashing.hmac_varlen(key, offsets, data, 1)[0].tobytes()
    assert got == hmac.digest(key, b"id" + struct.pack(">I", 0), "sha256")


def test_empty_batches(backend: str) -> None:
    assert hashing.hash_rows(b"\x00", [np.zeros((0, 32), np.uint8)]).shape == (0, 32)
    empty = np.zeros(1, np.int64)
    assert hashing.hash_varlen(b"\x04", empty, np.zeros(0, np.uint8)).shape == (0, 32)
    assert hashing.hmac_varlen(b"s" * 32, empty, np.zeros(0, np.uint8), 2).shape == (0, 32)


def test_huge_ids(backend: str) -> None:
    ids = [b"x" * 1_000_000, b"y" * 65_537]
    offsets, data = _offsets(ids)
    hashes = hashing.hash_varlen(b"\x04", offsets, data)
    assert [h.tobytes() for h in hashes] == [_sha(b"\x04" + x) for x in ids]


# ----------------------------------------------------------------------------- properties


@needs_native
@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(0, 40),
    widths=st.lists(st.integers(0, 200), min_size=1, max_size=4),
    prefix=st.binary(max_size=64),
    seed=st.integers(0, 2**32 - 1),
    threads=st.sampled_from([1, 2, 3]),
)
def test_native_rows_equal_python_rows(
    rows: int, widths: list[int], prefix: bytes, seed: int, threads: int
) -> None:
    rng = np.random.default_rng(seed)
    columns = [rng.integers(0, 256, (rows, w), dtype=np.uint8) for w in widths]
    want = np.zeros((rows, 32), np.uint8)
    for i in range(rows):
        message = prefix + b"".join(c[i].tobytes() for c in columns)
        want[i] = np.frombuffer(_sha(message), np.uint8)
    got = np.zeros((rows, 32), np.uint8)
    native.hash_rows(got, 32, rows, prefix, tuple(columns), tuple(widths))
    assert np.array_equal(got, want)


@needs_native
@settings(max_examples=60, deadline=None)
@given(
    ids=st.lists(st.binary(max_size=300), max_size=30),
    key=st.binary(min_size=0, max_size=130),
    parts=st.integers(1, 4),
)
def test_native_varlen_equal_hashlib(ids: list[bytes], key: bytes, parts: int) -> None:
    offsets, data = _offsets(ids)
    out = bytearray(32 * len(ids))
    native.hash_varlen(out, b"\x04", offsets, data)
    assert bytes(out) == b"".join(_sha(b"\x04" + x) for x in ids)
    salts = bytearray(32 * len(ids) * parts)
    native.hmac_varlen(salts, key, offsets, data, parts)
    want = b"".join(
        hmac.digest(key, x + struct.pack(">I", p), "sha256") for x in ids for p in range(parts)
    )
    assert bytes(salts) == want


@needs_native
def test_threaded_batches_equal_one_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """Slices hashed on two threads land where one call would put them."""
    monkeypatch.setattr(hashing, "NATIVE", native)
    rng = np.random.default_rng(7)
    records = rng.integers(0, 256, (20_000, 161), dtype=np.uint8)
    one = hashing.hash_rows(b"\x01", [records], threads=1)
    two = hashing.hash_rows(b"\x01", [records], threads=2)
    assert np.array_equal(one, two)
    ids = [bytes(rng.integers(0, 256, int(n), dtype=np.uint8)) for n in rng.integers(1, 40, 9000)]
    offsets, data = _offsets(ids)
    assert np.array_equal(
        hashing.hmac_varlen(b"k" * 32, offsets, data, 2, threads=1),
        hashing.hmac_varlen(b"k" * 32, offsets, data, 2, threads=2),
    )


@needs_native
def test_two_threads_in_the_native_call_at_once() -> None:
    """Two Python threads inside the extension together (it releases the GIL) each get
    their own, correct digests: no shared state between calls."""
    records = np.zeros((400_000, 64), np.uint8)
    out = [np.empty((400_000, 32), np.uint8) for _ in range(2)]
    inside = threading.Barrier(2, timeout=60)

    def work(i: int) -> None:
        inside.wait()  # both enter together
        native.hash_rows(out[i], 32, 400_000, b"", (records,), (64,))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert np.array_equal(out[0], out[1])
    assert out[0][0].tobytes() == _sha(bytes(64))


# ----------------------------------------------------------------------------- refused


@needs_native
@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((bytearray(64), 32, 2, b"", (b"abc",), (2,)), "buffer 0 holds 3 bytes"),  # short
        ((bytearray(64), 32, 2, b"", (b"abcde",), (2,)), "buffer 0 holds 5 bytes"),  # long
        ((bytearray(63), 32, 2, b"", (b"ab",), (1,)), "out holds 63"),  # out short
        ((bytearray(64), 31, 2, b"", (b"ab",), (1,)), "out_stride >= 32"),
        ((bytearray(64), 32, -1, b"", (), ()), "count must be >= 0"),
        ((bytearray(64), 32, 2, b"x" * 65, (), ()), "prefix longer"),
        ((bytearray(64), 32, 2, b"", (b"ab",), (1, 1)), "same length"),
        ((bytearray(64), 32, 2, b"", (b"ab",), (-1,)), "negative"),
        ((bytearray(64), 32, 2**62, b"", (b"ab",), (2**62,)), "out holds"),  # overflow
        ((bytearray(64), 32, 2, b"", (b"",) * 9, (0,) * 9), "<= 8"),
    ],
)
def test_rows_refuse_lengths_that_do_not_match(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        native.hash_rows(*args)


@needs_native
def test_rows_refuse_read_only_and_strided_buffers() -> None:
    with pytest.raises((BufferError, TypeError)):
        native.hash_rows(b"\x00" * 32, 32, 1, b"", (b"a",), (1,))  # out not writable
    strided = np.zeros((4, 8), np.uint8)[:, ::2]
    with pytest.raises((BufferError, ValueError)):
        native.hash_rows(bytearray(128), 32, 4, b"", (strided,), (4,))


@needs_native
@pytest.mark.parametrize(
    ("offsets", "data", "out", "message"),
    [
        ([0, 5], b"abc", 32, "beyond the 3 bytes"),
        ([0, 3, 2], b"abc", 64, "decrease at entry 2"),
        ([-1, 2], b"abc", 32, "start below 0"),
        ([0, 3], b"abc", 31, "out holds 31"),
        ([0, 3], b"abc", 64, "out holds 64"),
    ],
)
def test_varlen_refuses_bad_offsets(
    offsets: list[int], data: bytes, out: int, message: str
) -> None:
    off = np.array(offsets, np.int64)
    with pytest.raises(ValueError, match=message):
        native.hash_varlen(bytearray(out), b"\x04", off, data)
    with pytest.raises(ValueError):
        native.hmac_varlen(bytearray(out), b"k", off, data, 1)


@needs_native
def test_varlen_refuses_misaligned_offsets_and_bad_parts() -> None:
    with pytest.raises(ValueError, match="8 x"):
        native.hash_varlen(bytearray(32), b"", b"\x00" * 12, b"abc")  # not whole int64s
    with pytest.raises(ValueError, match="8 x"):
        native.hash_varlen(bytearray(0), b"", b"", b"")  # no first offset
    with pytest.raises(ValueError, match="parts"):
        native.hmac_varlen(bytearray(32), b"k", np.array([0, 1], np.int64), b"a", 0)
    # offsets at an odd address are read correctly (memcpy, no aligned loads)
    raw = bytearray(1 + 16)
    raw[1:] = np.array([0, 3], np.int64).tobytes()
    out = bytearray(32)
    native.hash_varlen(out, b"\x04", memoryview(raw)[1:], b"abc")
    assert bytes(out) == _sha(b"\x04abc")


# ----------------------------------------------------------------------------- selection


def test_backend_reports_what_is_in_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hashing, "NATIVE", None)
    assert hashing.backend_name() == "python"
    assert hashing.backend_info()["backend"] == "python"
    if native is not None:
        monkeypatch.setattr(hashing, "NATIVE", native)
        assert hashing.backend_info() == {"backend": "native", "openssl": native.OPENSSL_VERSION}


def test_por_native_0_forces_python(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POR_NATIVE", "0")
    assert hashing._load_native() is None
    monkeypatch.setenv("POR_NATIVE", "1")
    assert hashing._load_native() is native


# ----------------------------------------------------------------------------- bench floor


def test_bench_floor_counts_every_call_of_a_build() -> None:
    """3 accounts (5-byte ids) x 2 assets: height 2, 4 positions, so 3 account hashes, 3 + 3
    HMAC calls, 3 leaves, 1 padding leaf and 3 nodes = 16 calls (by hand)."""
    from verifier.tools.bench import floor_groups, native_floor

    groups = floor_groups({5: 3}, accounts=3, split=1, assets=2)
    assert groups == [
        ("account hash", 3, 6),
        ("salt HMAC inner", 3, 73),
        ("salt HMAC outer", 3, 96),
        ("leaf hash", 3, 97),
        ("padding hash", 1, 33),
        ("node hash", 3, 129),
    ]
    floor = native_floor({5: 3}, accounts=3, split=1, assets=2)
    if native is None:
        assert floor is None
    else:
        assert floor is not None
        assert floor["calls"] == 16


def test_a_pool_thread_pins_its_own_batch_threads() -> None:
    seen: list[int] = []

    def worker() -> None:
        hashing.set_thread_default(1)
        seen.append(hashing._threads(None))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [1]
    assert hashing._threads(None) == hashing.default_threads()  # this thread is unaffected
    assert hashing._threads(3) == 3


# ----------------------------------------------------------------------------- node levels


def _python_parent(records: np.ndarray, assets: int, monkeypatch: pytest.MonkeyPatch) -> object:
    from attestations.levels import parent_level

    with monkeypatch.context() as m:
        m.setattr(hashing, "NATIVE", None)
        try:
            return parent_level(records, assets, first_parent=5)
        except Exception as exc:
            return (type(exc).__name__, str(exc))


@needs_native
@settings(max_examples=60, deadline=None)
@given(
    pairs=st.integers(1, 40),
    assets=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
    big=st.booleans(),
)
def test_native_node_level_equals_python(pairs: int, assets: int, seed: int, big: bool) -> None:
    """Hash and 128-bit sums in one native pass give numpy's bytes, and the same first
    overflowing parent (sums near 2**128 when `big`)."""
    from attestations.levels import parent_level

    rng = np.random.default_rng(seed)
    records = rng.integers(0, 256, (2 * pairs, 32 + 16 * assets), dtype=np.uint8)
    if not big:
        records[:, 32::16] = 0  # top byte of every sum zero: no overflow
    with pytest.MonkeyPatch.context() as m:
        want = _python_parent(records, assets, m)
        m.setattr(hashing, "NATIVE", native)
        try:
            got: object = parent_level(records, assets, first_parent=5)
        except Exception as exc:
            got = (type(exc).__name__, str(exc))
    if isinstance(want, np.ndarray):
        assert isinstance(got, np.ndarray)
        assert np.array_equal(got, want)
    else:
        assert got == want


@needs_native
def test_native_node_level_by_hand() -> None:
    left = bytes(32) + (2**128 - 2).to_bytes(16, "big")
    right = b"\x11" * 32 + (1).to_bytes(16, "big")
    out = bytearray(48)
    assert native.node_level(out, left + right, 1, 1) == -1
    assert bytes(out[:32]) == _sha(b"\x01" + left + right)
    assert bytes(out[32:]) == (2**128 - 1).to_bytes(16, "big")
    right = b"\x11" * 32 + (2).to_bytes(16, "big")  # reaches 2**128
    assert native.node_level(out, left + right, 1, 1) == 0


@needs_native
def test_native_node_level_refuses_bad_lengths() -> None:
    with pytest.raises(ValueError, match="records hold"):
        native.node_level(bytearray(48), bytes(95), 1, 1)
    with pytest.raises(ValueError, match="out holds"):
        native.node_level(bytearray(47), bytes(96), 1, 1)
    with pytest.raises(ValueError, match=r"assets 0\.\.255"):
        native.node_level(bytearray(48), bytes(96), 1, 256)
    with pytest.raises(ValueError, match="records hold"):
        native.node_level(bytearray(48), bytes(96), 2**60, 1)
