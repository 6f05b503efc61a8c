"""`por insolvency claims` end to end on the sample tree (tests/cli/conftest.py `built`).

The sample's figures by hand (fixtures/liabilities/sample.csv): BTC 1.5 + 0.00000001 + 21
= 22.50000001 BTC over alice, bob and erin; ETH 2.000000000000000001 +
340282366920.938463463374607431 over alice and carol; USDT 100 + 0.5 + 12345678.123456 over
alice, bob and dave. Five customers.
"""

from __future__ import annotations

import json
from pathlib import Path

AS_OF_DATE = "2025-06-30"
PRICES = """currency = "USD"
source = "hand"
time = 2025-06-30T00:00:00Z
[prices]
BTC = "100000"
ETH = "2500.5"
USDT = "1"
"""


def _claims(por, built: Path, out: Path, *extra: object):
    return por(
        "insolvency", "claims", "--tree", built, "--as-of", AS_OF_DATE, "--out", out,
        "--workers", "1", *extra,
    )  # fmt: skip


def test_claims_json_summary_by_hand(por, built: Path, tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text(PRICES)
    out = tmp_path / "claims"
    res = _claims(por, built, out, "--prices", tmp_path / "p.toml", "--exchange", "Ex", "--json")
    assert res.rc == 0, res.err
    doc = res.json()
    assets = {a["code"]: a for a in doc["assets"]}
    assert doc["customers"] == 5
    assert assets["BTC"]["total_units"] == "2250000001"
    assert assets["BTC"]["customers"] == 3
    assert assets["BTC"]["total_value"] == "2250000.001"  # 22.50000001 x 100,000
    assert assets["ETH"]["total_units"] == "340282366922938463463374607432"
    # 340,282,366,922.938463463374607432 x 2,500 = 850,705,917,307,346.15865843651858
    # plus half of it, 170,141,183,461.469231731687303716
    assert assets["ETH"]["total_value"] == "850876058490807.627890168205883716"
    assert assets["USDT"]["total_units"] == "12345778623456"
    assert assets["USDT"]["total_value"] == "12345778.623456"
    assert doc["total_value"] == "850876073086586.252346168205883716"
    assert doc["attestation_id"] == "att-2025-06/claims"
    assert doc["source"]["attestation_id"] == "att-2025-06"
    claims = json.loads((out / "claims.json").read_text())
    assert claims["exchange"] == "Ex" and claims["files"] == doc["files"]
    secret = (out / "tree" / "secret.key").read_text().strip()
    assert secret not in res.out and secret not in res.err
    assert (built / "secret.key").read_text().strip() not in res.out + res.err


def test_a_customer_checks_their_claim(por, built: Path, tmp_path: Path) -> None:
    out = tmp_path / "claims"
    assert _claims(por, built, out).rc == 0
    res = por("liabilities", "proof", out / "tree", "carol", "-o", tmp_path / "carol.json")
    assert res.rc == 0, res.err
    # the customer holds the published root: claims.json's "root", verbatim
    root = json.loads((out / "claims.json").read_text())["root"]
    (tmp_path / "root.json").write_text(json.dumps(root))
    res = por("verify-proof", tmp_path / "carol.json", "--root", tmp_path / "root.json", "--json")
    assert res.rc == 0, res.err
    proof = json.loads((tmp_path / "carol.json").read_text())
    assert proof["attestation_id"] == "att-2025-06/claims"
    assert len(proof["leaves"]) == 1


def test_the_terminal_summary(por, built: Path, tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text(PRICES)
    res = _claims(por, built, tmp_path / "c", "--prices", tmp_path / "p.toml")
    assert res.rc == 0, res.err
    assert "customers   5" in res.out
    assert "850,876,073,086,586.25 USD" in res.out
    assert "not covered:" in res.out


def test_another_date_is_refused(por, built: Path, tmp_path: Path) -> None:
    res = por(
        "insolvency", "claims", "--tree", built, "--as-of", "2025-07-01", "--out",
        tmp_path / "c", "--json",
    )  # fmt: skip
    assert res.rc == 3
    assert "commencement date 2025-07-01" in res.err_flat
    assert not (tmp_path / "c").exists()


def test_a_price_file_missing_an_asset_is_refused(por, built: Path, tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text(PRICES.replace('ETH = "2500.5"\n', ""))
    res = _claims(por, built, tmp_path / "c", "--prices", tmp_path / "p.toml")
    assert res.rc == 3
    assert "no price for ETH" in res.err_flat and "p.toml" in res.err_flat
    assert not (tmp_path / "c").exists()


def test_outputs_that_would_destroy_an_input_are_refused(por, built: Path, tmp_path: Path) -> None:
    for out in (built, built / "inside", built.parent):
        res = _claims(por, built, out, "--force")
        assert res.rc == 2, (out, res.err)
    assert (built / "root.json").exists()


def test_force_replaces_an_old_register(por, built: Path, tmp_path: Path) -> None:
    out = tmp_path / "claims"
    assert _claims(por, built, out).rc == 0
    first = (out / "claims.json").read_text()
    res = _claims(por, built, out)
    assert res.rc == 3 and "--force" in res.err_flat
    assert _claims(por, built, out, "--force").rc == 0
    # a new secret: a new claims tree, same totals
    second = json.loads((out / "claims.json").read_text())
    assert second["root"]["root"]["sums"] == json.loads(first)["root"]["root"]["sums"]
    assert second["root"]["commitment"] != json.loads(first)["root"]["commitment"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".claims")]


def test_a_damaged_source_tree_is_exit_3(por, built: Path, tmp_path: Path) -> None:
    level = built / "tree" / "level-00.bin"
    data = bytearray(level.read_bytes())
    data[40] ^= 1
    level.write_bytes(bytes(data))
    res = _claims(por, built, tmp_path / "c", "--json")
    assert res.rc == 3
    assert res.json()["exit_code"] == 3
    assert not (tmp_path / "c").exists()
