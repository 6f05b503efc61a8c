"""The chain adapter contract, written once; subclass it for each adapter and node.

`AdapterContract` is a pytest class (not collected itself: its name does not start with
"Test"). A subclass named `Test...` inherits every test and provides two fixtures:

``scenario`` -> `Scenario`
    The chain the adapter will see: `network` (e.g. "regtest"), `pinned` (a `BlockRef` on
    that chain, at or below the node's tip — for Bitcoin Core exactly at the tip, since
    Core reads its UTXO set only at the tip) and `expected` (address -> satoshi at `pinned`;
    zero balances included).

``make_adapter`` -> ``Callable[..., ChainAdapter]``
    ``make_adapter(url=None, network=None)`` builds a new, unopened adapter. ``url=None``
    means the node of the scenario; ``network=None`` means ``scenario.network``. Other
    values are passed through: the suite uses them to point the adapter at a closed port, at
    a server that answers garbage, or to expect another network. Keep its timeouts and
    retry backoff short (the unreachable test allows 5 s).

Optional overrides:

``wrong_network`` -> str
    A network the node is not on (default: "main", or "regtest" when the scenario is main).
``malformed_url`` -> str
    A server whose replies break the documented format (default: `garbage_server`, which
    answers every request with an HTML page and HTTP 200).

What the suite checks: `tip()` and `block_at()` agree; `holdings()` at the pinned block
equals `expected`; a height beyond the tip is `StaleNode`; another network is
`NetworkMismatch`; a pinned block whose hash the node does not have at that height is
`TipMoved`; a closed port is `NodeUnavailable` within seconds; a malformed reply is
`MalformedReply`.

Using it from another directory (e.g. tests/integration for a live bcoin node)::

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "contract"))
    from suite import AdapterContract, Scenario

    class TestBcoinLive(AdapterContract):
        @pytest.fixture
        def scenario(self, funded_node): ...       # a Scenario built from what was mined
        @pytest.fixture
        def make_adapter(self, funded_node): ...   # url=None -> the node's URL
"""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from aiohttp import web

from chains.base import Balance, BlockRef, ChainAdapter
from verifier.base.errors import (
    MalformedReply,
    NetworkMismatch,
    NodeUnavailable,
    StaleNode,
    TipMoved,
)

MakeAdapter = Callable[..., ChainAdapter]


@dataclass(frozen=True)
class Scenario:
    """What the node under test holds: the contract's expectations."""

    network: str
    """The node's network as the adapter names it ("regtest", "main", ...)."""
    pinned: BlockRef
    """A block on the node's best chain (Bitcoin Core: exactly its tip)."""
    expected: dict[str, int]
    """Address -> base units held at `pinned`, zero balances included, in reading order."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Anything else a subclass's own tests want (wallet specs, page counts, ...)."""

    @property
    def addresses(self) -> list[str]:
        return list(self.expected)


@asynccontextmanager
async def garbage_server() -> AsyncIterator[str]:
    """A loopback server answering every request with HTTP 200 and an HTML page."""

    async def handle(request: web.Request) -> web.Response:
        return web.Response(text="<html>this is not the API you are looking for</html>")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


def other_hash(block_hash: str) -> str:
    """The same hash with its last hex digit changed: a block the node does not have there."""
    last = "0" if block_hash[-1] != "0" else "1"
    return block_hash[:-1] + last


class AdapterContract:
    """Behaviour every `ChainAdapter` shows, whatever node or API is behind it."""

    # ------------------------------------------------------------------ fixtures

    @pytest.fixture
    def scenario(self) -> Scenario:
        raise NotImplementedError("a subclass provides the scenario fixture")

    @pytest.fixture
    def make_adapter(self) -> MakeAdapter:
        raise NotImplementedError("a subclass provides the make_adapter fixture")

    @pytest.fixture
    def wrong_network(self, scenario: Scenario) -> str:
        return "regtest" if scenario.network == "main" else "main"

    @pytest.fixture
    async def malformed_url(self) -> AsyncIterator[str]:
        async with garbage_server() as url:
            yield url

    @pytest.fixture
    def closed_url(self) -> str:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        # the socket is closed: nothing listens on the port any more
        return f"http://127.0.0.1:{port}"

    # ------------------------------------------------------------------ blocks

    async def test_tip_and_block_at_agree(
        self, make_adapter: MakeAdapter, scenario: Scenario
    ) -> None:
        async with make_adapter() as adapter:
            tip = await adapter.tip()
            assert tip.chain is scenario.pinned.chain
            assert tip.network == scenario.network
            assert tip.height >= scenario.pinned.height
            assert await adapter.block_at(tip.height) == tip
            assert await adapter.block_at(scenario.pinned.height) == scenario.pinned

    async def test_block_beyond_the_tip_is_stale(self, make_adapter: MakeAdapter) -> None:
        async with make_adapter() as adapter:
            tip = await adapter.tip()
            with pytest.raises(StaleNode):
                await adapter.block_at(tip.height + 1)

    # ------------------------------------------------------------------ holdings

    async def test_holdings_at_the_pinned_block(
        self, make_adapter: MakeAdapter, scenario: Scenario
    ) -> None:
        async with make_adapter() as adapter:
            snapshot = await adapter.holdings(scenario.addresses, scenario.pinned)
        assert snapshot.block == scenario.pinned
        assert all(isinstance(b, Balance) and type(b.units) is int for b in snapshot.balances)
        assert [b.address for b in snapshot.balances] == scenario.addresses
        assert {b.address: b.units for b in snapshot.balances} == scenario.expected
        assert snapshot.requests >= 1
        assert snapshot.method

    async def test_a_pinned_hash_the_node_does_not_have_is_tip_moved(
        self, make_adapter: MakeAdapter, scenario: Scenario
    ) -> None:
        moved = replace(scenario.pinned, hash=other_hash(scenario.pinned.hash))
        async with make_adapter() as adapter:
            with pytest.raises(TipMoved):
                await adapter.holdings(scenario.addresses, moved)

    # ------------------------------------------------------------------ failures

    async def test_another_network_is_a_mismatch(
        self, make_adapter: MakeAdapter, wrong_network: str
    ) -> None:
        async with make_adapter(network=wrong_network) as adapter:
            with pytest.raises(NetworkMismatch):
                await adapter.tip()

    async def test_a_closed_port_is_unavailable_quickly(
        self, make_adapter: MakeAdapter, closed_url: str
    ) -> None:
        started = time.monotonic()
        async with make_adapter(url=closed_url) as adapter:
            with pytest.raises(NodeUnavailable):
                await adapter.tip()
        assert time.monotonic() - started < 5

    async def test_a_malformed_reply_is_refused(
        self, make_adapter: MakeAdapter, malformed_url: str
    ) -> None:
        async with make_adapter(url=malformed_url) as adapter:
            with pytest.raises(MalformedReply):
                await adapter.tip()
