"""Forked worker pools that a stop signal cannot hang or fill with tracebacks.

Where it sits: beside the build (attestations/build.py) and the one-file-per-account proofs
(attestations/proof_files.py), which fork workers when the native hashing is missing or the
work is large. Two things go wrong with a plain `multiprocessing.Pool` once `por` turns
SIGTERM/SIGHUP into an exception (verifier/cli/main.py):

- the workers inherit that handler, so the SIGTERM `Pool.terminate()` sends them, or a
  process-group signal from systemd or `timeout`, raises in each worker and prints its
  traceback, even after a command that succeeded;
- a worker killed while it writes a result holds the result pipe's lock, and
  `Pool.terminate()` writes a sentinel into that pipe before it stops the workers: the
  command then hangs for good (seen twice in eight process-group SIGTERMs).

So the workers here ignore SIGINT, SIGTERM and SIGHUP (only their parent decides when they
stop), a pool that finished its work is closed and joined (the workers leave at the
sentinel), and a pool left by an exception or a signal has its workers killed and is
never written to again: its own finaliser, which would write that sentinel, is cancelled.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.pool
import signal
from collections.abc import Iterator

from verifier.base.atomic import make_held

WORKER_IGNORES = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _ignore_stop_signals() -> None:
    for signum in WORKER_IGNORES:
        signal.signal(signum, signal.SIG_IGN)


@contextlib.contextmanager
def forked_pool(workers: int) -> Iterator[multiprocessing.pool.Pool]:
    """A fork `Pool` of `workers` processes, stopped as the module docstring says."""
    # made with stop signals held: a signal landing while the workers start would leave
    # them running (they ignore SIGTERM) with nobody to stop them, and exit would wait
    pool = make_held(
        lambda: multiprocessing.get_context("fork").Pool(workers, _ignore_stop_signals), abandon
    )
    finished = False
    try:
        yield pool
        finished = True
    finally:
        if finished:
            pool.close()
            pool.join()
        else:
            abandon(pool)


def abandon(pool: multiprocessing.pool.Pool) -> None:
    """Kill the pool's workers and make sure nothing writes into its pipes again.

    `Pool` has no public way to stop without writing its sentinel, hence its private
    parts: `_worker_handler` (the thread that starts a new worker for every one that dies:
    stopped first, or it would replace the workers killed here by new ones that outlive
    the command), `_change_notifier` (wakes that thread), `_pool` (the worker processes)
    and `_terminate` (the finaliser `terminate()` and interpreter exit would run)."""
    handler = getattr(pool, "_worker_handler", None)
    if handler is not None:
        handler._state = multiprocessing.pool.TERMINATE
        pool._change_notifier.put(None)  # type: ignore[attr-defined]
        handler.join(timeout=10)
    processes = list(getattr(pool, "_pool", []))
    for process in processes:
        if process.exitcode is None:
            process.kill()
    for process in processes:
        process.join(timeout=10)
    finaliser = getattr(pool, "_terminate", None)
    if finaliser is not None:
        finaliser.cancel()
