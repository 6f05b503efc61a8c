"""por.toml: good files load into typed values; every bad key is named with its file."""

from __future__ import annotations

from pathlib import Path

import pytest

from chains.base import Attribution, WalletClass
from verifier.base.errors import InputError
from verifier.inputs.config import load_config

GOOD = """
[exchange]
name = "Example Exchange"
attestation_id = "exch-2026-11"

[bitcoin]
backend = "bcoin"
url = "http://127.0.0.1:1"
network = "regtest"
password_file = "rpc.pass"

[[bitcoin.wallets]]
label = "cold-1"
class = "cold"
address = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
ownership = { scheme = "bip137", signature = "H..." }

[[bitcoin.wallets]]
label = "hot"
class = "hot"
attribution = "own"
xpub = "tpubD6NzVbkrYhZ4XgiXtGrdW5XDAPFCL9h7we1vwNCpn8tGbBcgfVYjXyhWo4E1xkh56hjod1RhGjxbaTLV3X4FyWuejifB9jusQ46QzG87VKp"
script = "p2sh-p2wpkh"
gap_limit = 5

[[bitcoin.wallets]]
label = "vault"
class = "custodial"
multisig = { m = 2, keys = ["02aa", "03bb", "02cc"], script = "p2sh-p2wsh" }

[ethereum]
url = "http://127.0.0.1:2"
chain_id = 31337
trustless = true

[[ethereum.tokens]]
code = "USDT"
contract = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
decimals = 6

[[ethereum.wallets]]
address = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
ownership = { scheme = "eip191", signature = "0x00" }

[snapshot]
count_custodial = true
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "por.toml"
    path.write_text(text)
    return path


def test_good_config_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.exchange == "Example Exchange"
    assert config.bitcoin is not None and config.ethereum is not None
    assert config.bitcoin.password_file == tmp_path / "rpc.pass"  # relative to the file
    kinds = [w.kind for w in config.bitcoin.wallets]
    assert kinds == ["address", "xpub", "multisig"]
    hot = config.bitcoin.wallets[1]
    assert (hot.wallet_class, hot.attribution, hot.gap_limit) == (
        WalletClass.HOT,
        Attribution.OWN,
        5,
    )
    vault = config.bitcoin.wallets[2]
    assert vault.multisig_m == 2 and vault.script == "p2sh-p2wsh"
    assert config.ethereum.tokens[0].decimals == 6 and config.ethereum.trustless
    assert config.count_custodial
    # node limits: the documented defaults, and the URL as written
    for node in (config.bitcoin, config.ethereum):
        assert (node.timeout, node.concurrency, node.max_reply_bytes) == (30, 8, 64 << 20)
    assert config.bitcoin.node_url() == "http://127.0.0.1:1"
    assert config.ethereum.node_url() == "http://127.0.0.1:2"


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('backend = "bcoin"', 'backend = "electrum"', "bitcoin.backend"),
        ('network = "regtest"', 'network = "moon"', "bitcoin.network"),
        ('class = "cold"', 'class = "frozen"', "bitcoin.wallets[0].class"),
        ("gap_limit = 5", "gap_limit = 0", "bitcoin.wallets[1].gap_limit"),
        ("m = 2, keys", "m = 4, keys", "bitcoin.wallets[2].multisig.m"),
        ("chain_id = 31337", 'chain_id = "31337"', "ethereum.chain_id"),
        ("decimals = 6", "decimals = 99", "ethereum.tokens[0].decimals"),
        (
            'contract = "0x5FbDB2315678afecb367f032d93F642f64180aa3"',
            'contract = "0x12"',
            "ethereum.tokens[0].contract",
        ),
        (
            'address = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"',
            'address = "bc1q"',
            "ethereum.wallets[0].address",
        ),
        (
            'ownership = { scheme = "eip191", signature = "0x00" }',
            'ownership = { signature = "0x00" }',
            "ethereum.wallets[0].ownership.scheme",
        ),
        ("count_custodial = true", "count_custodial = 1", "snapshot.count_custodial"),
        ("[snapshot]", "[snapshot]\nsurprise = 1", "snapshot.surprise"),
    ],
)
def test_bad_values_name_file_and_key(tmp_path: Path, old: str, new: str, key: str) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(InputError) as info:
        load_config(path)
    assert info.value.key == key
    assert info.value.file == str(path)


def test_wallet_needs_exactly_one_kind(tmp_path: Path) -> None:
    text = GOOD.replace('label = "cold-1"', 'label = "cold-1"\nxpub = "tpub"')
    with pytest.raises(InputError, match="exactly one"):
        load_config(write(tmp_path, text))


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(InputError, match="not valid TOML"):
        load_config(write(tmp_path, "[exchange\n"))
    with pytest.raises(InputError, match="at least one"):
        load_config(write(tmp_path, '[exchange]\nname = "x"\nattestation_id = "y"\n'))
