"""por.toml under hostile or careless settings: every one is exit 3 naming the key.

- a wallet listed twice (same address in another spelling, the same xpub or key set, an
  xpub that derives a listed address) is refused in every command that reads the config,
  with both wallets named, instead of being counted twice by `por snapshot`;
- malformed node URLs (`http://[::1`, `file:///`, no host, a bad port, credentials in the
  URL and in a password file) are refused naming the key, the URL masked;
- every numeric setting is an integer in a range: a zero or negative timeout or
  concurrency (which hung), booleans, strings and absurd values are refused;
- node URLs can come from a file (`url_file`, not readable by others) or the environment
  (`url_env`), read only when a node is used and never echoed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from chains import btc_wallets
from chains.base import BlockRef, Chain, ChainSnapshot, OwnershipCheck
from verifier.base.errors import InputError
from verifier.cli.main import main
from verifier.holdings.plans import (
    bitcoin_adapter,
    bitcoin_addresses,
    build_plans,
    ethereum_adapter,
)
from verifier.holdings.snapshot import ChainPlan, take_snapshot
from verifier.inputs.config import load_config
from verifier.inputs.config_values import address_key

SECRET = "s3cr3tAPIkey0123456789abcdef"
"""A key-like secret: masked wherever a URL holding it is shown."""
BECH32 = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
ETH = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
XPUB = (
    "tpubD6NzVbkrYhZ4XgiXtGrdW5XDAPFCL9h7we1vwNCpn8tGbBcgfVYjXyhWo4E1xkh56hjod1RhGjxbaTLV3X4F"
    "yWuejifB9jusQ46QzG87VKp"
)

HEAD = """
[exchange]
name = "Example Exchange"
attestation_id = "exch-2026-11"
"""

BITCOIN = """
[bitcoin]
backend = "bcoin"
url = "http://127.0.0.1:1"
network = "regtest"
"""

ETHEREUM = """
[ethereum]
url = "http://127.0.0.1:2"
chain_id = 31337
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "por.toml"
    path.write_text(text)
    return path


def wallet(section: str, label: str, body: str) -> str:
    return f'\n[[{section}.wallets]]\nlabel = "{label}"\nclass = "cold"\n{body}\n'


def refused(tmp_path: Path, text: str) -> InputError:
    path = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_config(path)
    assert info.value.file == str(path)
    return info.value


@pytest.fixture
def por(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """por(*args) -> (exit code, stdout, stderr), in-process, one-line messages."""
    monkeypatch.setenv("COLUMNS", "100000")

    def run(*args: object) -> tuple[int, str, str]:
        capsys.readouterr()
        rc = main([str(a) for a in args])
        captured = capsys.readouterr()
        return rc, captured.out, " ".join(captured.err.split())

    return run


# ---------------------------------------------------------------------- a wallet twice


@pytest.mark.parametrize(
    ("section", "first", "second", "name"),
    [
        ("bitcoin", f'address = "{BECH32}"', f'address = "{BECH32}"', "address"),
        # bech32 is case-insensitive: the upper-case spelling is the same address
        ("bitcoin", f'address = "{BECH32}"', f'address = "{BECH32.upper()}"', "address"),
        ("bitcoin", f'xpub = "{XPUB}"', f'xpub = "{XPUB}"', "xpub"),
        (
            "bitcoin",
            'multisig = { m = 2, keys = ["02aa", "03bb", "02cc"] }',
            'multisig = { m = 2, keys = ["03bb", "02cc", "02aa"] }',  # sorted: the same
            "multisig",
        ),
        ("ethereum", f'address = "{ETH}"', f'address = "{ETH}"', "address"),
        # EIP-55 is a checksum in the case: the lower-case spelling is the same address
        ("ethereum", f'address = "{ETH}"', f'address = "{ETH.lower()}"', "address"),
    ],
)
def test_a_wallet_listed_twice_is_refused_naming_both(
    tmp_path: Path, section: str, first: str, second: str, name: str
) -> None:
    node = BITCOIN if section == "bitcoin" else ETHEREUM
    text = HEAD + node + wallet(section, "cold-1", first) + wallet(section, "copy", second)
    error = refused(tmp_path, text)
    assert error.key == f"{section}.wallets[1].{name}"
    assert "'cold-1'" in error.message and "'copy'" in error.message
    assert "twice" in error.message


def test_distinct_wallets_and_one_xpub_in_two_scripts_are_fine(tmp_path: Path) -> None:
    text = (
        HEAD
        + BITCOIN
        + wallet("bitcoin", "a", f'address = "{BECH32}"')
        + wallet("bitcoin", "b", 'address = "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn"')
        + wallet("bitcoin", "c", f'xpub = "{XPUB}"\nscript = "p2wpkh"')
        + wallet("bitcoin", "d", f'xpub = "{XPUB}"\nscript = "p2pkh"')
        + wallet("bitcoin", "e", 'multisig = { m = 2, keys = ["02aa", "03bb"], sorted = false }')
        + wallet("bitcoin", "f", 'multisig = { m = 2, keys = ["03bb", "02aa"], sorted = false }')
    )
    config = load_config(write(tmp_path, text))
    assert config.bitcoin is not None and len(config.bitcoin.wallets) == 6


def test_address_key_is_canonical() -> None:
    assert address_key(Chain.BITCOIN, BECH32.upper()) == address_key(Chain.BITCOIN, BECH32)
    assert address_key(Chain.ETHEREUM, ETH.lower()) == address_key("ethereum", ETH)
    # base58 is case-sensitive: another case is another (or no) address
    base58 = "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn"
    assert address_key(Chain.BITCOIN, base58) != address_key(Chain.BITCOIN, base58.lower())


def test_snapshot_cli_refuses_a_wallet_listed_twice(tmp_path: Path, por: Any) -> None:
    text = (
        HEAD
        + BITCOIN
        + wallet("bitcoin", "cold-1", f'address = "{BECH32}"')
        + wallet("bitcoin", "cold-again", f'address = "{BECH32}"')
    )
    rc, out, err = por("snapshot", "--config", write(tmp_path, text))
    assert rc == 3, err
    assert "cold-1" in err and "cold-again" in err and BECH32 in err
    assert "bitcoin.wallets[1].address" in err
    assert "Traceback" not in err + out


class _PinnedOnly:
    """An adapter that pins a block and must never be asked for balances."""

    chain = Chain.BITCOIN
    block = BlockRef(Chain.BITCOIN, "regtest", 7, "ab" * 32)

    async def __aenter__(self) -> _PinnedOnly:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def tip(self) -> BlockRef:
        return self.block

    async def block_at(self, height: int) -> BlockRef:
        return self.block

    async def holdings(self, addresses: Sequence[str], at: BlockRef) -> ChainSnapshot:
        raise AssertionError("balances read although an address is listed twice")

    async def aclose(self) -> None:
        return None


def test_an_xpub_deriving_a_listed_address_is_refused_before_any_balance(
    tmp_path: Path,
) -> None:
    derived = btc_wallets.xpub_addresses(XPUB, script="p2wpkh", network="regtest", count=3)
    text = (
        HEAD
        + BITCOIN.replace('"bcoin"', '"core"')
        + wallet("bitcoin", "hot", f'xpub = "{XPUB}"\nscript = "p2wpkh"\ngap_limit = 3')
        + wallet("bitcoin", "also-listed", f'address = "{derived[1].upper()}"')
    )
    config = load_config(write(tmp_path, text))  # the config alone cannot see it
    assert config.bitcoin is not None
    adapter = _PinnedOnly()

    async def expand(w: Any) -> Sequence[str]:
        return await bitcoin_addresses(w, "regtest", adapter)  # type: ignore[arg-type]

    async def verify(*args: Any) -> OwnershipCheck:
        raise AssertionError("ownership checked although an address is listed twice")

    plan = ChainPlan(
        chain=Chain.BITCOIN,
        adapter=adapter,  # type: ignore[arg-type]
        assets=(("BTC", 8),),
        expand=expand,
        verify=verify,
        wallets=config.bitcoin.wallets,
    )
    with pytest.raises(InputError) as info:
        asyncio.run(take_snapshot(config, [plan]))
    assert "'hot'" in info.value.message and "'also-listed'" in info.value.message
    assert info.value.key == "bitcoin.wallets[1]"
    assert info.value.value is not None and info.value.value.lower() == derived[1]


# ---------------------------------------------------------------------- node URLs


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1",
        "file:///etc/passwd",
        "ftp://127.0.0.1/",
        "127.0.0.1:8332",
        "http://",
        "http:///rpc",
        "http://:8332",
        "http://127.0.0.1:99999",
        "http://127.0.0.1:0",
        "http://127.0.0.1:port",
        "http://127.0.0.1:8332/a b",
        "",
    ],
)
@pytest.mark.parametrize("section", ["bitcoin", "ethereum"])
def test_malformed_node_urls_name_the_key(tmp_path: Path, section: str, url: str) -> None:
    node = BITCOIN if section == "bitcoin" else ETHEREUM
    old = 'url = "http://127.0.0.1:1"' if section == "bitcoin" else 'url = "http://127.0.0.1:2"'
    error = refused(tmp_path, HEAD + node.replace(old, f"url = {json.dumps(url)}"))
    assert error.key == f"{section}.url"
    assert "URL" in error.message


@pytest.mark.parametrize("source", ['password_file = "rpc.pass"', 'password_env = "POR_PW"'])
def test_credentials_in_the_url_and_a_password_are_refused_masked(
    tmp_path: Path, source: str
) -> None:
    text = HEAD + BITCOIN.replace("http://127.0.0.1:1", f"http://por:{SECRET}@127.0.0.1:1")
    error = refused(tmp_path, text.replace('network = "regtest"', f'network = "regtest"\n{source}'))
    assert error.key == "bitcoin.url"
    assert "one way" in error.message
    assert SECRET not in error.message and "por:***@127.0.0.1" in error.message


def test_malformed_url_messages_mask_the_key(tmp_path: Path) -> None:
    url = f"ftp://127.0.0.1/v3/{SECRET}?apikey={SECRET}"
    error = refused(tmp_path, HEAD + ETHEREUM.replace("http://127.0.0.1:2", url))
    assert error.key == "ethereum.url" and SECRET not in error.message


def test_snapshot_cli_names_the_url_key(tmp_path: Path, por: Any) -> None:
    text = HEAD + BITCOIN.replace("http://127.0.0.1:1", "http://[::1")
    rc, out, err = por("snapshot", "--config", write(tmp_path, text), "--json")
    assert rc == 3
    assert "bitcoin.url" in err and "Traceback" not in err
    assert json.loads(out)["key"] == "bitcoin.url"


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ('cookie_file = "a.cookie"\npassword_file = "rpc.pass"', "bitcoin.password_file"),
        ('password_file = "rpc.pass"\npassword_env = "POR_PW"', "bitcoin.password_env"),
    ],
)
def test_two_credential_sources_are_refused(tmp_path: Path, extra: str, key: str) -> None:
    text = HEAD + BITCOIN.replace('network = "regtest"', f'network = "regtest"\n{extra}')
    assert refused(tmp_path, text).key == key


def test_esplora_takes_no_password(tmp_path: Path) -> None:
    text = HEAD + BITCOIN.replace('"bcoin"', '"esplora"')
    text = text.replace('network = "regtest"', 'network = "regtest"\npassword_env = "X"')
    error = refused(tmp_path, text)
    assert error.key == "bitcoin.password_env" and "url_file" in error.message


# ---------------------------------------------------------------------- numbers


NUMBERS = [
    ("bitcoin", "timeout", ["0", "-1", "3601", "99999999999", "true", '"30"', "1.5", "inf"]),
    ("bitcoin", "concurrency", ["0", "-3", "257", "false", '"8"', "8.0"]),
    ("bitcoin", "max_reply_bytes", ["0", "-1", "1023", "4294967297", "true", '"64MiB"']),
    ("ethereum", "timeout", ["0", "-5", "10000", "true", '"30"']),
    ("ethereum", "concurrency", ["0", "1000", "true", "[]"]),
    ("ethereum", "max_reply_bytes", ["0", "9223372036854775807", "1e9"]),
    ("ethereum", "chain_id", ["0", "-1", "true", '"1"']),
]


@pytest.mark.parametrize(
    ("section", "name", "value"),
    [(s, n, v) for s, n, values in NUMBERS for v in values],
)
def test_node_numbers_out_of_range_name_the_key(
    tmp_path: Path, section: str, name: str, value: str
) -> None:
    node = BITCOIN if section == "bitcoin" else ETHEREUM
    if name == "chain_id":
        node = node.replace("chain_id = 31337", f"chain_id = {value}")
    else:
        node += f"{name} = {value}\n"
    error = refused(tmp_path, HEAD + node)
    assert error.key == f"{section}.{name}"
    assert "must be an integer from" in error.message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (
            ETHEREUM + '\n[[ethereum.tokens]]\ncode = "USDT"\n'
            'contract = "0x5FbDB2315678afecb367f032d93F642f64180aa3"\ndecimals = 6\n'
            "balance_slot = -1\n",
            "ethereum.tokens[0].balance_slot",
        ),
        (
            ETHEREUM + '\n[[ethereum.tokens]]\ncode = "USDT"\n'
            'contract = "0x5FbDB2315678afecb367f032d93F642f64180aa3"\ndecimals = true\n',
            "ethereum.tokens[0].decimals",
        ),
        (ETHEREUM + "\n[[ethereum.tokens]]\n", "ethereum.tokens[0].contract"),
        (ETHEREUM + "tokens = [1]\n", "ethereum.tokens[0]"),
        (BITCOIN + wallet("bitcoin", "h", f'xpub = "{XPUB}"\ngap_limit = -1'), None),
        (BITCOIN + wallet("bitcoin", "h", f'xpub = "{XPUB}"\ngap_limit = true'), None),
        (
            BITCOIN + wallet("bitcoin", "v", 'multisig = { m = 0, keys = ["02aa"] }'),
            "bitcoin.wallets[0].multisig.m",
        ),
        (
            BITCOIN + wallet("bitcoin", "v", f"multisig = {{ m = 1, keys = {['02aa'] * 16} }}"),
            "bitcoin.wallets[0].multisig.keys",
        ),
        (BITCOIN + "\n[database]\nlock_timeout = -1\n", "database.lock_timeout"),
        (BITCOIN + "\n[database]\nlock_timeout = true\n", "database.lock_timeout"),
        (BITCOIN + "\n[alerts]\ntimeout = 0\n", "alerts.timeout"),
        (BITCOIN + "\n[alerts]\nretries = 1000\n", "alerts.retries"),
        (BITCOIN + '\n[alerts]\ndrift = "0.' + "0" * 60 + '5"\n', "alerts.drift"),
        (BITCOIN + '\n[alerts]\nwebhook = "http://[::1"\n', "alerts.webhook"),
        (BITCOIN + '\n[thresholds]\nmin_coverage = "1' + "0" * 60 + '"\n', None),
    ],
)
def test_other_numbers_name_the_key(tmp_path: Path, text: str, key: str | None) -> None:
    error = refused(tmp_path, HEAD + text)
    if key is None:
        assert error.key is not None and error.key.rsplit(".", 1)[-1] in text
    else:
        assert error.key == key


def test_snapshot_cli_refuses_a_zero_timeout_at_once(tmp_path: Path, por: Any) -> None:
    # these hung before: aiohttp takes 0 as "no timeout", a semaphore of 0 never opens
    for setting in ("timeout = 0", "concurrency = 0", "timeout = -1"):
        rc, _, err = por("snapshot", "--config", write(tmp_path, HEAD + BITCOIN + setting))
        assert rc == 3, err
        assert f"bitcoin.{setting.split()[0]}" in err


# ---------------------------------------------------------------------- url_file, url_env


def private(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_url_from_a_file(tmp_path: Path) -> None:
    url = f"https://eth.example/v3/{SECRET}"
    private(tmp_path / "eth.url", url + "\n")
    text = HEAD + ETHEREUM.replace('url = "http://127.0.0.1:2"', 'url_file = "eth.url"')
    config = load_config(write(tmp_path, text))
    assert config.ethereum is not None
    assert config.ethereum.url is None and config.ethereum.url_file == tmp_path / "eth.url"
    assert SECRET not in repr(config.ethereum)
    assert config.ethereum.node_url() == url
    adapter = ethereum_adapter(config.ethereum)
    assert adapter.url == url and SECRET not in adapter.shown_url


def test_url_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = HEAD + BITCOIN.replace('url = "http://127.0.0.1:1"', 'url_env = "POR_TEST_BTC_URL"')
    text = text.replace('"bcoin"', '"esplora"')
    config = load_config(write(tmp_path, text))  # not read yet: other commands need not
    assert config.bitcoin is not None
    monkeypatch.delenv("POR_TEST_BTC_URL", raising=False)
    with pytest.raises(InputError) as info:
        config.bitcoin.node_url()
    assert info.value.key == "bitcoin.url_env" and "not set" in info.value.message
    monkeypatch.setenv("POR_TEST_BTC_URL", f"https://esplora.example/api?key={SECRET}")
    adapter = bitcoin_adapter(config.bitcoin)
    assert getattr(adapter, "url", None) == f"https://esplora.example/api?key={SECRET}"


@pytest.mark.parametrize(
    ("given", "key"),
    [
        ('url = "http://127.0.0.1:2"\nurl_file = "eth.url"', "ethereum.url_file"),
        ('url_file = "eth.url"\nurl_env = "X"', "ethereum.url_env"),
        ("", "ethereum.url"),
        ('url_env = ""', "ethereum.url_env"),
    ],
)
def test_exactly_one_url_source(tmp_path: Path, given: str, key: str) -> None:
    text = HEAD + ETHEREUM.replace('url = "http://127.0.0.1:2"', given)
    assert refused(tmp_path, text).key == key


@pytest.mark.parametrize(
    ("content", "mode", "message"),
    [
        (f"https://eth.example/v3/{SECRET}", 0o644, "accessible by others"),
        (f"https://eth.example/v3/{SECRET}", 0o606, "accessible by others"),
        ("", 0o600, "empty"),
        (f"https://eth.example/\nv3/{SECRET}", 0o600, "more than one line"),
        (f"ftp://eth.example/v3/{SECRET}", 0o600, "not a usable node URL"),
        (f"http://[eth.example/v3/{SECRET}", 0o600, "not a usable node URL"),
        (SECRET, 0o600, "not a usable node URL"),
    ],
)
def test_a_bad_url_file_is_refused_without_echoing_it(
    tmp_path: Path, content: str, mode: int, message: str
) -> None:
    private(tmp_path / "eth.url", content, mode)
    text = HEAD + ETHEREUM.replace('url = "http://127.0.0.1:2"', 'url_file = "eth.url"')
    config = load_config(write(tmp_path, text))
    assert config.ethereum is not None
    with pytest.raises(InputError) as info:
        build_plans(config)
    assert info.value.key == "ethereum.url_file"
    assert message in info.value.message
    assert SECRET not in str(info.value)


def test_a_missing_url_file_names_the_key(tmp_path: Path) -> None:
    text = HEAD + ETHEREUM.replace('url = "http://127.0.0.1:2"', 'url_file = "none.url"')
    config = load_config(write(tmp_path, text))
    assert config.ethereum is not None
    with pytest.raises(InputError) as info:
        config.ethereum.node_url()
    assert info.value.key == "ethereum.url_file" and "cannot read" in info.value.message


def test_credentials_in_a_url_file_and_a_password_are_refused(tmp_path: Path) -> None:
    private(tmp_path / "btc.url", f"http://por:{SECRET}@127.0.0.1:1")
    private(tmp_path / "rpc.pass", "hunter2hunter2")
    text = HEAD + BITCOIN.replace('url = "http://127.0.0.1:1"', 'url_file = "btc.url"')
    text = text.replace('network = "regtest"', 'network = "regtest"\npassword_file = "rpc.pass"')
    config = load_config(write(tmp_path, text))
    assert config.bitcoin is not None
    with pytest.raises(InputError) as info:
        bitcoin_adapter(config.bitcoin)
    assert info.value.key == "bitcoin.url_file" and SECRET not in str(info.value)


def test_a_password_file_others_can_read_is_refused(tmp_path: Path) -> None:
    private(tmp_path / "rpc.pass", "hunter2hunter2", 0o644)
    text = HEAD + BITCOIN.replace(
        'network = "regtest"', 'network = "regtest"\npassword_file = "rpc.pass"'
    )
    config = load_config(write(tmp_path, text))
    assert config.bitcoin is not None
    with pytest.raises(InputError, match="accessible by others") as info:
        bitcoin_adapter(config.bitcoin)
    assert "hunter2" not in str(info.value)
    (tmp_path / "rpc.pass").chmod(0o640)  # the node's group may read it
    bitcoin_adapter(config.bitcoin)


def test_snapshot_with_url_env_hides_the_key_everywhere(
    tmp_path: Path, por: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A node that does not answer, its URL holding a key in the path, the query and the
    userinfo: the key is in no output, no JSON error and no log record."""
    from chains.nodes.base import free_port

    url = f"http://por:{SECRET}@127.0.0.1:{free_port()}/v3/{SECRET}?apikey={SECRET}"
    monkeypatch.setenv("POR_TEST_ETH_URL", url)
    text = HEAD + ETHEREUM.replace('url = "http://127.0.0.1:2"', 'url_env = "POR_TEST_ETH_URL"')
    text += "timeout = 2\n" + wallet("ethereum", "hot", f'address = "{ETH}"')
    caplog.set_level("DEBUG")
    rc, out, err = por("snapshot", "--config", write(tmp_path, text), "--json")
    assert rc == 4, err
    assert json.loads(out)["error"] == "NodeUnavailable"
    assert "127.0.0.1" in err
    for where in (out, err, caplog.text, *(str(r.args) for r in caplog.records)):
        assert SECRET not in where


def test_secret_files_that_are_not_regular_files_are_refused_without_hanging(
    tmp_path: Path,
) -> None:
    """A FIFO (no writer: open() would block for ever), /dev/zero (read() would never end)
    and a directory are refused before anything is read."""
    import os

    fifo = tmp_path / "eth.url"
    os.mkfifo(fifo, 0o600)
    text = HEAD + ETHEREUM.replace('url = "http://127.0.0.1:2"', 'url_file = "eth.url"')
    config = load_config(write(tmp_path, text))
    assert config.ethereum is not None
    with pytest.raises(InputError, match="not a regular file"):
        config.ethereum.node_url()
    for cookie in ("/dev/zero", str(tmp_path)):
        text = HEAD + BITCOIN.replace('"bcoin"', '"core"')
        text = text.replace('network = "regtest"', f'network = "regtest"\ncookie_file = "{cookie}"')
        config = load_config(write(tmp_path, text))
        assert config.bitcoin is not None
        with pytest.raises(InputError, match="regular file"):
            bitcoin_adapter(config.bitcoin)


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('name = "Example Exchange"', 'name = "Example\\nattestation: forged"', "exchange.name"),
        ('name = "Example Exchange"', 'name = ""', "exchange.name"),
        ('attestation_id = "exch-2026-11"', 'attestation_id = "a\\rb"', "exchange.attestation_id"),
        ('attestation_id = "exch-2026-11"', f'attestation_id = "{"x" * 201}"', None),
        ('network = "regtest"', 'network = "regtest"\nasset = "btc coin"', "bitcoin.asset"),
        ('network = "regtest"', 'network = "regtest"\nasset = ""', "bitcoin.asset"),
    ],
)
def test_names_and_asset_codes_are_one_clean_line(
    tmp_path: Path, old: str, new: str, key: str | None
) -> None:
    text = HEAD + BITCOIN
    assert old in text
    error = refused(tmp_path, text.replace(old, new))
    assert error.key == (key or "exchange.attestation_id")


TOKEN = """
[[ethereum.tokens]]
code = "{code}"
contract = "{contract}"
decimals = 6
"""
USDT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


@pytest.mark.parametrize(
    ("tokens", "key"),
    [
        (TOKEN.format(code="ETH", contract=USDT), "ethereum.tokens[0].code"),
        (
            TOKEN.format(code="USDT", contract=USDT)
            + TOKEN.format(code="USDT2", contract=USDT.lower()),
            "ethereum.tokens[1].contract",
        ),
        (
            TOKEN.format(code="USDT", contract=USDT)
            + TOKEN.format(code="USDT", contract="0x" + "1" * 40),
            "ethereum.tokens[1].code",
        ),
        (TOKEN.format(code="usdt", contract=USDT), "ethereum.tokens[0].code"),
    ],
)
def test_a_token_listed_twice_is_refused(tmp_path: Path, tokens: str, key: str) -> None:
    assert refused(tmp_path, HEAD + ETHEREUM + tokens).key == key


def test_an_unset_password_variable_names_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POR_TEST_UNSET_PW", raising=False)
    text = HEAD + BITCOIN.replace(
        'network = "regtest"', 'network = "regtest"\npassword_env = "POR_TEST_UNSET_PW"'
    )
    config = load_config(write(tmp_path, text))
    assert config.bitcoin is not None
    with pytest.raises(InputError, match="not set") as info:
        bitcoin_adapter(config.bitcoin)
    assert info.value.key == "bitcoin.password_env"
