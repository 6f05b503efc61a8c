"""OKX's report layouts in `verify-ownership --format okx`: 11 columns, and 12 with Type and
staking rows proven by their withdrawal EOAs.

Evidence: OKX's published ``okx_por_staking_example.csv`` (fixtures/samples/okx, from
okx/proof-of-reserves, example/), whose rows OKX's own verifier accepts (its main_test.go
uses the same ETH vector), and tampered copies: a signature byte, an EOA, the row's own
address, the message.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from verifier.base.errors import EXIT_INVALID, EXIT_OK, InputError
from verifier.external.check import render_ownership, verify_ownership
from verifier.external.ownership_okx import STAKING_WEAKNESS

STAKING = Path(__file__).resolve().parents[2] / "fixtures" / "samples" / "okx" / "okx_por_staking_example.csv"  # fmt: skip
EOA1 = "0x0cdcdb19a857c2ac24818ca4fdfe38cce071483e"
EOA2 = "0x16f01cfc16b0b8c3400fb8e5099b0974fcc9fc12"


def test_staking_sample_verifies() -> None:
    doc, code = verify_ownership(STAKING, "okx")
    assert code == EXIT_OK
    rows = doc["rows"]
    assert [r["status"] for r in rows] == ["valid"] * 3
    assert {r["scheme"] for r in rows} == {"eip191-keccak256"}
    assert [r["signers"] for r in rows] == [[], [EOA1], [EOA1, EOA2]]
    assert "not the validator" in rows[1]["reason"] and "not the validator" in rows[2]["reason"]
    assert [r["network"] for r in rows] == [
        "ETH (Non Staking)", "ETH (Native ETH Staking)", "ETH (Eigenlayer Staking)",
    ]  # fmt: skip
    assert {r["chain"] for r in rows} == {"ethereum"}
    eth = doc["summary"]["ETH"]
    assert eth["proven_balance"] == eth["total_balance"] == "64.058959708849230328"
    assert eth["reported_balance"] == "64"
    assert doc["summary_by_chain"]["ethereum"]["ETH"]["valid"] == 3
    assert STAKING_WEAKNESS in doc["weaknesses"]
    assert "does not prove" in render_ownership(doc)


def _tampered(tmp_path: Path, row: int, column: int, value: str) -> Path:
    lines = STAKING.read_text().splitlines()
    index = [i for i, ln in enumerate(lines) if " Staking," in ln][row]
    cells = lines[index].split(",")
    cells[column] = value
    lines[index] = ",".join(cells)
    path = tmp_path / "okx.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _flip(sig: str) -> str:
    """A digit of s flipped (r might leave no point on the curve: another check)."""
    return sig[:76] + ("0" if sig[76] != "0" else "1") + sig[77:]


@pytest.mark.parametrize(
    ("row", "column", "change", "check"),
    [
        (0, 7, "signature", "recovered key"),  # a byte of the non-staking row's signature
        (1, 7, "signature", "recovered key"),  # the staking row's signature1
        (2, 8, "signature", "recovered key"),  # the Eigenlayer row's signature2 (EOA2)
        (1, 10, "0x57e2dcd253527a0f70c6a3de3556f6e6e163f19c", "recovered key"),  # EOA1
        (2, 11, "0x57e2dcd253527a0f70c6a3de3556f6e6e163f19c", "recovered key"),  # EOA2
        (0, 4, "0x57e2dcd253527a0f70c6a3de3556f6e6e163f19c", "recovered key"),  # the address
        (2, 6, "I am an OKX address!", "recovered key"),  # the message
        (1, 10, "", "address"),  # no EOA: the validator key is no EVM address
        (2, 11, "not-an-address", "address"),
    ],
)
def test_staking_tampered(tmp_path: Path, row: int, column: int, change: str, check: str) -> None:
    lines = [ln.split(",") for ln in STAKING.read_text().splitlines() if " Staking," in ln]
    value = _flip(lines[row][column]) if change == "signature" else change
    doc, code = verify_ownership(_tampered(tmp_path, row, column, value), "okx")
    assert code == EXIT_INVALID
    bad = [r for r in doc["rows"] if r["status"] == "invalid"]
    assert len(bad) == 1 and bad[0]["check"] == check, bad


def test_eleven_column_layout(tmp_path: Path) -> None:
    """The layout without Type: EOAs are read by position, the owner row's weakness stated."""
    signature = STAKING.read_text().splitlines()[4].split(",")[7]
    contract = "0x57e2dcd253527a0f70c6a3de3556f6e6e163f19c"
    path = tmp_path / "okx.csv"
    path.write_text(
        "coin,snapshot height,amount\nETH(ALL),-,1\n\n"
        "coin,Network,Snapshot Height,address,amount,message,signature1,signature2,"
        "redeem script/ public key, eoa1, eoa2\n"
        f"ETH,ETH,20914735,{contract},0.5,I am an OKX address,{signature},,,{EOA1},\n"
    )
    doc, code = verify_ownership(path, "okx")
    assert code == EXIT_OK, render_ownership(doc)
    [row] = doc["rows"]
    assert row["signers"] == [EOA1] and "contract wallet" in row["reason"]
    assert doc["summary"]["ETH(ALL)"]["reported_balance"] == "1"


def test_okx_report_example_eleven_columns() -> None:
    """OKX's published ``okx_por_example.csv`` (11 columns): the contract row is proven by
    both EOAs; TON and Aptos rows are reported unsupported."""
    doc, code = verify_ownership(STAKING.with_name("okx_por_example.csv"), "okx")
    assert code == EXIT_OK
    rows = doc["rows"]
    assert [(r["coin"], r["status"]) for r in rows] == [
        ("ETH", "valid"), ("ETH", "valid"), ("ETH", "valid"), ("USDT-TON", "unsupported"),
        ("APTOS", "unsupported"),
    ]  # fmt: skip
    assert rows[2]["signers"] == [EOA1, EOA2]
    assert doc["summary"]["ETH"]["reported_balance"] == "5.2834"
    assert doc["summary"]["USDT-POLY"]["reported_balance"] == "0"
    assert "USDT-POLY: reported_balance=0" in render_ownership(doc)


def test_a_short_row_is_an_input_error(tmp_path: Path) -> None:
    lines = STAKING.read_text().splitlines()
    path = tmp_path / "okx.csv"
    path.write_text("\n".join([*lines[:4], "ETH,Non Staking,ETH"]) + "\n")
    with pytest.raises(InputError, match="expected at least 10 fields"):
        verify_ownership(path, "okx")
