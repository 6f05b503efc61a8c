"""HTX ownership files: EVM raw keccak256 then EIP-191, and rows on TRON, Solana, Algorand,
Dogecoin and Litecoin.

Evidence: HTX's published ``huobi_por.csv`` (fixtures/samples/htx, huobiapi/Tool-Node.js-
VerifyAddress @ 041da736), whose 20 signed EVM rows HTX's verifier accepts through its EIP-191
fallback, and HTX-layout files signed here with keys made in the test (eth_keys, coincurve,
cryptography's Ed25519): one row per scheme and variant. Tampered copies (a signature byte,
an address, the message) are invalid, naming the check.
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from pathlib import Path

import coincurve
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from embit import base58
from eth_keys import keys as eth_keys
from eth_utils import keccak

from chains.ed25519_signatures import algorand_address, solana_address
from chains.tron_signatures import tron_address
from verifier.base.errors import EXIT_INVALID, EXIT_OK
from verifier.external.check import render_ownership, verify_ownership
from verifier.external.ownership_evm import eip191_digest

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"
HTX = SAMPLES / "htx" / "huobi_por.csv"
MESSAGE = "htx"


# ----------------------------------------------------------------------------- the real file


def test_htx_published_file_verifies_with_the_eip191_fallback() -> None:
    doc, code = verify_ownership(HTX, "htx")
    assert code == EXIT_OK
    rows = doc["rows"]
    evm = [r for r in rows if r["chain"] in ("ethereum", "heco", "evm") and r["status"] == "valid"]
    assert len(evm) == 20 and {r["scheme"] for r in evm} == {"eip191"}
    tron = [r for r in rows if r["chain"] == "tron" and r["status"] == "valid"]
    assert len(tron) == 19 and {(r["scheme"], r["variant"]) for r in tron} == {
        ("tron-message", "v1-keccak")
    }
    assert Counter(r["status"] for r in rows) == {"valid": 43, "unsigned": 5}
    assert doc["summary"]["BTC"]["proven_balance"] == "11959.82346997"  # 4 signed BTC rows
    assert doc["summary"]["BTC"]["unsigned_balance"] == "80.5541147"
    assert doc["summary"]["BTC"]["total_balance"] == "12040.37758467"
    assert doc["summary"]["BTC(ALL)"]["reported_balance"] == "21816.10212"
    assert doc["summary_by_chain"]["tron"]["USDT-TRC20"]["unsigned"] == 1
    text = render_ownership(doc)
    assert "summary by chain:" in text and "tron-message (v1-keccak)" in text


def test_htx_published_file_tampered_tron_row_names_the_check(tmp_path: Path) -> None:
    text = HTX.read_text()
    line = next(ln for ln in text.splitlines() if ln.startswith("TRX,TYh6"))
    sig = line.rsplit(",", 1)[1]
    flipped = sig[:20] + ("0" if sig[20] != "0" else "1") + sig[21:]
    (tmp_path / "h.csv").write_text(text.replace(line, line.replace(sig, flipped)))
    doc, code = verify_ownership(tmp_path / "h.csv", "htx")
    assert code == EXIT_INVALID
    [bad] = [r for r in doc["rows"] if r["status"] == "invalid"]
    assert bad["chain"] == "tron" and bad["check"] and bad["reason"]


# ----------------------------------------------------------------------------- signers


def _evm(secret: bytes, scheme: str, message: str = MESSAGE) -> tuple[str, str]:
    key = eth_keys.PrivateKey(secret)
    digest = keccak(text=message) if scheme == "raw" else eip191_digest(message.encode())
    v, r, s = key.sign_msg_hash(digest).vrs
    sig = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v + 27])
    return key.public_key.to_checksum_address().lower(), "0x" + sig.hex()


def _tron(secret: bytes, message: str = MESSAGE) -> tuple[str, str]:
    """TronWeb v1 over keccak256(message), recovery byte 00/01 as HTX's files have it."""
    key = eth_keys.PrivateKey(secret)
    digest = keccak(b"\x19TRON Signed Message:\n32" + keccak(message.encode()))
    v, r, s = key.sign_msg_hash(digest).vrs
    sig = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v])
    return tron_address(b"\x04" + key.public_key.to_bytes()), sig.hex()


def _ed25519(seed: int) -> tuple[Ed25519PrivateKey, bytes]:
    key = Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)
    return key, key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _solana(seed: int, message: str = MESSAGE) -> tuple[str, str]:
    key, public = _ed25519(seed)
    return solana_address(public), base64.b64encode(key.sign(message.encode())).decode()


def _algorand(seed: int, message: str = MESSAGE) -> tuple[str, str]:
    key, public = _ed25519(seed)
    return algorand_address(public), base64.b64encode(key.sign(message.encode())).decode()


def _altcoin(secret: bytes, magic: bytes, version: int, message: str = MESSAGE) -> tuple[str, str]:
    """A P2PKH address (compressed key) and its signed message under `magic`."""
    key = coincurve.PrivateKey(secret)
    payload = bytes([len(magic)]) + magic + bytes([len(message)]) + message.encode()
    digest = hashlib.sha256(hashlib.sha256(payload).digest()).digest()
    sig = key.sign_recoverable(digest, hasher=None)
    h160 = hashlib.new("ripemd160", hashlib.sha256(key.public_key.format()).digest()).digest()
    address = base58.encode_check(bytes([version]) + h160)
    return address, base64.b64encode(bytes([31 + sig[64]]) + sig[:64]).decode()


def _rows() -> dict[str, tuple[str, str, str]]:
    """Coin name → (coin, address, signature), one per scheme and variant."""
    return {
        "raw": ("HT-ETH", *_evm(bytes([1]) * 32, "raw")),
        "eip191": ("ETH", *_evm(bytes([2]) * 32, "eip191")),
        "tron": ("USDT-TRC20", *_tron(bytes([3]) * 32)),
        "solana": ("USDT-SOL", *_solana(4)),
        "algorand": ("USDT-ALGO", *_algorand(5)),
        "dogecoin": ("DOGE", *_altcoin(bytes([6]) * 32, b"Dogecoin Signed Message:\n", 0x1E)),
        "litecoin": ("LTC", *_altcoin(bytes([7]) * 32, b"Litecoin Signed Message:\n", 0x30)),
    }


def _file(tmp_path: Path, rows: dict[str, tuple[str, str, str]]) -> Path:
    lines = ["coin,snapshot height,balance", "ETH(ALL),-,3", "", "coin,address,snapshot "
             "height,balance,message,signature"]  # fmt: skip
    lines += [f"{coin},{address},100,1.5,{MESSAGE},{sig}" for coin, address, sig in rows.values()]
    lines += ["DOGE,DH5yaieqoZN36fDVciNyRueRGvGLR3mr7L,100,7,-,-", "XRP,rPT1Sjq2YGrBMTttX4GZHjKu9dyfzbpAYe,100,9,-,-"]  # fmt: skip
    path = tmp_path / "htx.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_every_scheme_signed_here_verifies_and_says_which(tmp_path: Path) -> None:
    doc, code = verify_ownership(_file(tmp_path, _rows()), "htx")
    assert code == EXIT_OK, render_ownership(doc)
    got = [(r["chain"], r["status"], r["scheme"], r["variant"]) for r in doc["rows"]]
    assert got == [
        ("ethereum", "valid", "raw-keccak256", None),
        ("ethereum", "valid", "eip191", None),
        ("tron", "valid", "tron-message", "v1-keccak"),
        ("solana", "valid", "solana-message", "base64"),
        ("algorand", "valid", "algorand-message", got[4][3]),
        ("dogecoin", "valid", "dogecoin-message", got[5][3]),
        ("litecoin", "valid", "litecoin-message", got[6][3]),
        ("dogecoin", "unsigned", None, None),
        ("xrp", "unsigned", None, None),
    ]
    assert got[4][3] and got[5][3] and got[6][3]  # each verifier names its variant
    assert doc["summary_by_chain"]["ethereum"]["ETH"]["proven_balance"] == "1.5"
    assert doc["summary_by_chain"]["dogecoin"]["DOGE"]["unsigned_balance"] == "7"
    assert doc["summary"]["DOGE"]["total_balance"] == "8.5"


def test_raw_keccak_is_tried_before_eip191(tmp_path: Path) -> None:
    """A signature valid under both can only come from the same key; the first one wins."""
    doc, _ = verify_ownership(_file(tmp_path, {"raw": _rows()["raw"]}), "htx")
    assert doc["rows"][0]["scheme"] == "raw-keccak256"


@pytest.mark.parametrize("name", ["raw", "eip191", "tron", "solana", "algorand", "dogecoin", "litecoin"])  # fmt: skip
@pytest.mark.parametrize("target", ["signature", "address"])
def test_tampered_rows_fail_naming_the_check(tmp_path: Path, name: str, target: str) -> None:
    rows = _rows()
    coin, address, sig = rows[name]
    if target == "signature":
        raw = bytearray(base64.b64decode(sig)) if name in ("solana", "algorand", "dogecoin", "litecoin") else None  # fmt: skip
        if raw is not None:
            raw[10] ^= 1
            sig = base64.b64encode(bytes(raw)).decode()
        else:
            body = sig.removeprefix("0x")
            body = body[:20] + ("0" if body[20] != "0" else "1") + body[21:]
            sig = ("0x" if sig.startswith("0x") else "") + body
    else:  # another address of the same chain: the one of the next row's key
        other = {"raw": "eip191", "eip191": "raw"}.get(name, name)
        seeds = {
            "tron": lambda: _tron(bytes([9]) * 32),
            "solana": lambda: _solana(9),
            "algorand": lambda: _algorand(9),
            "dogecoin": lambda: _altcoin(bytes([9]) * 32, b"Dogecoin Signed Message:\n", 0x1E),
            "litecoin": lambda: _altcoin(bytes([9]) * 32, b"Litecoin Signed Message:\n", 0x30),
        }
        address = seeds[name]()[0] if name in seeds else rows[other][1]
    doc, code = verify_ownership(_file(tmp_path, {name: (coin, address, sig)}), "htx")
    assert code == EXIT_INVALID
    row = doc["rows"][0]
    assert row["status"] == "invalid" and row["check"] and row["reason"], row
    assert row["scheme"]


def test_evm_failure_names_both_schemes(tmp_path: Path) -> None:
    coin, _, sig = _rows()["raw"]
    other = _rows()["eip191"][1]
    doc, _ = verify_ownership(_file(tmp_path, {"raw": (coin, other, sig)}), "htx")
    row = doc["rows"][0]
    assert row["check"] == "recovered key" and row["scheme"] == "raw-keccak256,eip191"
    assert "(raw-keccak256)" in row["reason"] and "(eip191)" in row["reason"]


def test_a_signed_row_on_a_chain_without_verifier_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text(
        "coin,address,snapshot height,balance,message,signature\n"
        "XRP,rPT1Sjq2YGrBMTttX4GZHjKu9dyfzbpAYe,1,2,htx,abcd\n"
        "ADA,addr1v9500j9f8sgnw9uftxmuc429kyy2mduuaj3649rw779v8ks4nyrxz,1,3,htx,abcd\n"
    )
    doc, code = verify_ownership(path, "htx")
    assert code == EXIT_OK
    assert [(r["status"], r["chain"]) for r in doc["rows"]] == [
        ("unsupported", "xrp"),
        ("unsupported", None),
    ]
    assert doc["summary_by_chain"]["unknown"]["ADA"]["unsupported_balance"] == "3"
