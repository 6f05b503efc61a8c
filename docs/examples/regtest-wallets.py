"""regtest-wallets.py: the exchange's wallets for a trial on the local regtest nodes.

docs/getting-started.md step 0 and step 4, for a person without a Bitcoin or Ethereum
wallet of their own (on your real chains, your wallets hold the coins and sign: see
docs/signing.md):

    regtest-wallets.py new DIR              a Bitcoin (P2WPKH) and an Ethereum key, kept in
                                            DIR/regtest-wallets.json (mode 0600); mines 50 BTC
                                            to the first and gives the second 30 ETH; prints
                                            both addresses
    regtest-wallets.py sign DIR CHALLENGE   signs each message of a `por challenge --json`
                                            document for these addresses; prints the line
                                            that proves each wallet in por.toml

The nodes are the ones docs/examples/regtest-nodes.sh starts: bcoin at BTC_URL (default
http://127.0.0.1:48332, its API key from BCOIN_API_KEY) and anvil at ETH_URL (default
http://127.0.0.1:8545). Run it with por's Python (it uses por's own signers): the clone's
.venv/bin/python. Regtest keys only: never send real coins to these addresses.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import sys
import urllib.request
from pathlib import Path
from typing import Any

from embit import ec
from embit import script as escript
from embit.networks import NETWORKS
from eth_account import Account
from eth_account.messages import encode_defunct

from chains.btc_bip137 import sign_bip137

KEYS = "regtest-wallets.json"
BTC_MINED = 1
"""Blocks mined to the Bitcoin address (50 BTC each on regtest), then 100 more elsewhere."""
ETH_BALANCE = 30 * 10**18


def rpc(url: str, method: str, params: list[Any], auth: str | None = None) -> Any:
    if not url.startswith(("http://", "https://")):
        sys.exit(f"regtest-wallets.py: not an http(s) node URL: {url}")
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})  # noqa: S310
    if auth is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    with urllib.request.urlopen(request, timeout=60) as reply:  # noqa: S310 (checked above)
        doc = json.loads(reply.read())
    if doc.get("error"):
        sys.exit(f"regtest-wallets.py: {method}: {doc['error']}")
    return doc["result"]


def btc_address(secret: bytes) -> str:
    key = ec.PrivateKey(secret)
    return str(escript.p2wpkh(key.get_public_key()).address(NETWORKS["regtest"]))


def new(directory: Path) -> None:
    api_key = os.environ.get("BCOIN_API_KEY")
    if not api_key:
        sys.exit("regtest-wallets.py: set BCOIN_API_KEY (the key the bcoin node was started with)")
    btc_url = os.environ.get("BTC_URL", "http://127.0.0.1:48332")
    eth_url = os.environ.get("ETH_URL", "http://127.0.0.1:8545")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / KEYS
    if path.exists():
        sys.exit(f"regtest-wallets.py: {path} exists: these wallets are made already")
    btc_secret = secrets.token_bytes(32)
    eth = Account.create()
    keys = {"bitcoin": btc_secret.hex(), "ethereum": eth.key.hex()}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(keys, handle)
    address = btc_address(btc_secret)
    auth = f"por:{api_key}"
    rpc(btc_url, "generatetoaddress", [BTC_MINED, address], auth)
    rpc(btc_url, "generatetoaddress", [100, btc_address(secrets.token_bytes(32))], auth)
    rpc(eth_url, "anvil_setBalance", [eth.address, hex(ETH_BALANCE)])
    rpc(eth_url, "anvil_mine", ["0x1"])
    print(f"bitcoin address: {address}")
    print(f"ethereum address: {eth.address}")
    print(f"keys: {path} (mode 0600; regtest only)")


def sign(directory: Path, challenge: Path) -> None:
    keys = json.loads((directory / KEYS).read_text())
    doc = json.loads(challenge.read_text())
    if not isinstance(doc, dict) or doc.get("format") != "por-challenge-v1":
        sys.exit(f"regtest-wallets.py: {challenge} is not the output of `por challenge --json`")
    epoch = (doc.get("epoch") or {}).get("id")
    tail = f', epoch = "{epoch}"' if epoch else ""
    btc_secret = bytes.fromhex(keys["bitcoin"])
    eth = Account.from_key(keys["ethereum"])
    mine = {"bitcoin": btc_address(btc_secret).lower(), "ethereum": eth.address.lower()}
    for chain in doc["chains"]:
        for row in chain["addresses"]:
            if row["address"].lower() != mine[chain["chain"]]:
                continue
            message = chain["message"]
            if chain["chain"] == "bitcoin":
                scheme, signature = "bip137", sign_bip137(btc_secret, message, "p2wpkh")
            else:
                signed = eth.sign_message(encode_defunct(text=message)).signature
                scheme, signature = "eip191", "0x" + signed.hex().removeprefix("0x")
            print(f"# {row['wallet']} {row['address']}")
            print(f'ownership = {{ scheme = "{scheme}", signature = "{signature}"{tail} }}')


def main(argv: list[str]) -> None:
    if len(argv) == 2 and argv[0] == "new":
        new(Path(argv[1]))
    elif len(argv) == 3 and argv[0] == "sign":
        sign(Path(argv[1]), Path(argv[2]))
    else:
        sys.exit("usage: regtest-wallets.py new DIR | sign DIR CHALLENGE.json")


if __name__ == "__main__":
    main(sys.argv[1:])
