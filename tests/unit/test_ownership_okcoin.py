"""Okcoin's 7-column ownership layout in `verify-ownership --format okx`, read by its header.

Evidence: ``okcoin_por_example.csv`` (fixtures/samples/okx), copied whole from
okx/proof-of-reserves @ 6ffa88e7, example/okcoin_por_example.csv: header
``coin,address,amount,message,signature1,signature2,redeem script/ public key``, EVM rows
(personal_sign over keccak256(message)), TRON rows (``0x`` hex signatures), Bitcoin P2SH and
P2WSH 2-of-3 multisig rows (two signatures and the script). Every row verifies; the base-unit
amounts sum to the file's own balance section. Tampered copies (a signature byte, an
address, the script, the message) fail naming the check; an unknown header is refused.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from verifier.base.errors import EXIT_INVALID, EXIT_OK, InputError
from verifier.external.check import render_ownership, verify_ownership

OKCOIN = Path(__file__).resolve().parents[2] / "fixtures" / "samples" / "okx" / "okcoin_por_example.csv"  # fmt: skip
HEADER = "coin,address,amount,message,signature1,signature2,redeem script/ public key"


def test_okcoin_sample_verifies_every_row() -> None:
    doc, code = verify_ownership(OKCOIN, "okx")
    assert code == EXIT_OK
    assert doc["counts"] == {"valid": 33, "invalid": 0, "unsigned": 0, "unsupported": 0}
    by_scheme: dict[str, int] = {}
    for row in doc["rows"]:
        by_scheme[row["scheme"]] = by_scheme.get(row["scheme"], 0) + 1
    assert by_scheme == {
        "eip191-keccak256": 17, "tron-message": 7, "p2sh-multisig": 3, "p2wsh-multisig": 6,
    }  # fmt: skip
    assert {r["variant"] for r in doc["rows"] if r["scheme"] == "tron-message"} == {"v1-keccak"}
    p2sh = next(r for r in doc["rows"] if r["scheme"] == "p2sh-multisig")
    assert p2sh["address"] == "3QVtn5nHRxBXX7C7sKw2qdkoGqMMwFUgwF"
    assert "2-of-3 redeem script" in p2sh["reason"]
    chains = {r["coin"]: r["chain"] for r in doc["rows"]}
    assert chains == {
        "USDT-TRC20": "tron", "USDT-OPTIMISM": "optimism", "ETH-ARBITRUM": "arbitrum",
        "BTC": "bitcoin", "ETH": "ethereum", "ETH-OPTIMISM": "optimism",
    }  # fmt: skip


def test_okcoin_base_unit_amounts_match_the_balance_section() -> None:
    """Row amounts are base units (satoshi, wei, USDT's 6 decimals); in whole units they sum
    to the balance section's rounded figures."""
    doc, _ = verify_ownership(OKCOIN, "okx")
    summary = doc["summary"]
    assert summary["ETH"]["proven_balance"] == "5.28344825830217276"
    assert summary["ETH"]["reported_balance"] == "5.2834"
    assert summary["BTC"]["proven_balance"] == "449.51400581"
    assert summary["USDT-TRC20"]["proven_balance"] == "5436.904358"
    assert summary["ETH-ARBITRUM"]["proven_balance"] == summary["ETH-ARBITRUM"]["reported_balance"]
    assert "USDT-TRC20" in render_ownership(doc)


def _row(coin: str, address_start: str) -> tuple[list[str], int]:
    lines = OKCOIN.read_text().splitlines()
    index = next(
        i for i, ln in enumerate(lines) if ln.startswith(f"{coin},{address_start}")
    )  # fmt: skip
    return lines, index


def _flip(sig: str, at: int) -> str:
    return sig[:at] + ("0" if sig[at] != "0" else "1") + sig[at + 1 :]


def _b64_flip(sig: str) -> str:
    """Another byte of s in a base64 signature (characters 60-70 encode s)."""
    return sig[:64] + ("A" if sig[64] != "A" else "B") + sig[65:]


@pytest.mark.parametrize(
    ("coin", "start", "column", "change", "check"),
    [
        ("USDT-TRC20", "TJTc3g", 4, lambda s: _flip(s, 80), "recovered key"),  # TRON signature
        ("ETH", "0xe7d5f0", 4, lambda s: _flip(s, 80), "recovered key"),  # EVM signature
        (
            "ETH",
            "0xe7d5f0",
            1,
            lambda s: "0x0114efa8f268ce0a41d92b7f9a13880dad234848",
            "recovered key",
        ),  # the address: another EOA
        ("ETH", "0xe7d5f0", 3, lambda s: "I am an OKX address!", "recovered key"),  # message
        ("BTC", "3QVtn5", 4, _b64_flip, "cosigner"),  # a P2SH cosigner's signature
        ("BTC", "3QVtn5", 1, lambda s: "35qCockmtW6dNNWuQzZyZEtaqJHuXcbqYy", "witness script"),
        ("BTC", "3QVtn5", 6, lambda s: s[:-2] + "af", "witness script"),  # another script
        ("BTC", "bc1qxmaq", 5, _b64_flip, "cosigner"),  # a P2WSH cosigner's signature
        ("BTC", "3QVtn5", 5, lambda s: "", "threshold"),  # one signature of two
    ],
)
def test_okcoin_tampered(
    tmp_path: Path, coin: str, start: str, column: int, change: object, check: str
) -> None:
    lines, index = _row(coin, start)
    cells = lines[index].split(",")
    cells[column] = change(cells[column])  # type: ignore[operator]
    lines[index] = ",".join(cells)
    path = tmp_path / "okcoin.csv"
    path.write_text("\n".join(lines) + "\n")
    doc, code = verify_ownership(path, "okx")
    assert code == EXIT_INVALID
    bad = [r for r in doc["rows"] if r["status"] == "invalid"]
    assert len(bad) == 1 and bad[0]["check"] == check, bad


def test_okcoin_a_p2sh_row_of_the_nested_address_verifies_as_p2sh_p2wsh(tmp_path: Path) -> None:
    """OKX derives a ``3…`` address as plain P2SH of the redeem script (scheme p2sh-multisig);
    the P2SH-P2WSH address of the same script binds it just as well, so it verifies too, named
    ``p2sh-p2wsh-multisig`` (a nested-segwit multisig is not a false "invalid")."""
    lines, index = _row("BTC", "3QVtn5")
    cells = lines[index].split(",")
    cells[1] = "3QbG4TFB4uu8qu3achVc3CQSVZ8eV4TUAp"  # hash160(0x0020 || sha256(script))
    lines[index] = ",".join(cells)
    path = tmp_path / "okcoin.csv"
    path.write_text("\n".join(lines) + "\n")
    doc, code = verify_ownership(path, "okx")
    assert code == EXIT_OK
    [row] = [r for r in doc["rows"] if r["address"] == cells[1]]
    assert row["status"] == "valid" and row["scheme"] == "p2sh-p2wsh-multisig"


def test_okcoin_a_p2sh_address_of_another_script_is_invalid(tmp_path: Path) -> None:
    lines, index = _row("BTC", "3QVtn5")
    cells = lines[index].split(",")
    cells[1] = "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"  # some other P2SH address
    lines[index] = ",".join(cells)
    path = tmp_path / "okcoin.csv"
    path.write_text("\n".join(lines) + "\n")
    doc, code = verify_ownership(path, "okx")
    assert code == EXIT_INVALID
    [bad] = [r for r in doc["rows"] if r["status"] == "invalid"]
    assert bad["check"] == "witness script"


def test_an_empty_signature_cell_is_said_to_be_empty(tmp_path: Path) -> None:
    lines, index = _row("ETH", "0xe7d5f0")
    cells = lines[index].split(",")
    cells[4] = ""
    lines[index] = ",".join(cells)
    path = tmp_path / "okcoin.csv"
    path.write_text("\n".join(lines) + "\n")
    doc, code = verify_ownership(path, "okx")
    assert code == EXIT_OK
    [row] = [r for r in doc["rows"] if r["status"] == "unsigned"]
    assert row["reason"] == "no signature in the row (the cell is empty)"


@pytest.mark.parametrize(
    ("header", "why"),
    [
        (HEADER.replace("amount", "balance"), "unknown column(s) 'balance'"),
        (HEADER.replace("signature1", "sig1"), "unknown column(s) 'sig1'"),
        (HEADER.replace("message", "address"), "no column message"),
        (HEADER.replace("signature2", "signature1"), "a repeated column"),
        (HEADER.replace("coin,", "asset,"), "unknown column(s) 'asset'"),
    ],
)
def test_an_unknown_report_header_is_not_supported(tmp_path: Path, header: str, why: str) -> None:
    text = OKCOIN.read_text().replace(HEADER, header)
    path = tmp_path / "okcoin.csv"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        verify_ownership(path, "okx")
    assert "line 15: layout not supported: header " in caught.value.message
    assert why in caught.value.message


def test_a_short_okcoin_row_is_an_input_error(tmp_path: Path) -> None:
    lines, index = _row("ETH", "0xe7d5f0")
    lines[index] = ",".join(lines[index].split(",")[:5])
    path = tmp_path / "okcoin.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="expected at least 7 fields, found 5"):
        verify_ownership(path, "okx")
