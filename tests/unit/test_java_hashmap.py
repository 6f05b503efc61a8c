"""attestations.formats.java_hashmap: Java's HashMap iteration order and BigDecimal.toString.

Evidence: for random key sets (random tickers, and families of colliding strings built from
"Aa"/"BB", which share String.hashCode) the module's order equals a literal simulation of
OpenJDK's ``HashMap.putVal``/``resize``/``treeifyBin`` written here independently (linked
nodes with ``next`` pointers, lo/hi split lists); where Java would build a tree bin the module
refuses. With a JDK on the machine, both are also compared with the real ``java.util.HashMap``
and ``BigDecimal`` (skipped without ``javac``).
"""

from __future__ import annotations

import itertools
import random
import shutil
import subprocess
from decimal import Decimal, localcontext
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attestations.formats.java_hashmap import big_decimal_string, iteration_order
from verifier.base.errors import InvalidProof


class _Node:
    def __init__(self, h: int, key: str) -> None:
        self.hash, self.key = h, key
        self.next: _Node | None = None


def _java_hash(key: str) -> int:
    """String.hashCode, then HashMap.hash's spread."""
    data, h = key.encode("utf-16-be"), 0
    for i in range(0, len(data), 2):
        h = (h * 31 + int.from_bytes(data[i : i + 2], "big")) % 2**32
    return h ^ (h >> 16)


def reference_order(keys: list[str]) -> list[str] | None:
    """OpenJDK's HashMap, transcribed: None when a bin would be treeified."""
    table: list[_Node | None] = [None] * 16
    threshold, size = 12, 0

    def resize(tab: list[_Node | None]) -> list[_Node | None]:
        old = len(tab)
        new: list[_Node | None] = [None] * (old * 2)
        for j, first in enumerate(tab):
            e = first
            lo_head: _Node | None = None
            lo_tail: _Node | None = None
            hi_head: _Node | None = None
            hi_tail: _Node | None = None
            while e is not None:
                nxt = e.next
                e.next = None
                if e.hash & old == 0:
                    if lo_tail is None:
                        lo_head = e
                    else:
                        lo_tail.next = e
                    lo_tail = e
                else:
                    if hi_tail is None:
                        hi_head = e
                    else:
                        hi_tail.next = e
                    hi_tail = e
                e = nxt
            new[j], new[j + old] = lo_head, hi_head
        return new

    for key in keys:
        h = _java_hash(key)
        i = h & (len(table) - 1)
        p = table[i]
        if p is None:
            table[i] = _Node(h, key)
        else:
            if p.key == key:
                continue
            bin_count, found = 0, False
            while True:
                if p.next is None:
                    p.next = _Node(h, key)
                    if bin_count >= 7:  # TREEIFY_THRESHOLD - 1
                        if len(table) < 64:
                            table = resize(table)
                            threshold = len(table) * 3 // 4
                        else:
                            return None
                    break
                p = p.next
                if p.key == key:
                    found = True
                    break
                bin_count += 1
            if found:
                continue
        size += 1
        if size > threshold:
            table = resize(table)
            threshold = len(table) * 3 // 4
    out = []
    for first in table:
        e = first
        while e is not None:
            out.append(e.key)
            e = e.next
    return out


def _module(keys: list[str]) -> list[str] | None:
    try:
        return iteration_order(keys)
    except InvalidProof as exc:
        assert exc.check == "key order"
        return None


TICKERS = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=6)


@settings(max_examples=300, deadline=None)
@given(st.lists(TICKERS, min_size=1, max_size=120))
def test_order_equals_the_reference_for_random_tickers(keys: list[str]) -> None:
    assert _module(keys) == reference_order(keys)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 7), st.integers(1, 128), st.randoms(use_true_random=False))
def test_order_equals_the_reference_for_colliding_keys(n: int, m: int, rnd: random.Random) -> None:
    family = ["".join(p) for p in itertools.product(["Aa", "BB"], repeat=n)]  # one hashCode
    keys = rnd.sample(family, min(m, len(family))) + rnd.sample(["BTC", "ETH", "USDT", "X"], 2)
    assert _module(keys) == reference_order(keys)


def test_bitget_four_keys_and_a_tie_in_insertion_order() -> None:
    assert iteration_order(["BTC", "ETH", "USDT", "USDC"]) == ["BTC", "ETH", "USDT", "USDC"]
    assert iteration_order(["BB", "Aa"]) == ["BB", "Aa"]  # same bucket: insertion order
    assert iteration_order(["Aa", "BB"]) == ["Aa", "BB"]


def test_nine_colliding_keys_resize_a_small_table_and_a_big_one_is_refused() -> None:
    family = ["".join(p) for p in itertools.product(["Aa", "BB"], repeat=4)]
    assert _module(family[:9]) == reference_order(family[:9])  # resized to 32, no tree
    with pytest.raises(InvalidProof, match="red-black tree"):
        iteration_order(family)  # 16 keys in one bucket: Java treeifies at 64 buckets


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("10.0000000000000000", "10.0000000000000000"),
        ("0.0000001000000000", "1.000000000E-7"),
        ("1.010000000E-7", "1.010000000E-7"),
        ("1E+3", "1E+3"),
        ("-0.00", "0.00"),
        ("0.000001", "0.000001"),
    ],
)
def test_big_decimal_string(value: str, text: str) -> None:
    assert big_decimal_string(Decimal(value)) == text


JAVA = """
import java.util.*; import java.io.*; import java.math.BigDecimal;
public class Order { public static void main(String[] a) throws Exception {
  BufferedReader r = new BufferedReader(new InputStreamReader(System.in, "UTF-8")); String l;
  while ((l = r.readLine()) != null) {
    if (l.startsWith("D ")) { String[] p = l.substring(2).split(" ");
      BigDecimal s = new BigDecimal(p[0]);
      for (int i = 1; i < p.length; i++) s = s.add(new BigDecimal(p[i]));
      System.out.println(s.toString()); continue; }
    Map<String,Integer> m = new HashMap<>(); for (String k : l.split("\\t", -1)) m.put(k, 1);
    System.out.println(String.join("\\t", m.keySet())); } } }
"""


@pytest.mark.skipif(shutil.which("javac") is None, reason="no JDK (javac) on this machine")
def test_order_and_decimals_equal_real_java(tmp_path: Path) -> None:
    (tmp_path / "Order.java").write_text(JAVA)
    subprocess.run(["javac", "Order.java"], cwd=tmp_path, check=True, timeout=120)
    rnd = random.Random(13)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    cases = [
        list(dict.fromkeys("".join(rnd.choices(alphabet, k=rnd.randint(1, 6))) for _ in range(n)))
        for n in [rnd.choice([1, 4, 12, 13, 24, 25, 48, 49, 100, 200]) for _ in range(300)]
    ]
    for n in range(2, 6):
        family = ["".join(p) for p in itertools.product(["Aa", "BB"], repeat=n)]
        cases += [[*rnd.sample(family, min(m, len(family))), "BTC"] for m in (8, 9, 10, 20)]
    sums = [
        [
            str(Decimal(rnd.randint(-(10**12), 10**12)).scaleb(-rnd.randint(-3, 20)))
            for _ in range(3)
        ]
        for _ in range(200)
    ]
    stdin = "".join("\t".join(c) + "\n" for c in cases) + "".join(
        "D " + " ".join(s) + "\n" for s in sums
    )
    run = subprocess.run(
        ["java", "-cp", str(tmp_path), "Order"],
        input=stdin,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = run.stdout.split("\n")
    for keys, line in zip(cases, lines, strict=False):
        mine = _module(keys)
        if mine is not None:  # a treeified bin is refused, never guessed
            assert mine == line.split("\t"), keys
    for values, line in zip(sums, lines[len(cases) :], strict=False):
        with localcontext() as ctx:
            ctx.prec = 200
            total = sum((Decimal(v) for v in values[1:]), Decimal(values[0]))
        assert big_decimal_string(total) == line
