"""verifier.external.ownership_chains: the chain of a row, from its coin name and address shape.

Evidence: coin names and addresses as HTX's and OKX's published files have them
(fixtures/samples/htx/huobi_por.csv, fixtures/samples/okx/test.csv) and well-known addresses
of each chain.
"""

from __future__ import annotations

import pytest

from verifier.external.ownership_chains import chain_of

ALGO = "VCMJKWOY5P5P7SKMZFFOCEROPJCZOTIJMNIYNUCKH7LRO45JMJP6UYBIJA"


@pytest.mark.parametrize(
    ("coin", "address", "network", "chain"),
    [
        ("USDT-TRC20", "TK86Qm97uM848dMk8G7xNbJB7zG1uW3h1n", "", "tron"),
        ("BTC-TRC20", "TDToUxX8sH4z6moQpK3ZLAN24eupu2ivA4", "", "tron"),
        ("USDT-SOL", "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM", "", "solana"),
        ("WBTC-ERC20", "0x4fb312915b779b1339388e14b6d079741ca83128", "", "ethereum"),
        ("HT-ETH", "0x0511509A39377F1C6c78DB4330FBfcC16D8A602f", "", "ethereum"),
        ("BETH-Heco", "0x18709e89bd403f470088abdacebe86cc60dda12e", "", "heco"),
        ("USDT-Avalanche C-Chain", "0xa77ff0e1c52f58363a53282624c7baa5fa91687d", "", "avalanche-c"),
        ("USDT-ALGO", ALGO, "", "algorand"),
        ("stETH", "0x18709e89bd403f470088abdacebe86cc60dda12e", "", "evm"),
        ("BTC", "143gLvWYUojXaWZRrxquRKpVNTkhmr415B", "", "bitcoin"),
        ("BTC", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "", "bitcoin"),
        ("BTC", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "", "bitcoin"),
        ("DOGE", "DH5yaieqoZN36fDVciNyRueRGvGLR3mr7L", "", "dogecoin"),
        ("LTC", "LM2WMpR1Rp6j3Sa59cMXMs1SPzj9eXpGc1", "", "litecoin"),
        ("LTC", "MQMcJhpWHYVeQArcZR3sBgyPZxxRtnH441", "", "litecoin"),
        ("LTC", "3MSvaVbVFFLML86rt5eqgA9SvW23upaXdY", "", "litecoin"),
        ("LTC", "ltc1qg82z6l7xrxqjvq6gj4ap8a0yrk4u3fqwm8lx6g", "", "litecoin"),
        ("ALGO", ALGO, "", "algorand"),
        ("TRX", "TYh6mgoMNZTCsgpYHBz7gttEfrQmDMABub", "", "tron"),
        ("XRP", "rPT1Sjq2YGrBMTttX4GZHjKu9dyfzbpAYe", "", "xrp"),
        # a coin that names no chain: the address shape decides
        ("USDT", "TK86Qm97uM848dMk8G7xNbJB7zG1uW3h1n", "", "tron"),
        ("BTC", "TDToUxX8sH4z6moQpK3ZLAN24eupu2ivA4", "", "tron"),
        # a network column wins over the coin name (OKX)
        ("USDT", "0x6a32bea6b4050763a6673202efde42ad87bec0b5", "ETH", "ethereum"),
        ("ETC", "0x5f504cd119640d5167c003ce9e4250895374b24f", "OKC", "okc"),
        ("ETH", "0x" + "ab" * 48, "ETH", "ethereum"),
        ("TRX", "TSBg5SM1TXVXneSivmzpZa9hpccLNeYcWq", "TRON", "tron"),
    ],
)
def test_chain_of(coin: str, address: str, network: str, chain: str) -> None:
    found = chain_of(coin, address, network)
    assert found is not None and found.name == chain


@pytest.mark.parametrize(
    ("coin", "address", "network"),
    [
        ("ADA", "addr1v9500j9f8sgnw9uftxmuc429kyy2mduuaj3649rw779v8ks4nyrxz", ""),
        ("DOT", "12Z1EpgUskkbinZ47CdiUSdBMSvh4FVhgr6iDKfiyvEFndEa", "DOT"),
        ("ETH", "0x03b7f0b02b63683eca1639fb2d5dfa1021628d4ee728b03bc0ac2be66edc32f1", "STARKNET"),
        ("EOS", "okbwallet1tr", "Vaulta"),
        ("X", "", ""),
    ],
)
def test_no_chain(coin: str, address: str, network: str) -> None:
    assert chain_of(coin, address, network) is None
