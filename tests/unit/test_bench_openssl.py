"""The `openssl speed` floor of `por bench liabilities` (verifier/tools/bench_openssl.py):
block counts, the -mr parse, pricing by hand, interpolation, and every way it is skipped.

Most tests run a FAKE `openssl` (a shell script written by the test that prints a chosen
`+F:` figure): it stands in for the real program so the arithmetic can be checked by hand.
One test runs the real `openssl` when it is installed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from verifier.tools import bench_openssl
from verifier.tools.bench_openssl import blocks, openssl_floor, parse_speed

# captured from `openssl speed -elapsed -evp sha256 -multi 2 -bytes 33 -seconds 1 -mr`
# (OpenSSL 3.0.19, stdout)
REAL_MULTI = """Forked child 0
Forked child 1
Got: +H:33 from 0
Got: +F:25:sha256:54213674.26 from 0
Got: +H:33 from 1
Got: +F:25:sha256:59624138.61 from 1
+F:25:sha256:113837812.87
"""


def fake_openssl(tmp_path: Path, rate: str, *, code: int = 0) -> str:
    """A FAKE openssl (not OpenSSL): prints `+F:` with bytes/s computed by the shell
    expression `rate` over $B (the -bytes value) and $BL (its SHA-256 block count)."""
    script = tmp_path / "fake-openssl"
    script.write_text(
        "#!/bin/sh\n"
        "# FAKE openssl for tests: not OpenSSL\n"
        'while [ $# -gt 0 ]; do [ "$1" = -bytes ] && B=$2; shift; done\n'
        "BL=$(( (B + 9 + 63) / 64 ))\n"
        f'echo "+F:25:sha256:$(( {rate} )).00"\n'
        'echo "fake failure on stderr" >&2\n'
        f"exit {code}\n"
    )
    script.chmod(0o755)
    return str(script)


def test_block_counts_by_hand() -> None:
    # 55 bytes + 0x80 + 8 length bytes = 64: one block; 56 needs a second
    assert [blocks(n) for n in (0, 14, 55, 56, 119, 120, 161)] == [1, 1, 1, 2, 2, 3, 3]


def test_parse_takes_the_summed_line_of_a_multi_run() -> None:
    assert parse_speed(REAL_MULTI, 33) == 113837812.87
    assert parse_speed("+H:33\n+F:25:sha256:269974215.79\n", 33) == 269974215.79


@pytest.mark.parametrize(
    "text", ["", "Forked child 0\n", "+F:25:sha256:abc\n", "+F:25:sha256:0.00\n", "+F:\n"]
)
def test_parse_refuses_output_without_a_figure(text: str) -> None:
    assert parse_speed(text, 33) is None


def test_every_call_priced_at_its_block_count(tmp_path: Path) -> None:
    """1M calls/s for 1 block, 500k for 2, 250k... (rate = B * 1e6 / BL): 3 account hashes
    (1 block) + 3 HMAC inner (73 bytes, 2) + 3 outer (96, 2) + 3 leaves (97, 2) + 1 padding
    (1) + 3 nodes (129, 3) = 4 µs + 9·2 µs + 3·3 µs = 31 µs; three openssl runs."""
    groups = [
        ("account hash", 3, 6),
        ("salt HMAC inner", 3, 73),
        ("salt HMAC outer", 3, 96),
        ("leaf hash", 3, 97),
        ("padding hash", 1, 33),
        ("node hash", 3, 129),
    ]
    binary = fake_openssl(tmp_path, "B * 1000000 / BL")
    floor = openssl_floor(groups, processes=2, binary=binary)
    assert floor["calls"] == 16
    assert floor["seconds"] == 31e-6
    assert [r["blocks"] for r in floor["sizes"]] == [1, 2, 3]
    assert [r["calls_per_second"] for r in floor["sizes"]] == [1_000_000, 500_000, 333_333]
    # each block count is measured at the size with the most calls in it (6 beats 33; 73,
    # 96 and 97 tie, and the first is taken)
    assert [r["bytes"] for r in floor["sizes"]] == [6, 73, 129]
    assert "-elapsed" in floor["command"] and "-multi 2" in floor["command"]


def test_unmeasured_block_counts_are_interpolated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With two runs allowed, 1 and 3 blocks (the most calls) are measured; a 2-block call is
    priced halfway between them: 1 µs and 3 µs measured -> 2 µs."""
    monkeypatch.setattr(bench_openssl, "MAX_RUNS", 2)
    groups = [("a", 10_000, 10), ("b", 1_000, 100), ("c", 10_000, 150)]
    binary = fake_openssl(tmp_path, "B * 1000000 / BL")
    floor = openssl_floor(groups, processes=1, binary=binary)
    assert [r["blocks"] for r in floor["sizes"]] == [1, 3]
    # 10,000 × 1 µs + 1,000 × 2 µs + 10,000 × 3 µs = 0.042 s
    assert floor["seconds"] == 0.042
    assert floor["calls"] == 21_000


def test_missing_openssl_is_skipped_with_the_reason() -> None:
    floor = openssl_floor([("a", 1, 33)], processes=2, binary="/nonexistent/openssl")
    assert "not found" in floor["skipped"]


def test_failing_openssl_is_skipped_with_its_message(tmp_path: Path) -> None:
    floor = openssl_floor([("a", 1, 33)], processes=2, binary=fake_openssl(tmp_path, "B", code=1))
    assert "exited 1" in floor["skipped"] and "fake failure on stderr" in floor["skipped"]


def test_openssl_without_a_figure_is_skipped(tmp_path: Path) -> None:
    floor = openssl_floor([("a", 1, 33)], processes=2, binary=fake_openssl(tmp_path, "0"))
    assert "no +F: figure" in floor["skipped"] or "exited 0" in floor["skipped"]


def test_no_calls_is_skipped() -> None:
    assert "no hash calls" in openssl_floor([("a", 0, 33)], processes=2)["skipped"]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl program installed")
def test_the_real_openssl_gives_a_floor() -> None:
    floor = openssl_floor([("padding hash", 1_000_000, 33)], processes=2, seconds=1)
    assert "skipped" not in floor, floor
    assert floor["sizes"][0]["calls_per_second"] > 0
    assert floor["seconds"] > 0
