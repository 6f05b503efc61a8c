"""verifier.external.ownership_files: the ownership files exchanges publish, checked offline.

Evidence: OKX's published ``test.csv`` and Summa's ``signatures.csv`` (fixtures/samples,
the publishers' own files), our own demo attestation, and an HTX-layout file the test
signs with its own code (coincurve, eth_keys: raw ECDSA over keccak256(message), and BIP-137
for Bitcoin). Tampered copies (a signature byte, an address) are invalid, with the reason.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import coincurve
import pytest
from embit import bech32 as embit_bech32
from embit import hashes as embit_hashes
from eth_keys import keys as eth_keys
from eth_utils import keccak

from verifier.base.errors import EXIT_INVALID, EXIT_OK, InputError, UsageError
from verifier.external.check import render_ownership, verify_ownership
from verifier.external.ownership_files import verify_ownership_file
from verifier.external.ownership_rows import OWNERSHIP_STATUSES

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"
OKX = SAMPLES / "okx" / "test.csv"
SUMMA = SAMPLES / "summa" / "signatures.csv"
POR = SAMPLES / "por" / "attestation.json"


def _flip_hex_byte(sig: str, index: int = 10) -> str:
    body = sig.removeprefix("0x")
    pos = 2 * index
    byte = int(body[pos : pos + 2], 16) ^ 0x01
    return ("0x" if sig.startswith("0x") else "") + body[:pos] + f"{byte:02x}" + body[pos + 2 :]


def test_okx_sample_rows() -> None:
    doc, code = verify_ownership(OKX, "okx")
    status = {(r["coin"], r["network"]): r for r in doc["rows"]}
    assert status[("USDT", "ETH")]["status"] == "valid"
    assert status[("USDT", "ETH")]["scheme"] == "eip191-keccak256"
    assert status[("BTC", "BTC")]["status"] == "valid"
    assert status[("BTC", "BTC")]["scheme"] == "p2wsh-multisig"
    for key in (("ETH", "STARKNET"), ("DOT", "DOT"), ("ADA", "ADA"), ("DOGE", "DOGE"),
                ("TRX", "TRON"), ("EOS", "Vaulta")):  # fmt: skip
        assert status[key]["status"] == "unsupported", key
    # the published OKC row's signature recovers to another address under every EVM scheme
    assert status[("ETC", "OKC")]["status"] == "invalid"
    assert "recovers to 0x847777" in status[("ETC", "OKC")]["reason"]
    assert code == EXIT_INVALID
    assert doc["counts"] == {"valid": 2, "invalid": 1, "unsigned": 0, "unsupported": 6}
    assert set(doc["summary"]) >= {"USDT", "BTC", "TRX"}
    assert "unsupported" in render_ownership(doc)


def test_okx_only_the_valid_rows(tmp_path: Path) -> None:
    lines = OKX.read_text().splitlines()
    keep = [lines[0], lines[1], lines[3]]
    (tmp_path / "ok.csv").write_text("\n".join(keep) + "\n")
    doc, code = verify_ownership(tmp_path / "ok.csv", "okx")
    assert code == EXIT_OK and [r["status"] for r in doc["rows"]] == ["valid", "valid"]


@pytest.mark.parametrize("target", ["evm-signature", "evm-address", "btc-signature", "btc-address"])
def test_okx_tampered_rows_are_invalid(tmp_path: Path, target: str) -> None:
    lines = OKX.read_text().splitlines()
    header, evm, btc = lines[0], lines[1].split(","), lines[3].split(",")
    if target == "evm-signature":
        evm[3] = _flip_hex_byte(evm[3])
    elif target == "evm-address":
        evm[2] = "0x6a32bea6b4050763a6673202efde42ad87bec0b6"
    elif target == "btc-signature":
        raw = bytearray(base64.b64decode(btc[3]))
        raw[20] ^= 1
        btc[3] = base64.b64encode(bytes(raw)).decode()
    else:
        btc[2] = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
    (tmp_path / "t.csv").write_text("\n".join([header, ",".join(evm), ",".join(btc)]) + "\n")
    doc, code = verify_ownership(tmp_path / "t.csv", "okx")
    assert code == EXIT_INVALID
    bad = [r for r in doc["rows"] if r["status"] == "invalid"]
    assert len(bad) == 1 and bad[0]["reason"]


def test_summa_sample_verifies() -> None:
    doc, code = verify_ownership(SUMMA, "summa")
    assert code == EXIT_OK
    assert [r["status"] for r in doc["rows"]] == ["valid", "valid"]
    assert {r["scheme"] for r in doc["rows"]} == {"eip191-keccak256-abi"}
    assert doc["summary"]["ETH"]["valid"] == 2


@pytest.mark.parametrize("field", [1, 2, 3])
def test_summa_tampered(tmp_path: Path, field: int) -> None:
    lines = SUMMA.read_text().splitlines()
    cells = lines[1].split(";")
    if field == 1:
        cells[1] = cells[1][:-1] + ("9" if cells[1][-1] != "9" else "8")
    elif field == 2:
        cells[2] = _flip_hex_byte(cells[2], 40)
    else:
        cells[3] = cells[3] + "!"
    lines[1] = ";".join(cells)
    (tmp_path / "s.csv").write_text("\n".join(lines) + "\n")
    doc, code = verify_ownership(tmp_path / "s.csv", "summa")
    assert code == EXIT_INVALID
    assert [r["status"] for r in doc["rows"]] == ["invalid", "valid"]


# ----------------------------------------------------------------------------- htx


def _bip137(secret: bytes, message: str) -> str:
    def varint(n: int) -> bytes:
        return bytes([n]) if n < 253 else b"\xfd" + n.to_bytes(2, "little")

    payload = b"\x18Bitcoin Signed Message:\n" + varint(len(message.encode())) + message.encode()
    digest = hashlib.sha256(hashlib.sha256(payload).digest()).digest()
    sig = coincurve.PrivateKey(secret).sign_recoverable(digest, hasher=None)
    return base64.b64encode(bytes([39 + sig[64]]) + sig[:64]).decode()


def _p2wpkh(secret: bytes) -> str:
    key = coincurve.PrivateKey(secret).public_key.format(compressed=True)
    return embit_bech32.encode("bc", 0, embit_hashes.hash160(key))


def _raw_keccak(secret: bytes, message: str) -> tuple[str, str]:
    key = eth_keys.PrivateKey(secret)
    sig = key.sign_msg_hash(keccak(text=message))
    v, r, s = sig.vrs
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v + 27])
    return key.public_key.to_checksum_address(), "0x" + raw.hex()


def _htx_file(tmp_path: Path, *, tamper: str = "") -> Path:
    message = "HTX proof of reserves 2025-11"
    btc_key, eth_key = bytes([7]) * 32, bytes([9]) * 32
    btc_addr, btc_sig = _p2wpkh(btc_key), _bip137(btc_key, message)
    eth_addr, eth_sig = _raw_keccak(eth_key, message)
    if tamper == "signature":
        eth_sig = _flip_hex_byte(eth_sig, 5)
    if tamper == "address":
        btc_addr = _p2wpkh(bytes([8]) * 32)
    lines = [
        "coin,balance",
        "BTC,3.5",
        "ETH,100.25",
        "XRP,1000",
        "",
        ",".join(["coin", "address", "snapshot height", "balance", "message", "signature"]),
        f"BTC,{btc_addr},900000,1.25,{message},{btc_sig}",
        "BTC,bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh,900000,2.25,-,-",
        f"ETH,{eth_addr},21000000,100.25,{message},{eth_sig}",
        # XRP has no verifier here: a signed XRP row is reported unsupported, never failed
        f"XRP,rPT1Sjq2YGrBMTttX4GZHjKu9dyfzbpAYe,70000000,1000,{message},0x00",
    ]
    path = tmp_path / "htx.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_htx_file(tmp_path: Path) -> None:
    doc, code = verify_ownership(_htx_file(tmp_path), "htx")
    assert code == EXIT_OK, doc
    assert [r["status"] for r in doc["rows"]] == ["valid", "unsigned", "valid", "unsupported"]
    assert doc["rows"][2]["scheme"] == "raw-keccak256"
    btc = doc["summary"]["BTC"]
    assert (btc["proven_balance"], btc["unsigned_balance"], btc["reported_balance"]) == (
        "1.25",
        "2.25",
        "3.5",
    )
    assert doc["summary"]["ETH"]["proven_balance"] == "100.25"
    assert doc["summary"]["XRP"]["unsupported"] == 1
    assert [r["chain"] for r in doc["rows"]] == ["bitcoin", "bitcoin", "ethereum", "xrp"]


@pytest.mark.parametrize("tamper", ["signature", "address"])
def test_htx_tampered(tmp_path: Path, tamper: str) -> None:
    doc, code = verify_ownership(_htx_file(tmp_path, tamper=tamper), "htx")
    assert code == EXIT_INVALID
    assert sum(r["status"] == "invalid" for r in doc["rows"]) == 1


def test_htx_without_ownership_section(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("coin,balance\nBTC,1\n")
    with pytest.raises(InputError, match="no ownership section"):
        verify_ownership(tmp_path / "x.csv", "htx")


# ----------------------------------------------------------------------------- por


def test_por_attestation_wallets() -> None:
    doc, code = verify_ownership(POR, "por")
    statuses = {r["status"] for r in doc["rows"]}
    assert statuses <= set(OWNERSHIP_STATUSES)
    assert any(r["scheme"] == "p2wsh-multisig" and r["status"] == "valid" for r in doc["rows"])
    assert any(r["status"] == "unsupported" and "EIP-1271" in r["reason"] for r in doc["rows"])
    assert doc["summary"]["BTC"]["proven_balance"] is not None
    assert code == (EXIT_INVALID if "invalid" in statuses else EXIT_OK)


def test_unknown_format_is_usage() -> None:
    with pytest.raises(UsageError):
        verify_ownership(OKX, "binance")
    with pytest.raises(InputError):
        verify_ownership_file(SUMMA.read_bytes(), "okx")


# ----------------------------------------------------------------------------- hostile input
# (issue 10; the CLI-level sweep is tests/unit/test_formats_hostile.py)


@pytest.mark.parametrize("ending", [b"\r", b"\r\n"])
@pytest.mark.parametrize(("sample", "fmt"), [(OKX, "okx"), (SUMMA, "summa")])
def test_cr_only_and_crlf_files_read_as_lf(sample: Path, fmt: str, ending: bytes) -> None:
    expected = verify_ownership_file(sample.read_bytes(), fmt).to_json()
    got = verify_ownership_file(sample.read_bytes().replace(b"\n", ending), fmt).to_json()
    assert got == expected


def test_htx_cr_only_file_keeps_its_line_numbers(tmp_path: Path) -> None:
    data = _htx_file(tmp_path).read_bytes()
    expected = verify_ownership_file(data, "htx").to_json()
    assert verify_ownership_file(data.replace(b"\n", b"\r"), "htx").to_json() == expected
    assert [r["line"] for r in expected["rows"]] == [7, 8, 9, 10]


def test_a_stray_carriage_return_is_refused_with_its_line() -> None:
    lines = SUMMA.read_text().splitlines()
    lines[2] = lines[2].replace(";Summa", ";\rSumma")
    with pytest.raises(InputError) as info:
        verify_ownership_file(("\n".join(lines) + "\n").encode(), "summa", "s.csv")
    assert (info.value.file, info.value.line) == ("s.csv", 3)
    assert "carriage return" in info.value.message and "0x3C44" in info.value.message


def test_a_trailing_carriage_return_at_the_end_is_a_line_end() -> None:
    data = SUMMA.read_bytes().rstrip(b"\n") + b"\r"
    assert verify_ownership_file(data, "summa").valid


@pytest.mark.parametrize(
    "amount", ["9" * 5000, "1." + "5" * 300, "1e999999999", "NaN", "\u0661", "0x10"]
)
def test_htx_amounts_are_exact_or_refused(tmp_path: Path, amount: str) -> None:
    data = _htx_file(tmp_path).read_text().replace("ETH,100.25\n", f"ETH,{amount}\n", 1)
    with pytest.raises(InputError) as info:
        verify_ownership_file(data.encode(), "htx", "h.csv")
    assert (info.value.file, info.value.line, info.value.key) == ("h.csv", 3, "balance")


def test_row_errors_name_file_line_and_row() -> None:
    with pytest.raises(InputError) as info:
        verify_ownership_file(b"chain;address;signature;message\nETH;0x00\n", "summa", "s.csv")
    assert (info.value.file, info.value.line) == ("s.csv", 2)
    assert "found 2" in info.value.message and "ETH;0x00" in info.value.message
    with pytest.raises(InputError) as info:
        verify_ownership_file(b"\xff\xfe", "okx", "o.csv")
    assert info.value.file == "o.csv" and "UTF-8" in info.value.message


def test_a_field_beyond_the_csv_limit_is_an_input_error() -> None:
    data = b'chain;address;signature;message\nETH;"' + b"a" * 200_000 + b'";0x;m\n'
    with pytest.raises(InputError, match="not CSV"):
        verify_ownership_file(data, "summa")


@pytest.mark.parametrize(
    "data",
    [b"[" * 100_000 + b"]" * 100_000, b'{"format": ' + b"9" * 5000 + b"}", b"\xff"],
    ids=["deep", "digits", "utf-8"],
)
def test_por_attestation_that_cannot_be_read_is_an_input_error(data: bytes) -> None:
    with pytest.raises(InputError) as info:
        verify_ownership_file(data, "por", "a.json")
    assert info.value.file == "a.json"
