"""The one retry policy of every network call: what is transient, how often and how long to
wait, what each retry logs and what giving up says.

Where it sits: under the node clients (`chains.rpc.HttpJson`/`JsonRpc`, the Ethereum
adapter) and the alert webhook (`verifier.history.alerts.Webhook`), which used to carry three
hand-written loops of their own. The loop is tenacity's (`AsyncRetrying` for the adapters,
`Retrying` for the webhook, which runs outside an event loop); this module only states the
rules:

- what is transient is decided by a classifier (`classify_http`, `classify_webhook`): a
  refused or dropped connection, a timeout, a body cut short, HTTP 502/503/504 (and 5xx/429
  for a webhook), bcoin's and Core's "warming up" (RPC -28). Anything else is final at once;
- `retries` more attempts after the first, waiting `backoff`, 2 x `backoff`, 4 x ... seconds
  (no jitter: the delays are what the log says and what tests set small);
- each retry is one WARNING record on the caller's logger, "<what>: <reason>; retry 1 of 3
  in 0.2 s", with the fields ``node``, ``attempt`` and ``backoff_seconds``;
- a failure that is final or outlived the retries goes to the caller's `give_up`, which
  turns it into the typed error (`unavailable`: `NodeUnavailable` "... failed (<reason>)
  after N attempts", the wording of `gave_up`), a value, or re-raises it unchanged.

Callers pass subjects that are already masked: a node or webhook URL is shown only through
`verifier.base.redact.mask_url`.
"""

from __future__ import annotations

import asyncio
import http.client
import logging
import time
import urllib.error
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

import aiohttp
import tenacity

from verifier.base.console import plural
from verifier.base.errors import NodeUnavailable, RpcError
from verifier.base.redact import mask_text

_T = TypeVar("_T")

TRANSIENT_STATUS = frozenset({502, 503, 504})
"""HTTP answers of a node that is restarting or behind an overloaded proxy."""
RPC_WARMING_UP = -28
"""The JSON-RPC error bcoin and Bitcoin Core answer while they load their chain state."""


@dataclass(frozen=True)
class Failure:
    """How a failed attempt is named in messages ("HTTP 503", "TimeoutError") and whether
    another attempt may succeed."""

    reason: str
    transient: bool


Classifier = Callable[[BaseException], Failure | None]
"""A failure's `Failure`, or None for an error the policy leaves alone (it propagates)."""


class TransientStatus(Exception):
    """An HTTP answer with a `TRANSIENT_STATUS`, raised so the policy retries it; a caller
    that gives up may still read the last answer (`status`, `body`)."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body


def classify_http(exc: BaseException) -> Failure | None:
    """The rules for a node over HTTP (aiohttp): connection, timeout, truncated body,
    502/503/504 and RPC -28 are transient; another HTTP error status is final."""
    if isinstance(exc, TransientStatus):
        return Failure(f"HTTP {exc.status}", transient=True)
    if isinstance(exc, aiohttp.ClientResponseError):  # raise_for_status()
        return Failure(f"HTTP {exc.status}", transient=exc.status in TRANSIENT_STATUS)
    if isinstance(exc, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError | TimeoutError):
        return Failure(type(exc).__name__, transient=True)
    if isinstance(exc, RpcError) and exc.code == RPC_WARMING_UP:
        return Failure(f"warming up (RPC {RPC_WARMING_UP})", transient=True)
    return None


def classify_webhook(exc: BaseException) -> Failure | None:
    """The rules for an alert receiver (urllib): 5xx and 429 (it asks us to come back) and
    any connection error or timeout are transient; another 4xx rejects the document."""
    if isinstance(exc, urllib.error.HTTPError):
        return Failure(f"HTTP {exc.code}", transient=exc.code >= 500 or exc.code == 429)
    if isinstance(exc, urllib.error.URLError):
        return Failure(str(exc.reason), transient=True)
    if isinstance(exc, OSError):  # a timeout while reading the answer, a reset
        return Failure(str(exc), transient=True)
    if isinstance(exc, http.client.HTTPException):  # a garbled answer (a proxy restarting)
        return Failure(type(exc).__name__, transient=True)
    return None


def gave_up(subject: str, reason: str, attempts: int) -> str:
    """The one wording of every adapter for a node that kept failing transiently:
    "<subject> failed (<reason>) after 4 attempts" (bcoin and Ethereum alike)."""
    return f"{subject} failed ({reason}) after {plural(attempts, 'attempt')}"


def unavailable(subject: str) -> Callable[[BaseException, Failure, int], NoReturn]:
    """A `give_up` raising `NodeUnavailable` in the `gave_up` wording, from the last error."""

    def give_up(exc: BaseException, failure: Failure, attempts: int) -> NoReturn:
        raise NodeUnavailable(gave_up(subject, failure.reason, attempts)) from exc

    return give_up


def _reraise(exc: BaseException, failure: Failure, attempts: int) -> NoReturn:
    raise exc


async def _async_sleep(seconds: float) -> None:  # float-ok: seconds
    # looked up at call time, so a test that replaces asyncio.sleep replaces this wait too
    await asyncio.sleep(seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of one client: `retries` more attempts after the first, `backoff` seconds
    before the first retry and twice as long before each next one.

    `node` names the client in the log records' ``node`` field; `log` is the caller's
    logger (records stay under the caller's name, e.g. ``chains.rpc``).
    """

    retries: int
    backoff: float  # float-ok: seconds
    node: str
    log: logging.Logger
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)  # float-ok: s
    """The wait of the synchronous `run_sync` (a test passes a recorder)."""

    def _options(self, classify: Classifier, subject: str) -> dict[str, Any]:
        def transient(exc: BaseException) -> bool:
            failure = classify(exc)
            return failure is not None and failure.transient

        def say(state: tenacity.RetryCallState) -> None:
            # a node that needs retries is worth an operator's look: WARNING, not DEBUG
            exc = state.outcome.exception() if state.outcome is not None else None
            failure = classify(exc) if exc is not None else None
            delay = state.next_action.sleep if state.next_action is not None else 0.0
            self.log.warning(
                "%s: %s; retry %d of %d in %.3g s",
                subject,
                # a library's text may quote a URL with its key: masked like ours
                mask_text(failure.reason if failure is not None else type(exc).__name__),
                state.attempt_number,
                self.retries,
                delay,
                extra={
                    "node": self.node,
                    "attempt": state.attempt_number,
                    "backoff_seconds": delay,
                },
            )

        return {
            "stop": tenacity.stop_after_attempt(max(1, self.retries + 1)),
            "wait": tenacity.wait_exponential(multiplier=self.backoff, exp_base=2, min=0),
            "retry": tenacity.retry_if_exception(transient),
            "before_sleep": say,
            "reraise": True,  # the last error itself, not tenacity's RetryError
        }

    async def run(
        self,
        attempt: Callable[[], Awaitable[_T]],
        *,
        subject: str,
        classify: Classifier = classify_http,
        give_up: Callable[[BaseException, Failure, int], _T] = _reraise,
    ) -> _T:
        """`await attempt()` until it returns, fails with an error `classify` does not
        name (raised unchanged) or a final `Failure` (handed to `give_up` with the number
        of attempts made). `subject` starts each retry's log message."""
        made = 0

        async def counted() -> _T:
            nonlocal made
            made += 1
            return await attempt()

        retrying = tenacity.AsyncRetrying(
            sleep=_async_sleep,
            **self._options(classify, subject),
        )
        try:
            return await retrying(counted)
        except Exception as exc:
            failure = classify(exc)
            if failure is None:
                raise
            return give_up(exc, failure, made)

    def run_sync(
        self,
        attempt: Callable[[], _T],
        *,
        subject: str,
        classify: Classifier,
        give_up: Callable[[BaseException, Failure, int], _T] = _reraise,
    ) -> _T:
        """`run` for a caller outside an event loop (the webhook); waits with `sleep`."""
        made = 0

        def counted() -> _T:
            nonlocal made
            made += 1
            return attempt()

        retrying = tenacity.Retrying(
            sleep=self.sleep,
            **self._options(classify, subject),
        )
        try:
            return retrying(counted)
        except Exception as exc:
            failure = classify(exc)
            if failure is None:
                raise
            return give_up(exc, failure, made)
