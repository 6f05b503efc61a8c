"""A real local Ethereum node (anvil, Foundry 1.7.1) for tests, the demo and benchmarks.

Where it sits: one of the local nodes of `chains/nodes/` (lifecycle in `chains/nodes/base.py`).
`Anvil` runs `anvil` from `node_modules` on a free loopback port with its state cache inside
its own temporary directory (anvil otherwise writes old states to `~/.foundry` and never
cleans them up), and offers small synchronous JSON-RPC helpers (plain urllib) to shape the
chain: mine blocks, snapshot and revert, reorganise the last blocks, set balances, send
transactions and deploy the test contracts of `chains/nodes/contracts/`.

These helpers are test tooling. The adapter under test (`chains/ethereum.py`) never uses
them: it reads the node through its own JSON-RPC client.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from chains.nodes.base import LocalNode, NodeMissing, node_program
from chains.nodes.solc import Artifact
from verifier.base.console import plural
from verifier.base.errors import InputError, MalformedReply, NodeUnavailable, RpcError

ANVIL_VERSION = "1.7.1"
DEFAULT_CHAIN_ID = 31337


class Anvil(LocalNode):
    """An anvil process: `with Anvil() as node: ... node.url ...`.

    Parameters
    ----------
    chain_id
        The chain id anvil reports (`eth_chainId`); 31337 by default.
    rpc_timeout
        Seconds each helper JSON-RPC call may take.
    """

    name = "anvil"
    start_timeout = 20.0  # float-ok: seconds

    def __init__(
        self,
        chain_id: int = DEFAULT_CHAIN_ID,
        rpc_timeout: float = 10.0,  # float-ok: seconds
    ) -> None:
        # look the program up first: a missing one must not leave a temp directory behind
        self.binary = node_program(".bin/anvil")
        super().__init__()
        self._chain_id = chain_id
        self._rpc_timeout = rpc_timeout
        self._ids = itertools.count(1)

    # ------------------------------------------------------------------ LocalNode

    def command(self) -> list[str]:
        return [
            str(self.binary),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--chain-id",
            str(self._chain_id),
            "--silent",
            "--cache-path",
            str(self.datadir / "cache"),
        ]

    def ready(self) -> bool:
        self.rpc("eth_blockNumber")
        return True

    def check_version(self) -> None:
        try:
            done = subprocess.run(  # noqa: S603 - our own pinned binary
                [str(self.binary), "--version"],
                capture_output=True,
                timeout=10,
                check=False,
            )
        except OSError as exc:
            raise NodeMissing(f"cannot run {self.binary}: {exc}") from exc
        first = done.stdout.decode(errors="replace").strip().splitlines()[:1]
        if not first or first[0].split()[-1:] != [ANVIL_VERSION]:
            raise NodeUnavailable(
                f"{self.binary} reports {first[0] if first else 'nothing'!r}, "
                f"expected anvil {ANVIL_VERSION} (run `npm ci --ignore-scripts`)"
            )

    # ------------------------------------------------------------------ properties

    @property
    def url(self) -> str:
        """The JSON-RPC endpoint, http://127.0.0.1:<port>."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def chain_id(self) -> int:
        """The chain id anvil was started with."""
        return self._chain_id

    # ------------------------------------------------------------------ JSON-RPC helpers

    def rpc(self, method: str, *params: Any) -> Any:
        """One JSON-RPC call to the node.

        Parameters
        ----------
        method
            The JSON-RPC method, e.g. "eth_blockNumber" or "anvil_mine".
        *params
            Its positional parameters (JSON-serialisable).

        Returns
        -------
        Any
            The reply's `result`, undecoded.

        Raises
        ------
        NodeUnavailable
            No answer within the timeout.
        RpcError
            The node answered with a JSON-RPC error.
        """
        body = json.dumps(
            {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        ).encode()
        request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
            self.url, data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self._rpc_timeout) as reply:  # noqa: S310
                doc = json.loads(reply.read())
        except (urllib.error.URLError, OSError) as exc:
            raise NodeUnavailable(f"anvil at {self.url}: {method} failed ({exc})") from exc
        if not isinstance(doc, dict):
            raise MalformedReply(f"anvil {method}: {doc!r:.200}")
        if doc.get("error"):
            error = doc["error"]
            raise RpcError(f"anvil {method}: {error.get('message')}", code=error.get("code"))
        return doc.get("result")

    def block_number(self) -> int:
        """The tip's number."""
        return int(self.rpc("eth_blockNumber"), 16)

    def block_hash(self, number: int) -> str:
        """The hash of block `number`, lowercase hex without 0x."""
        block = self.rpc("eth_getBlockByNumber", hex(number), False)
        if block is None:
            raise RpcError(f"anvil has no block {number}")
        return str(block["hash"]).removeprefix("0x")

    def accounts(self) -> list[str]:
        """anvil's ten unlocked dev accounts (checksummed)."""
        return [to_checksum_address(a) for a in self.rpc("eth_accounts")]

    def mine(self, n: int = 1) -> int:
        """Mine `n` empty blocks; return the new tip's number."""
        self.rpc("anvil_mine", hex(n))
        return self.block_number()

    def snapshot(self) -> str:
        """Save the chain state (`evm_snapshot`); returns the id `revert` takes."""
        return str(self.rpc("evm_snapshot"))

    def revert(self, snapshot_id: str) -> bool:
        """Go back to a saved state (`evm_revert`): later blocks are dropped."""
        return bool(self.rpc("evm_revert", snapshot_id))

    def reorg(self, depth: int) -> None:
        """Replace the last `depth` blocks (`anvil_reorg`): same heights, new hashes."""
        self.rpc("anvil_reorg", depth, [])

    def set_balance(self, address: str, wei: int) -> None:
        """Set an address's ETH balance in the pending state (mine a block to make it stick)."""
        self.rpc("anvil_setBalance", to_checksum_address(address), hex(wei))

    def send(self, tx: Mapping[str, Any]) -> Mapping[str, Any]:
        """Send a transaction from an unlocked account (automined); return its receipt."""
        fields = {k: hex(v) if isinstance(v, int) else v for k, v in tx.items()}
        tx_hash = self.rpc("eth_sendTransaction", fields)
        deadline = time.monotonic() + self._rpc_timeout
        # automining answers before the block is sealed: wait for the receipt
        while (receipt := self.rpc("eth_getTransactionReceipt", tx_hash)) is None:
            if time.monotonic() > deadline:
                break
            time.sleep(0.005)
        if receipt is None or int(receipt["status"], 16) != 1:
            raise RpcError(f"anvil: transaction {tx_hash} failed: {receipt!r:.300}")
        result: Mapping[str, Any] = receipt
        return result

    def transfer_eth(self, sender: str, to: str, wei: int) -> Mapping[str, Any]:
        """Send `wei` from an unlocked account to `to` (one new block)."""
        return self.send({"from": sender, "to": to_checksum_address(to), "value": wei})

    def deploy(self, artifact: Artifact, *args: Any, sender: str | None = None) -> str:
        """Deploy a compiled contract (one new block).

        Parameters
        ----------
        artifact
            The compiled contract (`chains.nodes.solc.load_artifact`).
        *args
            Constructor arguments, ABI-encoded after the creation bytecode.
        sender
            An unlocked account; anvil's first dev account by default.

        Returns
        -------
        str
            The new contract's checksummed address.
        """
        constructor = next((e for e in artifact.abi if e.get("type") == "constructor"), None)
        types = [i["type"] for i in constructor["inputs"]] if constructor else []
        data = artifact.bytecode + abi_encode(types, list(args)).hex()
        receipt = self.send({"from": sender or self.accounts()[0], "data": data})
        return to_checksum_address(receipt["contractAddress"])

    def transact(
        self,
        contract: str,
        artifact: Artifact,
        function: str,
        *args: Any,
        sender: str | None = None,
    ) -> Mapping[str, Any]:
        """Call a contract function in a transaction (one new block).

        Parameters
        ----------
        contract
            The contract's address.
        artifact
            Its compiled form (for the ABI).
        function
            The function's name (not overloaded).
        *args
            The function's arguments.
        sender
            An unlocked account; anvil's first dev account by default.

        Returns
        -------
        Mapping
            The transaction receipt (`RpcError` if it reverted).
        """
        data = encode_call(artifact, function, args)
        return self.send({"from": sender or self.accounts()[0], "to": contract, "data": data})


def encode_call(artifact: Artifact, function: str, args: Sequence[Any]) -> str:
    """ABI-encode a call of a contract function: selector and arguments.

    Parameters
    ----------
    artifact
        The compiled contract (for the ABI).
    function
        The function's name; the contract must not overload it.
    args
        The arguments.

    Returns
    -------
    str
        Call data, 0x-prefixed hex.
    """
    matches = [e for e in artifact.abi if e.get("type") == "function" and e["name"] == function]
    if len(matches) != 1:
        raise InputError(
            f"{artifact.name} has {plural(len(matches), 'function')} named {function!r}"
        )
    types = [i["type"] for i in matches[0]["inputs"]]
    selector = keccak(text=f"{function}({','.join(types)})")[:4]
    return "0x" + (selector + abi_encode(types, list(args))).hex()
