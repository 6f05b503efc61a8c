"""BcoinAdapter against a fake bcoin HTTP server (aiohttp): the failure paths a real node
rarely shows on cue — a reorg after the reads, fractional amounts, error objects, an
incomplete history — plus chunking, request counts and credentials."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from embit import bech32

from chains.base import BlockRef, Chain
from chains.bitcoin_bcoin import BcoinAdapter, index_key, naive_balances, watch
from chains.nodes.base import free_port
from chains.rpc import basic_auth
from verifier.base.errors import (
    InputError,
    MalformedReply,
    NetworkMismatch,
    NodeUnavailable,
    RpcError,
    StaleNode,
    TipMoved,
)

AUTH = basic_auth("x", "secret")
A = watch("mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn", "regtest")
B = watch("bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", "regtest")
OTHER = "0014" + "11" * 20


def block_hash(height: int, branch: str = "a") -> str:
    return f"{branch * 8}{height:056x}"


def output(watched, value):
    return {"value": value, "script": watched.script.hex(), "address": watched.address}


class FakeBcoin:
    """Just enough of bcoin 1.0.2's RPC and REST for the adapter."""

    def __init__(self, chain: str = "regtest", height: int = 20) -> None:
        self.chain = chain
        self.hashes = [block_hash(h) for h in range(height + 1)]
        self.txs: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.before_history: Callable[[], None] | None = None
        self.history_override: Any = None

    def add_tx(self, txid: str, height: int, outputs, inputs=()) -> None:
        self.txs.append(
            {
                "hash": txid * 32,
                "height": height,
                "block": None if height < 0 else self.hashes[height],
                "outputs": outputs,
                "inputs": [
                    {
                        "prevout": {"hash": p[0] * 32, "index": p[1]},
                        "coin": {"value": v, "script": s.script.hex()},
                    }
                    for p, s, v in inputs
                ]
                or [{"prevout": {"hash": "00" * 32, "index": 0xFFFFFFFF}}],
            }
        )

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth])
        app.router.add_post("/", self._rpc)
        app.router.add_post("/tx/address", self._history)
        app.router.add_get("/tx/address/{key}", self._history)
        return app

    @web.middleware
    async def _auth(self, request, handler):
        self.paths.append(request.path)
        if request.headers.get("Authorization") != AUTH:
            return web.json_response({"error": {"message": "Unauthorized"}}, status=401)
        return await handler(request)

    def _call(self, item: dict[str, Any]) -> dict[str, Any]:
        method, params = item["method"], item.get("params", [])
        result: Any = None
        error = None
        if method == "getblockchaininfo":
            result = {
                "chain": self.chain,
                "blocks": len(self.hashes) - 1,
                "bestblockhash": self.hashes[-1],
            }
        elif method == "getblockcount":
            result = len(self.hashes) - 1
        elif method == "getblockhash":
            if params[0] >= len(self.hashes):
                error = {"code": -8, "message": "Block height out of range."}
            else:
                result = self.hashes[params[0]]
        elif method == "getblockheader":
            if params[0] not in self.hashes:
                error = {"code": -5, "message": "Block not found."}
            else:
                height = self.hashes.index(params[0])
                result = {"hash": params[0], "height": height, "time": self.header_time(height)}
        else:
            error = {"code": -32601, "message": "Method not found."}
        return {"id": item.get("id"), "result": result, "error": error}

    def header_time(self, height: int) -> Any:
        """One block every 600 seconds (a test replaces it to send a malformed time)."""
        return 1_700_000_000 + 600 * height

    async def _rpc(self, request: web.Request) -> web.Response:
        body = await request.json()
        if isinstance(body, list):
            return web.json_response([self._call(item) for item in body])
        return web.json_response(self._call(body))

    async def _history(self, request: web.Request) -> web.Response:
        if request.method == "POST":
            keys = (await request.json())["addresses"]
        else:
            keys = [request.match_info["key"]]
        if self.before_history is not None:
            self.before_history()
        if self.history_override is not None:
            return web.Response(
                text=json.dumps(self.history_override, default=str),
                content_type="application/json",
            )
        found = []
        for tx in self.txs:
            scripts = [o["script"] for o in tx["outputs"]] + [
                i["coin"]["script"] for i in tx["inputs"] if "coin" in i
            ]
            # like bcoin: by hash only, whatever the script type
            if any(index_key(bytes.fromhex(s)) in keys for s in scripts):
                found.append(tx)
        # a Decimal goes on the wire as the bare JSON number it stands for
        text = json.dumps(found, default=lambda d: f"<{d}>")
        return web.Response(
            text=re.sub(r'"<([-0-9.eE+]+)>"', r"\1", text), content_type="application/json"
        )


@pytest.fixture
async def fake():
    bcoin = FakeBcoin()
    bcoin.add_tx("01", 5, [output(A, 5_000), output(B, 700)])
    bcoin.add_tx(
        "02", 8, [{"value": 1_000, "script": OTHER}, output(A, 3_900)], [(("01", 0), A, 5_000)]
    )
    bcoin.add_tx("03", -1, [output(A, 77)])
    server = TestServer(bcoin.app(), host="127.0.0.1")
    await server.start_server()
    bcoin.url = str(server.make_url("/"))  # type: ignore[attr-defined]
    try:
        yield bcoin
    finally:
        await server.close()


def adapter(fake, **kwargs) -> BcoinAdapter:
    kwargs.setdefault("authorization", AUTH)
    return BcoinAdapter(fake.url, network="regtest", **kwargs)


async def test_tip_and_block_at(fake):
    async with adapter(fake) as bcoin:
        tip = await bcoin.tip()
        assert tip == BlockRef(Chain.BITCOIN, "regtest", 20, block_hash(20))
        assert tip.time == 1_700_000_000 + 600 * 20
        assert (await bcoin.block_at(7)).hash == block_hash(7)
        assert (await bcoin.block_at(7)).time == 1_700_000_000 + 600 * 7
        assert await bcoin.block_at(20) == tip
        with pytest.raises(StaleNode):
            await bcoin.block_at(21)
        with pytest.raises(InputError):
            await bcoin.block_at(-1)


@pytest.mark.parametrize("bad", ["1700000000", -1, 1.5, True, None, 1 << 41])
async def test_malformed_block_time_is_a_malformed_reply(fake, bad):
    fake.header_time = lambda height: bad
    async with adapter(fake) as bcoin:
        with pytest.raises(MalformedReply, match="time"):
            await bcoin.tip()
        with pytest.raises(MalformedReply, match="time"):
            await bcoin.block_at(3)


async def test_balances_at_heights(fake):
    async with adapter(fake) as bcoin:
        for height, (a, b) in {
            4: (0, 0),
            5: (5_000, 700),
            8: (3_900, 700),
            20: (3_900, 700),
        }.items():
            snapshot = await bcoin.holdings([A.address, B.address], await bcoin.block_at(height))
            assert [(x.address, x.units, x.asset) for x in snapshot.balances] == [
                (A.address, a, "BTC"),
                (B.address, b, "BTC"),
            ]
            assert snapshot.method.startswith("address history")


async def test_duplicates_are_read_once(fake):
    async with adapter(fake) as bcoin:
        at = await bcoin.tip()
        snapshot = await bcoin.holdings([A.address, B.address, A.address], at)
    assert [b.address for b in snapshot.balances] == [A.address, B.address]


async def test_network_mismatch(fake):
    fake.chain = "main"
    async with adapter(fake) as bcoin:
        with pytest.raises(NetworkMismatch):
            await bcoin.tip()
    fake.chain = "test"
    async with BcoinAdapter(fake.url, network="testnet", authorization=AUTH) as bcoin:
        assert (await bcoin.tip()).network == "test"


async def test_tip_moved_before_the_reads(fake):
    async with adapter(fake) as bcoin:
        at = await bcoin.block_at(8)
        fake.hashes[8:] = [block_hash(h, "b") for h in range(8, 22)]
        with pytest.raises(TipMoved):
            await bcoin.holdings([A.address], at)
    assert not any(p.startswith("/tx/address") for p in fake.paths)


async def test_tip_moved_during_the_reads(fake):
    async with adapter(fake) as bcoin:
        at = await bcoin.block_at(8)

        def reorg() -> None:
            fake.hashes[6:] = [block_hash(h, "c") for h in range(6, 9)]

        fake.before_history = reorg
        with pytest.raises(TipMoved, match="after"):
            await bcoin.holdings([A.address], at)


async def test_chain_shrinks_during_the_reads(fake):
    async with adapter(fake) as bcoin:
        at = await bcoin.tip()

        def shrink() -> None:
            del fake.hashes[15:]

        fake.before_history = shrink
        with pytest.raises(TipMoved):
            await bcoin.holdings([A.address], at)


async def test_stale_node_for_a_block_above_its_tip(fake):
    async with adapter(fake) as bcoin:
        with pytest.raises(StaleNode):
            await bcoin.holdings([A.address], BlockRef(Chain.BITCOIN, "regtest", 30, "ab" * 32))


async def test_foreign_block_ref(fake):
    async with adapter(fake) as bcoin:
        with pytest.raises(NetworkMismatch):
            await bcoin.holdings([A.address], BlockRef(Chain.BITCOIN, "main", 3, "ab" * 32))
        with pytest.raises(NetworkMismatch):
            await bcoin.holdings([A.address], BlockRef(Chain.ETHEREUM, "1", 3, "ab" * 32))


async def test_transaction_in_another_block_at_the_pinned_height(fake):
    fake.txs[1]["block"] = block_hash(8, "d")
    async with adapter(fake) as bcoin:
        with pytest.raises(TipMoved):
            await bcoin.holdings([A.address], await bcoin.block_at(8))


@pytest.mark.parametrize(
    ("override", "error"),
    [
        (
            [{"hash": "01" * 32, "height": 5, "block": block_hash(5), "inputs": [],
              "outputs": [{"value": "0.5", "script": A.script.hex()}]}],
            MalformedReply,
        ),
        ({"error": {"type": "Error", "message": "Cannot get TX in SPV mode."}}, RpcError),
        ("not a list", MalformedReply),
    ],
)  # fmt: skip
async def test_bad_history_replies(fake, override, error):
    fake.history_override = override
    async with adapter(fake) as bcoin:
        with pytest.raises(error):
            await bcoin.holdings([A.address], await bcoin.tip())


async def test_fractional_satoshi_is_refused(fake):
    fake.txs[0]["outputs"][0]["value"] = Decimal("5000.5")
    async with adapter(fake) as bcoin:
        with pytest.raises(MalformedReply, match="whole number"):
            await bcoin.holdings([A.address], await bcoin.tip())


async def test_incomplete_history_is_refused(fake):
    del fake.txs[0]  # the spend in block 8 now spends a coin the history never showed
    async with adapter(fake) as bcoin:
        with pytest.raises(MalformedReply, match="incomplete"):
            await bcoin.holdings([A.address], await bcoin.tip())


async def test_chunks_and_request_count(fake):
    many = [bech32.encode("bcrt", 0, i.to_bytes(20, "big")) for i in range(450)]
    async with adapter(fake, addresses_per_request=200) as bcoin:
        at = await bcoin.block_at(20)
        before = bcoin.requests
        snapshot = await bcoin.holdings([A.address, *many], at)
        assert len(snapshot.balances) == 451
        assert snapshot.balances[0].units == 3_900
        # confirm + 3 chunks (451 keys / 200) + confirm
        assert snapshot.requests == bcoin.requests - before == 5
    assert fake.paths.count("/tx/address") == 3


async def test_wrong_credentials_are_node_unavailable(fake):
    async with adapter(fake, authorization=basic_auth("x", "wrong")) as bcoin:
        with pytest.raises(NodeUnavailable, match="credentials"):
            await bcoin.tip()


async def test_nothing_listening_is_node_unavailable():
    async with BcoinAdapter(
        f"http://127.0.0.1:{free_port()}", timeout=1.0, retries=1, authorization=AUTH
    ) as bcoin:
        with pytest.raises(NodeUnavailable):
            await bcoin.tip()


async def test_bad_addresses_and_arguments(fake):
    async with adapter(fake) as bcoin:
        at = await bcoin.tip()
        with pytest.raises(InputError):
            await bcoin.holdings(["1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"], at)  # mainnet
        with pytest.raises(InputError):
            await bcoin.holdings(A.address, at)  # a string, not a list
    with pytest.raises(InputError):
        BcoinAdapter(fake.url, network="dogecoin")
    with pytest.raises(InputError):
        BcoinAdapter(fake.url, addresses_per_request=0)


async def test_no_history_at_all_leaves_a_note(fake):
    fake.txs.clear()
    async with adapter(fake) as bcoin:
        snapshot = await bcoin.holdings([A.address], await bcoin.tip())
    assert snapshot.balances[0].units == 0
    assert any("--index-address" in note for note in snapshot.notes)


async def test_naive_balances_one_request_per_address(fake):
    balances, requests = await naive_balances(fake.url, AUTH, [A.address, B.address], 5)
    assert balances == {A.address: 5_000, B.address: 700}
    assert requests == 2
    assert fake.paths == [f"/tx/address/{A.key}", f"/tx/address/{B.key}"]
