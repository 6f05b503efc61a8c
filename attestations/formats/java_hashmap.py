"""The iteration order of a default ``java.util.HashMap`` and Java's ``BigDecimal.toString``.

Where it sits: a pure helper of `attestations/formats/` for the formats whose publishers hash a
JSON object that a Java program serialised from a ``HashMap`` (Bitget and its clones, Bitunix:
`bitget.py`, `bitunix.py`). The JSON key order is then the map's iteration order, and the
verifier must reproduce it exactly or every hash differs.

The rule, as in OpenJDK 8-25's ``java.util.HashMap`` (``putVal``, ``resize``, ``treeifyBin``):

* ``hash(key) = h ^ (h >>> 16)`` with ``h = key.hashCode()`` (``String.hashCode``: 31-polynomial
  over the UTF-16 code units, 32-bit wrap); bucket ``hash & (capacity - 1)``.
* The table starts at 16 buckets, threshold 12; after a put, ``++size > threshold`` doubles it
  (the threshold stays ``0.75 * capacity``).
* A new key is appended at the tail of its bucket's list, so a bucket keeps insertion order;
  a resize splits each list into a "lo" and a "hi" list that both keep their relative order.
* When a put makes a bucket hold 9 or more entries (``binCount >= TREEIFY_THRESHOLD - 1``) and
  the table has fewer than 64 buckets, Java resizes instead of building a tree, so the
  capacity depends on collisions, not only on the size: we simulate the puts one by one.
* Iteration walks the buckets in index order, each list from its head.

Limit (refused, never guessed): with 64 buckets or more, such a bucket becomes a red-black
tree whose root Java moves to the head of the list (``moveRootToFront``), so the order then
depends on the tree's shape. No published asset list comes near it (it needs nine keys
sharing the low six or more bits of their spread hash); a file that needs it raises
`InvalidProof` with check ``"key order"``.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from verifier.base.errors import InvalidProof

INITIAL_CAPACITY = 16
TREEIFY_THRESHOLD = 8
MIN_TREEIFY_CAPACITY = 64


def string_hash(text: str) -> int:
    """Java's ``String.hashCode``: ``s[0]*31^(n-1) + … + s[n-1]`` over UTF-16 units, mod 2**32."""
    data = text.encode("utf-16-be", "surrogatepass")
    h = 0
    for i in range(0, len(data), 2):
        h = (31 * h + (data[i] << 8 | data[i + 1])) & 0xFFFFFFFF
    return h


def spread(h: int) -> int:
    """``HashMap.hash``: the high half folded into the low half (``h ^ (h >>> 16)``)."""
    return h ^ (h >> 16)


def _resize(table: list[list[tuple[int, str]]]) -> list[list[tuple[int, str]]]:
    """Double the table; each bucket splits into lo (same index) and hi (index + old capacity),
    both in the bucket's order (Java's ``loHead``/``hiHead`` lists)."""
    old = len(table)
    grown: list[list[tuple[int, str]]] = [[] for _ in range(2 * old)]
    for index, bucket in enumerate(table):
        for node in bucket:
            grown[index + old if node[0] & old else index].append(node)
    return grown


def iteration_order(keys: Iterable[str]) -> list[str]:
    """The order in which a ``new HashMap<>()`` that had `keys` put in this order iterates them.

    A key put again keeps its place (a ``put`` of an existing key only replaces the value).

    Raises
    ------
    InvalidProof
        ``"key order"``: the puts would turn a bucket into a tree (the documented limit).
    """
    table: list[list[tuple[int, str]]] = [[] for _ in range(INITIAL_CAPACITY)]
    present: set[str] = set()
    for key in keys:
        if key in present:
            continue
        present.add(key)
        h = spread(string_hash(key))
        bucket = table[h & (len(table) - 1)]
        bucket.append((h, key))
        if len(bucket) > TREEIFY_THRESHOLD:  # the put walked 8 or more nodes: treeifyBin
            if len(table) >= MIN_TREEIFY_CAPACITY:
                raise InvalidProof(
                    "key order",
                    f"{len(bucket)} asset keys share one Java HashMap bucket of {len(table)}; "
                    "Java then keeps them in a red-black tree, whose iteration order this "
                    "verifier does not reproduce",
                )
            table = _resize(table)  # treeifyBin on a small table resizes instead
        if len(present) > len(table) * 3 // 4:
            table = _resize(table)
    return [key for bucket in table for _, key in bucket]


def big_decimal_string(value: Decimal) -> str:
    """Java's ``BigDecimal.toString()`` of a value with the same unscaled value and scale.

    Python's ``str(Decimal)`` follows the same rule (the General Decimal Arithmetic
    specification Java's method implements): plain while the exponent is <= 0 and the adjusted
    exponent is >= -6, otherwise scientific (``1.000000000E-7``, ``1E+3``). Java has no
    negative zero, so its sign is dropped.
    """
    if value.is_zero():
        value = abs(value)
    return str(value)
