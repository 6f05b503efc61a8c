"""The claims register (verifier/insolvency/claims.py, claims_files.py) on hand-built trees.

Every figure here is computed by hand from the balances below; the claim proofs are checked
by the tool's verifier and by the independent minimal verifier of tests/conformance.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attestations.build import Liabilities, build_tree
from attestations.encoding import AssetSpec
from attestations.proofs import parse_proof, verify_proof
from attestations.store import TreeStore
from verifier.base.errors import InputError, InvalidProof
from verifier.insolvency.claims import (
    add_texts,
    check_commencement,
    read_register,
    read_valuation,
    sum_parts,
    value_of,
)
from verifier.insolvency.claims_files import read_claims, write_claims

_MM = Path(__file__).resolve().parents[1] / "conformance" / "minimal_mst.py"
_spec = importlib.util.spec_from_file_location("_claims_minimal_mst", _MM)
assert _spec is not None and _spec.loader is not None
mm = importlib.util.module_from_spec(_spec)
sys.modules["_claims_minimal_mst"] = mm
_spec.loader.exec_module(mm)

ASSETS = (AssetSpec("BTC", 8), AssetSpec("ETH", 18))
BIG = 2**64 + 7  # needs the high half of the 128-bit balance
ROWS = [
    # account, BTC sat, ETH wei
    ("alice", 150_000_000, 0),
    ("bob", 5, 2 * 10**18),
    ("carol", 0, 0),  # no claim
    ("dave", 0, BIG),
    ("erin", 2_100_000_000, 1),
]
TOTAL_BTC = 150_000_000 + 5 + 2_100_000_000  # 2,250,000,005
TOTAL_ETH = 2 * 10**18 + BIG + 1  # 2,000,000,000,000,000,001 + 18,446,744,073,709,551,623
AS_OF = "2026-11-21T00:00:00Z"
PRICES = """currency = "JPY"
source = "hand"
time = 2026-11-21T00:00:00Z
[prices]
BTC = "15000000"
ETH = "450000.5"
"""


def _liabilities(rows: list[tuple[str, int, int]]) -> Liabilities:
    balances = np.zeros((len(rows), len(ASSETS), 2), dtype=">u8")
    for i, (_, *values) in enumerate(rows):
        for a, v in enumerate(values):
            balances[i, a] = (v >> 64, v & (2**64 - 1))
    ids = pa.array([r[0] for r in rows], pa.large_binary())
    return Liabilities(ASSETS, ids, balances)


@pytest.fixture(params=[1, 3], ids=["split1", "split3"])
def source(request, tmp_path: Path) -> Path:
    out = tmp_path / "source"
    build_tree(
        _liabilities(ROWS), out, attestation_id="exch-2026-11", as_of=AS_OF, split=request.param
    )
    return out


def test_register_totals_and_balances_by_hand(source: Path) -> None:
    register = read_register(source, workers=1)
    assert register.totals == (TOTAL_BTC, TOTAL_ETH)
    assert TOTAL_BTC == 2_250_000_005
    assert register.zero_accounts == 1  # carol
    assert register.customers == 4
    ids = [i.decode() if isinstance(i, bytes) else i for i in register.account_ids.to_pylist()]
    # the register is in the tree's row order (accounts by account hash), so read it by id
    assert sorted(ids) == ["alice", "bob", "dave", "erin"]
    by_id = {i: (b, e) for i, b, e in zip(ids, register.units(0), register.units(1), strict=True)}
    assert by_id == {
        "alice": (150_000_000, 0),
        "bob": (5, 2 * 10**18),
        "dave": (0, BIG),  # Python ints: BIG > 2**64
        "erin": (2_100_000_000, 1),
    }
    assert register.customers_of(0) == 3 and register.customers_of(1) == 3
    assert register.source.attestation_id == "exch-2026-11"


def test_exact_values_by_hand() -> None:
    assert value_of(150_000_000, 8, Decimal("15000000")) == "22500000"
    assert value_of(5, 8, Decimal("15000000")) == "0.75"
    assert value_of(1, 18, Decimal("450000.5")) == "0.0000000000004500005"
    # 18.446744073709551623 ETH x 450,000.5 = 8,301,034.83316929823035 + 9.2233720368547758115
    assert value_of(BIG, 18, Decimal("450000.5")) == "8301044.0565413350851258115"
    assert value_of(7, 0, Decimal("0")) == "0"
    assert (
        add_texts(["0.75", "22500000", "0.0000000000004500005"]) == "22500000.7500000000004500005"
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 2**122), min_size=1, max_size=64))
def test_sum_parts_is_exact(values: list[int]) -> None:
    parts = np.zeros((1, len(values), 1, 2), dtype=">u8")
    for k, v in enumerate(values):
        parts[0, k, 0] = (v >> 64, v & (2**64 - 1))
    out = sum_parts(parts)
    assert (int(out[0, 0, 0]) << 64) | int(out[0, 0, 1]) == sum(values)


def test_sum_parts_refuses_2_to_the_128() -> None:
    parts = np.full((1, 2, 1, 2), 2**64 - 1, dtype=">u8")  # 2 x (2**128 - 1)
    with pytest.raises(InvalidProof, match="2\\*\\*128"):
        sum_parts(parts)


@pytest.mark.parametrize(
    ("as_of", "tree", "ok"),
    [
        ("2026-11-21", AS_OF, True),
        ("2026-11-21T09:00:00+09:00", AS_OF, True),  # 00:00 UTC, same date
        ("2026-11-21T08:59:59+09:00", AS_OF, False),  # 2026-11-20 23:59:59 UTC
        ("2026-11-22", AS_OF, False),
        ("2026-11-21", "2026-11-21T23:59:59Z", True),
        ("2026-11-21", "2026-11-21T23:59:59-01:00", False),  # 2026-11-22 UTC
        ("2026-11-21", "2026-11-21", True),
    ],
)
def test_the_tree_must_be_at_the_commencement_date(as_of: str, tree: str, ok: bool) -> None:
    if ok:
        assert check_commencement(as_of, tree, "root.json") == date(2026, 11, 21)
    else:
        with pytest.raises(InputError, match="commencement date"):
            check_commencement(as_of, tree, "root.json")


@pytest.mark.parametrize("bad", ["2026-11-21T00:00:00", "yesterday", "", "2026-13-45"])
def test_a_bad_or_zoneless_as_of_is_refused(bad: str) -> None:
    with pytest.raises(InputError, match="--as-of"):
        check_commencement(bad, AS_OF, "root.json")


def test_prices_must_cover_every_asset_with_claims(source: Path, tmp_path: Path) -> None:
    register = read_register(source, workers=1)
    prices = tmp_path / "p.toml"
    prices.write_text(PRICES.replace('ETH = "450000.5"\n', ""))
    with pytest.raises(InputError, match="no price for ETH"):
        read_valuation(prices, register, date(2026, 11, 21))
    prices.write_text(
        PRICES.replace('ETH = "450000.5"', 'ETH = { value = "1", time = 2026-11-20T00:00:00Z }')
    )
    with pytest.raises(InputError, match="different dates"):
        read_valuation(prices, register, date(2026, 11, 21))
    prices.write_text(PRICES + 'DOGE = "3"\n')
    valuation = read_valuation(prices, register, date(2026, 11, 21))
    assert valuation.prices == {"BTC": Decimal("15000000"), "ETH": Decimal("450000.5")}
    assert valuation.date == "2026-11-21" and valuation.currency == "JPY"


def _claims(source: Path, tmp_path: Path, prices: bool = True) -> Path:
    register = read_register(source, workers=1)
    valuation = None
    if prices:
        (tmp_path / "p.toml").write_text(PRICES)
        valuation = read_valuation(tmp_path / "p.toml", register, date(2026, 11, 21))
    out = tmp_path / "claims"
    write_claims(register, valuation, out, attestation_id="exch-2026-11/claims", as_of="2026-11-21")
    return out


def test_claims_document_figures_by_hand(source: Path, tmp_path: Path) -> None:
    out = _claims(source, tmp_path)
    doc = json.loads((out / "claims.json").read_text())
    btc, eth = doc["assets"]
    assert btc == {
        "code": "BTC",
        "decimals": 8,
        "customers": 3,
        "total_units": "2250000005",
        "price": "15000000",
        "total_value": "337500000.75",  # 22.50000005 BTC x 15,000,000
    }
    # (2e18 + 2**64 + 7 + 1) wei = 20.446744073709551624 ETH x 450,000.5
    assert eth["total_units"] == str(TOTAL_ETH)
    assert Decimal(eth["total_value"]) == Decimal(TOTAL_ETH) * Decimal("450000.5") / 10**18
    # 20.446744073709551624 x 450,000 = 9,201,034.8331692982308 and x 0.5 = 10.223372036854775812
    assert eth["total_value"] == "9201045.056541335085575812"
    assert doc["total_value"] == "346701045.806541335085575812"
    assert doc["customers"] == 4
    assert doc["source"]["attestation_id"] == "exch-2026-11"
    assert doc["root"] == json.loads((out / "tree" / "root.json").read_text())
    assert doc["root"]["root"]["sums"] == [str(TOTAL_BTC), str(TOTAL_ETH)]
    assert any("1 accounts" in line and "zero balance" in line for line in doc["not_covered"])
    claims = read_claims(out)
    assert claims.totals == {"BTC": TOTAL_BTC, "ETH": TOTAL_ETH}


def test_exports_round_trip_to_the_json_totals(source: Path, tmp_path: Path) -> None:
    out = _claims(source, tmp_path)
    doc = json.loads((out / "claims.json").read_text())
    for name in ("register.csv", "register.parquet"):
        assert (out / name).stat().st_mode & 0o777 == 0o600
    with (out / "register.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    table = pq.read_table(out / "register.parquet").to_pylist()
    assert [(r["account_id"], r["asset"]) for r in rows] == [
        ("alice", "BTC"),
        ("bob", "BTC"),
        ("bob", "ETH"),
        ("dave", "ETH"),
        ("erin", "BTC"),
        ("erin", "ETH"),
    ]
    assert [(r["account_id"], r["asset"]) for r in table] == [
        (r["account_id"], r["asset"]) for r in rows
    ]
    for asset in doc["assets"]:
        mine = [r for r in rows if r["asset"] == asset["code"]]
        assert sum(int(r["units"]) for r in mine) == int(asset["total_units"])
        assert add_texts([r["value"] for r in mine]) == asset["total_value"]
        pmine = [r for r in table if r["asset"] == asset["code"]]
        assert sum(int(r["units"]) for r in pmine) == int(asset["total_units"])
        assert add_texts([r["value"] for r in pmine]) == asset["total_value"]
    assert next(r for r in rows if r["account_id"] == "dave")["units"] == str(BIG)


def test_units_only_register_has_no_values(source: Path, tmp_path: Path) -> None:
    out = _claims(source, tmp_path, prices=False)
    doc = json.loads((out / "claims.json").read_text())
    assert doc["valuation"] is None and doc["total_value"] is None
    assert all(a["price"] is None and a["total_value"] is None for a in doc["assets"])
    assert {r["value"] for r in pq.read_table(out / "register.parquet").to_pylist()} == {None}
    read_claims(out)


def test_a_claim_proof_verifies_with_both_verifiers(source: Path, tmp_path: Path) -> None:
    out = _claims(source, tmp_path)
    root = json.loads((out / "tree" / "root.json").read_text())
    with TreeStore(out / "tree") as store:
        assert store.meta.split == 1
        for account, btc, eth in ROWS:
            if not (btc or eth):
                continue
            _, text = store.checked_proof(account)
            proof = json.loads(text)
            assert len(proof["leaves"]) == 1  # one leaf per customer
            verify_proof(parse_proof(proof), published_root=store.root)
            assert mm.verify(proof, root_document=root) == {"BTC": btc, "ETH": eth}
    with TreeStore(out / "tree") as store, pytest.raises(InputError, match="not found"):
        store.checked_proof("carol")


def test_the_new_secret_is_private_and_never_published(source: Path, tmp_path: Path) -> None:
    out = _claims(source, tmp_path)
    secret = (out / "tree" / "secret.key").read_text().strip()
    assert (out / "tree" / "secret.key").stat().st_mode & 0o777 == 0o600
    assert secret != (source / "secret.key").read_text().strip()
    for path in out.rglob("*"):
        if path.is_file() and path.name != "secret.key":
            assert secret.encode() not in path.read_bytes(), path


@pytest.mark.parametrize(
    ("target", "edit", "check"),
    [
        ("register.csv", lambda b: b.replace(b"150000000", b"150000001"), "files"),
        ("register.parquet", lambda b: b[:-9] + b"x" + b[-8:], "files"),
        (
            "claims.json",
            lambda b: b.replace(b'"total_units": "2250000005"', b'"total_units": "2250000006"'),
            "totals",
        ),
        ("claims.json", lambda b: b.replace(b'"337500000.75"', b'"337500001.75"'), "values"),
        ("claims.json", lambda b: b.replace(b'"BTC": "15000000"', b'"BTC": "15000001"'), "values"),
        ("claims.json", lambda b: b.replace(b'"hash": "', b'"hash": "0', 1), "root"),
        (
            "tree/root.json",
            lambda b: b.replace(b'"as_of": "2026-11-21"', b'"as_of": "2026-11-22"'),
            "root",
        ),
    ],
)
def test_a_tampered_claims_directory_is_refused_naming_the_check(
    source: Path, tmp_path: Path, target: str, edit, check: str | None
) -> None:
    out = _claims(source, tmp_path)
    path = out / target
    before = path.read_bytes()
    path.write_bytes(edit(before))
    assert path.read_bytes() != before
    with pytest.raises((InvalidProof, InputError)) as caught:
        read_claims(out)
    if check is not None:
        assert isinstance(caught.value, InvalidProof) and caught.value.check == check


def test_a_damaged_source_tree_is_refused(source: Path, tmp_path: Path) -> None:
    level = source / "tree" / "level-00.bin"
    data = bytearray(level.read_bytes())
    data[40] ^= 1  # a balance byte of the first leaf record
    level.write_bytes(bytes(data))
    with pytest.raises(InvalidProof):
        read_register(source, workers=1)


def test_a_tree_without_its_secret_is_refused(source: Path, tmp_path: Path) -> None:
    (source / "secret.key").unlink()
    with pytest.raises(InputError, match="secret"):
        read_register(source, workers=1)


def test_hostile_account_ids_round_trip_through_both_exports(tmp_path: Path) -> None:
    ids = ["a,b", 'q"x', "line\nbreak", "=1+1", "é日本", " pad "]
    rows = [(i, k + 1, 0) for k, i in enumerate(ids)]
    build_tree(_liabilities(rows), tmp_path / "src", attestation_id="x", as_of=AS_OF)
    register = read_register(tmp_path / "src", workers=1)
    write_claims(register, None, tmp_path / "c", attestation_id="x/claims", as_of="2026-11-21")
    with (tmp_path / "c" / "register.csv").open(newline="", encoding="utf-8") as handle:
        from_csv = [(r["account_id"], int(r["units"])) for r in csv.DictReader(handle)]
    table = pq.read_table(tmp_path / "c" / "register.parquet").to_pylist()
    expected = sorted(((i, k + 1) for k, i in enumerate(ids)), key=lambda r: r[0].encode())
    assert from_csv == expected
    assert [(r["account_id"], int(r["units"])) for r in table] == expected
