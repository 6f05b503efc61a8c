"""The `--every` loop of `por reconcile`: the interval, stopping on a signal, and its health.

Where it sits: above one run (verifier/history/schedule.py `run_once`), under the command
(verifier/cli/reconcile.py). `parse_interval` reads ``--every``; `run_loop` runs, waits out
the interval from the start of each run, survives failed runs (they are stored and
alerted) and stops cleanly between runs on SIGTERM or SIGINT (`Stop`; a run in progress is
finished and stored). With ``--metrics-port``, `LiveMetrics` serves the latest run's
metrics (verifier/history/metrics.py) and `LoopHealth` answers ``/healthz``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import select
import signal
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from types import FrameType

from verifier.base.console import err
from verifier.base.errors import PorError, UsageError
from verifier.base.redact import mask_text
from verifier.history.metrics import MetricsServer, MetricsSnapshot, registry
from verifier.inputs.config import load_config

log = logging.getLogger(__name__)

_INTERVAL = re.compile(r"([0-9]{1,12})([smhd]?)")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_INTERVAL = 366 * 86400
"""The longest `--every` (a year and a day): longer is a typo, and waits that long overflow."""


def parse_interval(text: str) -> int:
    """``"90s"``, ``"15m"``, ``"1h"``, ``"1d"`` (or bare seconds) -> seconds (1 s to 366 d)."""
    shown = text if len(text) <= 40 else text[:37] + "..."
    match = _INTERVAL.fullmatch(text.strip().lower())
    if match is None or int(match.group(1)) == 0:
        raise UsageError(f"--every: expected a duration such as 30s, 15m, 1h or 1d, not {shown!r}")
    seconds = int(match.group(1)) * _UNIT[match.group(2)]
    if seconds > MAX_INTERVAL:
        raise UsageError(f"--every: at most 366d, not {shown!r}")
    return seconds


class Stop:
    """Set by SIGTERM/SIGINT; the loop checks it between runs and while waiting.

    The signal handler only stores the signal and writes one byte to a pipe: it takes no
    lock and logs nothing. (A `threading.Event` set from a handler deadlocks when the signal
    lands while the main thread holds the event's own lock inside `wait`, and a log line
    written from a handler can land inside another write to stderr; both were seen as a
    loop that ignored SIGTERM on a loaded machine.)
    """

    def __init__(self) -> None:
        self.signal: str | None = None
        self._set = False
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)

    def set(self, name: str | None = None) -> None:
        if name is not None and self.signal is None:
            self.signal = name
        self._set = True
        with contextlib.suppress(OSError):  # the pipe is full: a wake-up is pending
            os.write(self._write, b"\0")

    def is_set(self) -> bool:
        return self._set

    def wait(self, seconds: int) -> bool:
        """Wait up to `seconds` or until set; True when set."""
        deadline = time.monotonic() + seconds
        while not self._set:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            select.select([self._read], [], [], left)
        return self._set

    def close(self) -> None:
        os.close(self._read)
        os.close(self._write)

    def install(self) -> None:
        def handler(signum: int, _frame: FrameType | None) -> None:
            self.set(signal.Signals(signum).name)

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)


def run_loop(
    once: Callable[[], int],
    interval: int,
    stop: Stop,
    *,
    max_runs: int | None = None,
    health: LoopHealth | None = None,
) -> int:
    """Run `once` every `interval` seconds until stopped; returns 0 when stopped cleanly.

    A run that raises (the database is unreachable, the lock is busy) is logged and the
    loop goes on: the next run may succeed. `health` (the ``/healthz`` of
    ``--metrics-port``) is told when each run starts and ends.
    """
    runs = 0
    while not stop.is_set():
        started = time.monotonic()
        if health is not None:
            health.run_started()
        try:
            code = once()
            log.info(
                "run finished with exit code %s in %.1f s",
                code,
                time.monotonic() - started,
                extra={"exit_code": code},
            )
        except PorError as exc:
            log.error("run could not be recorded: %s", mask_text(exc.message))
        finally:
            if health is not None:
                health.run_finished()
        runs += 1
        if max_runs is not None and runs >= max_runs:
            break
        wait = max(Decimal(0), Decimal(interval) - Decimal(str(time.monotonic() - started)))
        if stop.wait(int(wait) + (1 if wait % 1 else 0)):
            break
    if stop.signal is not None:
        log.warning("%s received, stopped after the run in progress", stop.signal)
    log.info("stopped")
    return 0


# ----------------------------------------------------------------------------- --metrics-port

HEALTH_GRACE = 60
"""Seconds beyond two intervals before ``/healthz`` says the loop is stuck."""


class LoopHealth:
    """The ``/healthz`` of the `--every` loop: healthy while a run is in progress (for at
    most two intervals plus `HEALTH_GRACE`) or the last run finished within two intervals
    plus the grace; otherwise 503 with the reason. `clock` is monotonic seconds."""

    def __init__(
        self,
        interval: int,
        grace: int = HEALTH_GRACE,
        clock: Callable[[], float] = time.monotonic,  # float-ok: seconds
    ) -> None:
        self.limit = 2 * interval + grace
        self.window = f"more than {self.limit} s (2 x the {interval} s interval + {grace} s)"
        self.clock = clock
        self.born = clock()
        self.running_since: float | None = None  # float-ok: seconds
        self.finished_at: float | None = None  # float-ok: seconds

    def run_started(self) -> None:
        self.running_since = self.clock()

    def run_finished(self) -> None:
        self.finished_at = self.clock()
        self.running_since = None

    def check(self) -> tuple[bool, str]:
        now = self.clock()
        window = self.window
        running_since = self.running_since
        if running_since is not None:
            running = int(now - running_since)
            if running <= self.limit:
                return True, "ok"
            return False, f"the current run has been running for {running} s, {window}"
        if self.finished_at is None:
            waited = int(now - self.born)
            if waited <= self.limit:
                return True, "ok"
            return False, f"no run has finished in {waited} s, {window}"
        since = int(now - self.finished_at)
        if since <= self.limit:
            return True, "ok"
        return False, f"the last run finished {since} s ago, {window}"


class LiveMetrics:
    """``--metrics-port`` of the `--every` loop: the metrics of the latest run (`update`,
    called by `run_once` through `RunOptions.on_metrics`) and the loop's health."""

    def __init__(self, interval: int, config_file: Path | None = None) -> None:
        self.health = LoopHealth(interval)
        self.snapshot = MetricsSnapshot()
        if config_file is not None:
            try:  # the labels before the first run ends; a bad config fails that run
                config = load_config(config_file)
                self.snapshot = MetricsSnapshot(
                    exchange=config.exchange, attestation=config.attestation_id
                )
            except PorError:
                pass

    def update(self, snapshot: MetricsSnapshot) -> None:
        self.snapshot = snapshot  # one reference swapped: a scrape sees one run or the next

    def serve(self, host: str, port: int) -> MetricsServer:
        """Listen (port 0: a free one, printed); `PorError` (exit 4) naming the port when
        the address cannot be listened on."""
        server = MetricsServer(registry(lambda: self.snapshot), self.health.check, host, port)
        err.print(f"por: metrics on {server.url} (health: /healthz)", markup=False)
        log.info("metrics endpoint listening on %s:%s", host, server.port)
        return server
