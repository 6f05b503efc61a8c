"""JSON-RPC batches to one Ethereum node: one HTTP POST per batch, bounded concurrency,
timeouts, retries and typed errors.

Where it sits: the transport under the Ethereum adapter (chains/ethereum.py subclasses
`EthereumRpc`); the adapter decides which calls to send, this module sends them. Raw
batches over aiohttp rather than web3: web3's request and result formatting cost ten times
the node's own time for a batched read (measured with `por bench snapshot`), and its
provider shows the URL, API key included, in its string form.

Errors are translated at the boundary (`raise ... from exc`): connection failures and
timeouts (retried `retries` times with backoff first, `chains.retry`) -> `NodeUnavailable`;
JSON-RPC error objects -> `RpcError`; replies of the wrong shape -> `MalformedReply`. A
reply is read up to `max_reply_bytes` (`chains.rpc.read_body`, else `ReplyTooLarge`) and
decoded with bounded nesting and integers (`chains.rpc.decode_reply`). The URL may carry an
API key (`/v3/<key>`, `?apikey=`): messages show it masked (`shown_url`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self, TypeVar

import aiohttp

from chains.eth_hex import json_object
from chains.retry import RetryPolicy, unavailable
from chains.rpc import check_endpoint, decode_reply, peek, read_body, short
from verifier.base.console import plural
from verifier.base.errors import InputError, MalformedReply, NodeUnavailable, PorError, RpcError
from verifier.base.redact import mask_url

__all__ = ["EthereumRpc", "Tally", "rpc_error"]

# the adapter's logger, as it was before the transport had its own module: operators and
# tests filter retry lines on "chains.ethereum"
log = logging.getLogger("chains.ethereum")

_T = TypeVar("_T")


@dataclass
class Tally:
    """HTTP requests of one operation (concurrent operations on one adapter count apart)."""

    requests: int = 0


class EthereumRpc:
    """One Ethereum JSON-RPC endpoint: batches, the request gate, retries, the HTTP session.

    Parameters
    ----------
    url
        The node's JSON-RPC endpoint.
    timeout
        Seconds for each HTTP request (and each await on it).
    concurrency
        HTTP requests in flight at once.
    retries, backoff
        Transient failures (connection refused or reset, timeouts, a body cut short, HTTP
        502/503/504: `chains.retry`) are retried this many times, after `backoff`,
        2 x `backoff`, ... seconds.
    max_reply_bytes
        The largest reply read (`chains.rpc.read_body`); larger is `ReplyTooLarge`.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float,  # float-ok: seconds
        concurrency: int,
        retries: int,
        backoff: float,  # float-ok: seconds
        max_reply_bytes: int,
    ) -> None:
        check_endpoint(url)
        # zero would mean "no timeout" to aiohttp and a gate nobody passes
        if not timeout > 0:
            raise InputError("the timeout must be positive", key="timeout", value=str(timeout))
        if concurrency < 1 or max_reply_bytes < 1:
            raise InputError(
                "concurrency and max_reply_bytes must be positive",
                value=f"{concurrency}, {max_reply_bytes}",
            )
        self.url = url
        self.shown_url = mask_url(url)
        """The URL as messages show it: an API key or password in it is masked."""
        self._timeout = timeout
        self._policy = RetryPolicy(retries=retries, backoff=backoff, node="ethereum", log=log)
        self._max_reply = max_reply_bytes
        self._gate = asyncio.Semaphore(concurrency)
        self._session: aiohttp.ClientSession | None = None
        self.requests = 0
        """HTTP requests sent by this adapter so far (all operations)."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                connector=aiohttp.TCPConnector(limit=32),
            )
        return self._session

    async def _send(self, tally: Tally, op: Callable[[], Awaitable[_T]], what: str) -> _T:
        """Run one HTTP exchange with timeout, retries (`chains.retry`) and typed errors;
        count it."""

        async def attempt() -> _T:
            async with self._gate:
                tally.requests += 1
                self.requests += 1
                async with asyncio.timeout(self._timeout):
                    return await op()

        subject = f"ethereum node at {self.shown_url}: {what}"
        try:
            return await self._policy.run(attempt, subject=subject, give_up=unavailable(subject))
        except PorError:
            raise
        except (aiohttp.ClientError, OSError) as exc:
            # library texts may quote the URL: masked like ours
            raise NodeUnavailable(
                f"ethereum node at {self.shown_url}: {what} failed "
                f"({type(exc).__name__}: {short(exc)})"
            ) from exc
        except ValueError as exc:
            raise MalformedReply(f"ethereum {what}: bad reply ({short(exc)})") from exc

    async def _post_batch(self, body: list[dict[str, Any]], what: str) -> Any:
        """POST one JSON-RPC batch and decode the reply (no retries here: see `_send`).

        A plain POST; the reply is read up to `max_reply_bytes` and decoded bounded.
        """
        source = f"ethereum node at {self.shown_url} ({what})"
        async with self._client().post(self.url, json=body) as reply:
            reply.raise_for_status()
            raw = await read_body(reply, self._max_reply, source)
        return decode_reply(raw, source=source)

    async def _raw_batch(self, calls: Sequence[tuple[str, list[Any]]], tally: Tally) -> list[Any]:
        """Raw JSON-RPC calls in one HTTP batch; their results in order (errors raise)."""
        body = [
            {"jsonrpc": "2.0", "id": n, "method": method, "params": params}
            for n, (method, params) in enumerate(calls)
        ]
        what = ", ".join(sorted({m for m, _ in calls}))

        async def op() -> Any:
            return await self._post_batch(body, what)

        replies = await self._send(tally, op, what)
        if not isinstance(replies, list):
            error = replies.get("error") if isinstance(replies, Mapping) else None
            raise rpc_error(what, error) if error else MalformedReply(f"{what}: {peek(replies)}")
        if len(replies) != len(calls):
            raise MalformedReply(
                f"a batch of {plural(len(calls), 'call')} got {plural(len(replies), 'reply')}"
            )
        # JSON-RPC lets a server answer a batch in any order: match replies by id (an id
        # that is not a number answers none of ours; a list would not even be hashable)
        by_id = {
            r["id"]: r
            for r in replies
            if isinstance(r, Mapping) and isinstance(r.get("id"), int | str)
        }
        if sorted(by_id, key=str) != sorted(range(len(calls)), key=str):
            raise MalformedReply(
                f"a batch of {plural(len(calls), 'call')} got replies with other ids"
            )
        replies = [by_id[n] for n in range(len(calls))]
        out = []
        for (method, _), reply in zip(calls, replies, strict=True):
            reply_doc = json_object(reply, f"reply to {method}")
            if reply_doc.get("error"):
                raise rpc_error(method, reply_doc["error"])
            if "result" not in reply_doc:
                raise MalformedReply(f"reply to {method} has no result")
            out.append(reply_doc["result"])
        return out

    async def _fan_out(self, jobs: Sequence[Awaitable[_T]]) -> list[_T]:
        """Run the jobs concurrently (bounded by the request gate); the first error wins."""
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(_as_coroutine(job)) for job in jobs]
        except BaseExceptionGroup as failed:
            # surface one typed error, not the group; keep its library cause chained
            error = _first_error(failed)
            raise error from error.__cause__
        return [task.result() for task in tasks]


# ---------------------------------------------------------------------- helpers


def rpc_error(method: str, error: Any) -> RpcError:
    """The typed error of a JSON-RPC error object in the reply to `method`."""
    if isinstance(error, Mapping):
        code = error.get("code")
        return RpcError(
            f"ethereum {method}: {short(error.get('message'))}",
            code=code if isinstance(code, int) and not isinstance(code, bool) else None,
        )
    return RpcError(f"ethereum {method}: {peek(error)}")


def _first_error(group: BaseExceptionGroup[Any]) -> BaseException:
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            return _first_error(error)
        if isinstance(error, PorError):
            return error
    return group.exceptions[0]


async def _as_coroutine(job: Awaitable[_T]) -> _T:
    return await job
