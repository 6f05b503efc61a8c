"""A real bcoin 1.0.2 regtest node for tests, the demo and benchmarks, and a wallet to fill it.

Where it sits: beside `chains/nodes/base.py` (`LocalNode`: free port, throwaway directory,
own process group, cleanup at exit). `Bcoin` runs the project's launcher
`chains/nodes/bcoin-regtest.js`, which switches bcoin's regtest to Bitcoin Core's address
prefixes (bcrt1..., m/n..., 2...) and opens a full node with the transaction and address
indexes, in memory, without P2P listening. `BcoinAdapter` (`chains/bitcoin_bcoin.py`)
reads it.

The API key is random per node and reaches bcoin through the environment variable
`BCOIN_API_KEY` (bcoin reads `BCOIN_*` variables), never argv.

`RegtestWallet` builds a known history on that node: it mines to its own P2PKH key, pays
exact amounts to P2PKH, P2SH-P2WPKH, P2WPKH and P2WSH (2-of-3 multisig) addresses, and spends
from them, signing in Python with embit. Every broadcast is confirmed with
`getmempoolentry`, because bcoin's `sendrawtransaction` returns a txid even for a
transaction it rejects.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from embit import ec
from embit import script as escript
from embit.networks import NETWORKS
from embit.transaction import Transaction, TransactionInput, TransactionOutput

from chains.bitcoin_bcoin import index_key
from chains.nodes.base import REPO_ROOT, LocalNode, NodeMissing, node_modules, node_program
from chains.rpc import basic_auth
from verifier.base.errors import MalformedReply, NodeUnavailable, RpcError

BCOIN_VERSION = "1.0.2"
"""The pinned bcoin release (package.json); `check_version` refuses any other."""
LAUNCHER = REPO_ROOT / "chains" / "nodes" / "bcoin-regtest.js"
COINBASE_MATURITY = 100
SEGWIT_ACTIVE_HEIGHT = 432
"""bcoin's regtest activates segwit by BIP9 (144-block windows): active from block 432."""
DUST = 546

AddressKind = Literal["p2pkh", "p2sh-p2wpkh", "p2wpkh", "p2wsh-2of3"]
_REGTEST = NETWORKS["regtest"]


class Bcoin(LocalNode):
    """bcoin 1.0.2 on regtest with Core's address prefixes, tx and address indexes, in memory."""

    name = "bcoin"
    start_timeout = 30.0  # float-ok: seconds

    def __init__(self) -> None:
        # find the programs before LocalNode makes a temp directory, so a missing install
        # (a skip outside CI) leaves nothing behind
        node = shutil.which("node")
        if node is None:
            raise NodeMissing("node (Node.js >= 14) is not on PATH; bcoin needs it")
        node_program("bcoin/package.json")
        if not LAUNCHER.exists():
            raise NodeMissing(f"the launcher {LAUNCHER} is missing")
        self._node = node
        super().__init__()
        self.api_key = secrets.token_hex(32)

    # ------------------------------------------------------------------ LocalNode

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def authorization(self) -> str:
        """The Authorization header value (basic auth: any user, password = API key)."""
        return basic_auth("por", self.api_key)

    def command(self) -> list[str]:
        return [
            self._node,
            str(LAUNCHER),
            "--network=regtest",
            "--memory=true",
            "--index-tx=true",
            "--index-address=true",
            "--http-host=127.0.0.1",
            f"--http-port={self.port}",
            "--listen=false",
            "--workers=false",
            "--log-console=true",  # warnings to node.log, shown when a broadcast fails
            "--log-level=warning",
            f"--prefix={self.datadir}",
        ]

    def environment(self) -> dict[str, str]:
        # bcoin reads every BCOIN_* variable as an option: pass only ours
        env = {k: v for k, v in os.environ.items() if not k.startswith("BCOIN_")}
        env["NODE_BACKEND"] = "js"
        env["BCOIN_API_KEY"] = self.api_key
        env["NODE_PATH"] = str(node_modules())
        return env

    def ready(self) -> bool:
        return isinstance(self.rpc("getblockcount", timeout=2.0), int)  # float-ok: seconds

    def check_version(self) -> None:
        info = self.rpc("getnetworkinfo")
        subversion = info.get("subversion") if isinstance(info, Mapping) else None
        if subversion != f"/bcoin:v{BCOIN_VERSION}/":
            raise NodeUnavailable(
                f"bcoin at {self.url} is {subversion!r}, not the pinned /bcoin:v{BCOIN_VERSION}/"
            )

    # ------------------------------------------------------------------ HTTP (sync, for tests)

    def _http(
        self,
        method: str,
        path: str,
        body: Any = None,
        timeout: float = 30.0,  # float-ok: seconds
    ) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - our own loopback node
            self.url + path,
            data=data,
            method=method,
            headers={"Authorization": self.authorization, "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as reply:  # noqa: S310
                text = reply.read().decode()
        except urllib.error.HTTPError as exc:
            text = exc.read().decode(errors="replace")
            if exc.code in {401, 403}:
                raise NodeUnavailable(f"bcoin refused the API key (HTTP {exc.code})") from None
        except (OSError, TimeoutError) as exc:
            raise NodeUnavailable(f"bcoin at {self.url}: {exc}") from exc
        try:
            return json.loads(text, parse_float=Decimal)
        except ValueError:
            raise MalformedReply(f"bcoin sent non-JSON to {path}: {text[:200]!r}") from None

    def rpc(self, method: str, *params: Any, timeout: float = 30.0) -> Any:  # float-ok
        """One JSON-RPC call; `RpcError` on an error object."""
        reply = self._http(
            "POST", "/", {"method": method, "params": list(params), "id": 1}, timeout
        )
        if not isinstance(reply, Mapping):
            raise MalformedReply(f"bcoin {method}: reply is not an object")
        error = reply.get("error")
        if error:
            code = error.get("code") if isinstance(error, Mapping) else None
            message = error.get("message") if isinstance(error, Mapping) else error
            raise RpcError(
                f"bcoin {method}: {message}", code=code if isinstance(code, int) else None
            )
        return reply.get("result")

    def rest(self, path: str, body: Any = None) -> Any:
        """A REST call: GET without a body, POST with one."""
        return self._http("GET" if body is None else "POST", path, body)

    # ------------------------------------------------------------------ chain control

    def height(self) -> int:
        count = self.rpc("getblockcount")
        if not isinstance(count, int):
            raise MalformedReply(f"getblockcount: {count!r}")
        return count

    def block_hash(self, height: int) -> str:
        return str(self.rpc("getblockhash", height))

    def mine(self, blocks: int, address: str) -> list[str]:
        """Mine `blocks` blocks paying to `address` (mempool transactions included)."""
        hashes = self.rpc("generatetoaddress", blocks, address, timeout=120.0)  # float-ok
        if not isinstance(hashes, list) or len(hashes) != blocks:
            raise MalformedReply(f"generatetoaddress {blocks}: {hashes!r:.200}")
        return [str(h) for h in hashes]

    def invalidate(self, block_hash: str) -> None:
        """Mark a block invalid: the chain falls back to its parent (start of a reorg)."""
        self.rpc("invalidateblock", block_hash)

    def broadcast(self, tx_hex: str, txid: str) -> str:
        """Send a raw transaction and make sure it is in the mempool.

        bcoin's `sendrawtransaction` returns the txid at once and adds the transaction in
        the background, silently dropping it if policy rejects it. REST `POST /broadcast`
        waits for the mempool (and reports consensus failures); a policy rejection still
        answers success, so `getmempoolentry` decides.
        """
        reply = self.rest("/broadcast", {"tx": tx_hex})
        if not (isinstance(reply, Mapping) and reply.get("success") is True):
            raise RpcError(f"bcoin rejected transaction {txid}: {reply!r:.300}")
        if not self.in_mempool(txid):
            raise RpcError(
                f"bcoin did not accept transaction {txid} into its mempool "
                f"(a policy rejection; see its log): {self.log_tail(5)}"
            )
        return txid

    def in_mempool(self, txid: str) -> bool:
        try:
            return isinstance(self.rpc("getmempoolentry", txid), Mapping)
        except RpcError:
            return False


# ---------------------------------------------------------------------- wallet


@dataclass(frozen=True, slots=True)
class Coin:
    """An unspent output the wallet can sign for."""

    txid: str
    vout: int
    value: int
    """Satoshi."""
    address: str


@dataclass(slots=True)
class _Owner:
    kind: AddressKind
    keys: list[Any]
    """embit PrivateKeys: one, or the 2-of-3 multisig's three (two sign)."""
    script_pubkey: Any
    redeem_script: Any = None
    witness_script: Any = None


@dataclass(slots=True)
class RegtestWallet:
    """Deterministic keys and exact payments on a `Bcoin` regtest node (tests and demo)."""

    node: Bcoin
    seed: bytes = b"por regtest wallet"
    fee: int = 10_000
    """Default fee per transaction in satoshi (bcoin's relay minimum is 1 sat/vbyte)."""
    _counter: int = 0
    _owners: dict[str, _Owner] = field(default_factory=dict)
    _spent: set[tuple[str, int]] = field(default_factory=set)
    miner: str = ""
    """The wallet's own P2PKH address: block rewards and the change of payments go there."""

    def __post_init__(self) -> None:
        self.miner = self.new_address("p2pkh")

    # ---------------------------------------------------------------- keys and addresses

    def _key(self) -> Any:
        self._counter += 1
        secret = hashlib.sha256(self.seed + self._counter.to_bytes(4, "big")).digest()
        return ec.PrivateKey(secret)

    def new_address(self, kind: AddressKind, *, same_key_as: str | None = None) -> str:
        """A fresh address of `kind`; `same_key_as` reuses another single-key address's key."""
        if same_key_as is not None:
            keys = [self._owners[same_key_as].keys[0]]
        elif kind == "p2wsh-2of3":
            keys = [self._key() for _ in range(3)]
        else:
            keys = [self._key()]
        pub = keys[0].get_public_key()
        if kind == "p2pkh":
            owner = _Owner(kind, keys, escript.p2pkh(pub))
        elif kind == "p2wpkh":
            owner = _Owner(kind, keys, escript.p2wpkh(pub))
        elif kind == "p2sh-p2wpkh":
            redeem = escript.p2wpkh(pub)
            owner = _Owner(kind, keys, escript.p2sh(redeem), redeem_script=redeem)
        elif kind == "p2wsh-2of3":
            witness_script = escript.multisig(2, [k.get_public_key() for k in keys])
            owner = _Owner(kind, keys, escript.p2wsh(witness_script), witness_script=witness_script)
        else:
            raise ValueError(f"unknown address kind {kind!r}")
        address = str(owner.script_pubkey.address(_REGTEST))
        self._owners[address] = owner
        return address

    # ---------------------------------------------------------------- chain

    def mine(self, blocks: int, to: str | None = None) -> list[str]:
        return self.node.mine(blocks, to or self.miner)

    def ownership_proof(self, address: str, message: str) -> dict[str, object]:
        """Sign `message` (the challenge) for a wallet address, as por.toml's `ownership`."""
        from chains.btc_bip137 import sign_bip137

        owner = self._owners[address]
        if owner.kind == "p2wsh-2of3":
            return {
                "scheme": "p2wsh-multisig",
                "witness_script": owner.witness_script.data.hex(),
                "signatures": [sign_bip137(k.secret, message, "p2pkh") for k in owner.keys[:2]],
            }
        return {
            "scheme": "bip137",
            "signature": sign_bip137(owner.keys[0].secret, message, owner.kind),
        }

    def coins(self, address: str) -> list[Coin]:
        """Spendable coins of a wallet address (mature; confirmed or in the mempool)."""
        script = bytes(self._owners[address].script_pubkey.data)
        # by the index key, not the address: bcoin takes a 64-character string for a hash,
        # and Core's regtest P2WSH addresses are 64 characters long
        reply = self.node.rest(f"/coin/address/{index_key(script)}")
        if not isinstance(reply, list):
            raise MalformedReply(f"/coin/address/{address}: {reply!r:.200}")
        tip = self.node.height()
        coins = []
        for item in reply:
            outpoint = (str(item["hash"]), int(item["index"]))
            # the index is keyed by hash only: P2PKH and P2WPKH of one key share it
            if outpoint in self._spent or item.get("script") != script.hex():
                continue
            height = int(item["height"])
            if item.get("coinbase") and (height < 0 or tip - height < COINBASE_MATURITY):
                continue
            coins.append(Coin(outpoint[0], outpoint[1], int(item["value"]), address))
        coins.sort(key=lambda c: (-c.value, c.txid, c.vout))
        return coins

    def pay(
        self,
        outputs: Mapping[str, int] | Sequence[tuple[str, int]],
        *,
        source: str | None = None,
        fee: int | None = None,
    ) -> str:
        """Pay exact satoshi amounts from `source` (default: the miner) and broadcast.

        The change goes back to `source`, so `source` loses exactly sum(outputs) + fee.
        Returns the txid, already checked to be in the mempool.
        """
        pairs = list(outputs.items()) if isinstance(outputs, Mapping) else list(outputs)
        fee = self.fee if fee is None else fee
        source = source or self.miner
        if source not in self._owners:
            raise ValueError(f"the wallet has no key for {source}")
        need = sum(value for _, value in pairs) + fee
        chosen: list[Coin] = []
        for coin in self.coins(source):
            if sum(c.value for c in chosen) >= need:
                break
            chosen.append(coin)
        total = sum(c.value for c in chosen)
        if total < need:
            raise ValueError(f"{source} has {total} sat spendable, needs {need}")
        vout = [
            TransactionOutput(value, escript.address_to_scriptpubkey(address))
            for address, value in pairs
        ]
        change = total - need
        if change >= DUST:
            vout.append(TransactionOutput(change, self._owners[source].script_pubkey))
        elif change:
            raise ValueError(f"change of {change} sat would be dust: adjust the amounts or fee")
        vin = [TransactionInput(bytes.fromhex(c.txid), c.vout) for c in chosen]
        tx = Transaction(version=2, vin=vin, vout=vout, locktime=0)
        for index, coin in enumerate(chosen):
            self._sign(tx, index, coin)
        txid = self.node.broadcast(tx.serialize().hex(), tx.txid().hex())
        self._spent.update((c.txid, c.vout) for c in chosen)
        return txid

    def _sign(self, tx: Any, index: int, coin: Coin) -> None:
        owner = self._owners[coin.address]
        vin = tx.vin[index]
        if owner.kind == "p2pkh":
            key = owner.keys[0]
            digest = tx.sighash_legacy(index, owner.script_pubkey)
            vin.script_sig = escript.script_sig_p2pkh(key.sign(digest), key.get_public_key())
        elif owner.kind in {"p2wpkh", "p2sh-p2wpkh"}:
            key = owner.keys[0]
            code = escript.p2pkh(key.get_public_key())  # BIP143 scriptCode of P2WPKH
            digest = tx.sighash_segwit(index, code, coin.value)
            vin.witness = escript.witness_p2wpkh(key.sign(digest), key.get_public_key())
            if owner.redeem_script is not None:
                vin.script_sig = escript.Script(owner.redeem_script.serialize())
        else:
            digest = tx.sighash_segwit(index, owner.witness_script, coin.value)
            # CHECKMULTISIG wants the signatures in the order of the keys in the script
            signatures = [k.sign(digest).serialize() + b"\x01" for k in owner.keys[:2]]
            vin.witness = escript.Witness([b"", *signatures, owner.witness_script.data])
