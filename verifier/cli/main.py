"""The `por` command: the root group, its global options, and the entry point.

Where it sits: the top of the flow. `main(argv) -> int` is the testable entry;
`entrypoint()` is what `[project.scripts]` installs. Every `PorError` becomes its exit code
here, in one place (DESIGN.md): 0 ok, 1 under-covered, 2 usage, 3 invalid
input/proof/signature, 4 infrastructure. Every command takes `--json` and then prints
exactly one JSON document on stdout.

The commands live one group per module beside this one (liabilities, proofs, reconcile,
attest, history, bench, demo, reserve, site, challenge, config, init, keys, insolvency,
stress)
and know nothing of the root: `COMMANDS` names each one's "module:attr", and only the command
being run is imported (lazy.py; `por --version` and `por --help` import none of them). Their
shared options are in options.py, the help's sections by role in roles.py.
"""

from __future__ import annotations

import gc
import logging
import os
import platform
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Any

import click

from verifier.base.atomic import Terminated, clear_pending, stop_checkpoints, stop_signal
from verifier.base.console import err, print_json
from verifier.base.errors import (
    EXIT_INFRA,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_USAGE,
    InputError,
    PorError,
    UsageError,
)
from verifier.base.redact import mask_text
from verifier.cli.lazy import LazyCommands
from verifier.cli.options import report_error
from verifier.cli.roles import ENTRY_HELP, RoleGroup

log = logging.getLogger(__name__)

# ----------------------------------------------------------------------------- root group


COMMANDS: dict[str, str] = {
    # customer
    "verify-proof": "verifier.cli.proofs:verify_proof_cmd",
    # exchange
    "init": "verifier.cli.init:init",
    "keys": "verifier.cli.keys:keys",
    "challenge": "verifier.cli.challenge:challenge_cmd",
    "liabilities": "verifier.cli.liabilities:liabilities",
    "snapshot": "verifier.cli.reconcile:snapshot_cmd",
    "reserve": "verifier.cli.reserve:reserve",
    "reconcile": "verifier.cli.reconcile:reconcile_cmd",
    "attest": "verifier.cli.attest:attest_cmd",
    "publish": "verifier.cli.site:publish",
    # auditor
    "verify": "verifier.cli.attest:verify_cmd",
    "verify-ownership": "verifier.cli.proofs:verify_ownership_cmd",
    # risk
    "stress": "verifier.cli.stress:stress_cmd",
    # administrator
    "insolvency": "verifier.cli.insolvency:insolvency",
    # operations
    "history": "verifier.cli.history:history_cmd",
    "db": "verifier.cli.history:db_group",
    "serve": "verifier.cli.site:serve",
    "config": "verifier.cli.config:config_group",
    "demo": "verifier.cli.demo:demo",
    "bench": "verifier.cli.bench:bench",
}
"""Every command of `por` -> where it is defined ("module:attr"), in the order of
roles.ROLES (which sections the help). The module is imported when the command runs."""


VERSION_FORMAT = "por-version-v1"


class RootGroup(RoleGroup):
    """The root group: `RoleGroup`'s help by role, and --json seen before any option is
    read. `--version` is eager (it answers before the other options are checked, as
    click's own does), so it cannot wait for --json's value: it reads this instead. The
    same rule as `main`'s: --json anywhere on the command line asks for JSON."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["por.json"] = "--json" in args
        return super().parse_args(ctx, args)


def _version() -> str:
    # importlib.metadata (email, zipfile...: ~20 ms) only when a version is asked for
    import importlib.metadata

    return importlib.metadata.version("por")


def version_document() -> dict[str, Any]:
    """`por --version --json`: the tool, the Python running it, the hashing and amount
    backends, and the format of every document it reads or writes (formats.FORMATS, held
    equal to each format's own constant by tests/cli/test_formats.py)."""
    # the two backends are read from the modules that load them (numpy comes with the
    # hashing, ~0.1 s); the format names from the written-down table (formats.py)
    from attestations import hashing
    from verifier.cli.formats import FORMATS
    from verifier.inputs import native

    return {
        "format": VERSION_FORMAT,
        "name": "por",
        "version": _version(),
        "python": platform.python_version(),
        # which SHA-256 the tree build uses: "native" (libcrypto) or "python" (hashlib)
        "hashing": hashing.backend_info(),
        # which amount parser reads liabilities: "native" (verifier/inputs/_amounts.c) or
        # "python" (Arrow's casts), with the reason when it is not native
        "amounts": native.amounts_info(),
        # which account dictionary the reader uses: "native" (verifier/inputs/_ids.c) or
        # "python" (Arrow's dictionary_encode), with the reason when it is not native
        "ids": native.ids_info(),
        "formats": dict(FORMATS),
    }


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    if ctx.meta.get("por.json"):
        print_json(version_document())
    else:
        click.echo(f"por {_version()}")
    ctx.exit(EXIT_OK)


def _root_json(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    # only --version reads it (and exits before this runs): any other --json belongs to
    # the command, after its name
    if value:
        raise UsageError(
            "--json goes after the command (por COMMAND ... --json), or with --version"
        )


@click.group(
    cls=RootGroup,
    commands=LazyCommands(COMMANDS),
    entry_help=ENTRY_HELP,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--version",
    is_flag=True,
    is_eager=True,
    expose_value=False,
    callback=_print_version,
    help="Print the version and exit (with --json: one JSON document with the formats too).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    expose_value=False,
    callback=_root_json,
    hidden=True,  # --version's help names it
    help="With --version only; every command takes its own --json.",
)
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="More log records on stderr: -v INFO, -vv DEBUG (default WARNING; INFO for --every).",
)
@click.option("-q", "--quiet", is_flag=True, help="Log errors only.")
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error", "critical"], case_sensitive=False),
    default=None,
    help="Log level (default $POR_LOG_LEVEL, then warning).",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"], case_sensitive=False),
    default=None,
    help="Log records on stderr as text lines (ISO 8601 UTC time, level, logger, message) "
    "or one JSON object per line (default $POR_LOG_FORMAT, then text).",
)
@click.pass_context
def cli(
    ctx: click.Context, verbose: int, quiet: bool, log_level: str | None, log_format: str | None
) -> None:
    """por: proof of reserves and on-chain verification.

    Commit customer balances to a Merkle sum tree (por-mst-v1) with an inclusion proof per
    customer; read every wallet at one pinned block per chain and check its ownership
    proof; add the off-chain reserve; reconcile liabilities against them; sign the result
    as an attestation and publish it; run it on a schedule with a history; and check
    other exchanges' published proofs.

    Exit codes: 0 ok; 1 shortfall; 2 usage; 3 invalid input, proof or signature;
    4 node or infrastructure failure; 143 stopped by SIGTERM, 129 by SIGHUP, 130 by
    Ctrl-C, each leaving no temporary or half-written file. No command prints a Python
    traceback unless given --debug (anywhere on the command line) or POR_DEBUG=1.

    Logs go to stderr (never a secret), results to stdout; the log options come before
    the command: por -v --log-format json reconcile ...
    """
    _configure_logging(ctx, verbose, quiet, log_level, log_format)


def _configure_logging(
    ctx: click.Context, verbose: int, quiet: bool, level: str | None, fmt: str | None
) -> None:
    from verifier.base import logs

    if verbose and quiet:
        raise UsageError("-v and -q exclude each other")
    try:
        chosen = logs.resolve_level(verbose=verbose, quiet=quiet, level=level)
        form = logs.resolve_format(fmt)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    logs.configure(chosen, form)
    # the --every loop is a service: its run lines are its log, so it defaults to INFO
    ctx.meta["por.log"] = {
        "format": form,
        "explicit": logs.explicit(verbose, quiet, level, os.environ),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run `por` with `argv`; return the exit code (never raises, never prints a traceback).

    A Python traceback reaches the user only with ``--debug`` (anywhere in argv) or
    ``POR_DEBUG=1``; otherwise an unexpected exception is one "internal error" line and
    exit 4, and a recursion or memory exhaustion is named as such.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("POR_DEBUG", "") not in {"", "0"}
    args = [a for a in args if a != "--debug"]
    as_json = "--json" in args
    _default_logging()
    stdout, sys.stdout = sys.stdout, _ClosedPipeGuard(sys.stdout)
    try:
        with _stop_signals_raise():
            return _main(args, as_json)
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        return EXIT_INTERRUPTED
    except Terminated as exc:
        return _terminated(exc.signum, as_json)
    except (RecursionError, MemoryError) as exc:
        if _STOP.signum is not None:
            return _terminated(_STOP.signum, as_json)
        if debug:
            raise
        if isinstance(exc, RecursionError):
            report_error(InputError("input nested too deeply; refused"), as_json)
            return EXIT_INVALID
        report_error(PorError("out of memory; refused"), as_json)
        return EXIT_INFRA
    except Exception as exc:
        if _STOP.signum is not None:  # a library turned our Terminated into its own error
            return _terminated(_STOP.signum, as_json)
        if debug:
            raise
        # a bug of ours, not the user's input: say so without a traceback (and without
        # the exception text, which might quote a secret)
        report_error(
            PorError(
                f"internal error ({type(exc).__name__}); please report it with the command "
                "and input, and rerun with --debug or POR_DEBUG=1 for the traceback"
            ),
            as_json,
        )
        return EXIT_INFRA
    finally:
        sys.stdout = stdout


EXIT_INTERRUPTED = 130
"""Ctrl-C (SIGINT): 128 + 2, as a shell reports it. SIGTERM gives 143 and SIGHUP 129."""
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class _Stop:
    """The stop signal received during the current `main` call, if any."""

    signum: int | None = None


_STOP = _Stop()


def _terminated(signum: int, as_json: bool) -> int:
    """The ending of a command stopped by SIGTERM/SIGHUP: one line, exit 128 + signal.

    Also when the `Terminated` our handler raised came back as another exception: numpy's
    `tofile` into a file object, for one, turns an exception raised during its call into
    a TypeError; the cleanup ran all the same (every cleanup catches BaseException)."""
    message = "terminated" if signum == signal.SIGTERM else "hangup"
    err.print(message, markup=False)
    code = 128 + signum
    if as_json:  # still one document on stdout, as for every other ending
        print_json({"format": "por-error-v1", "error": "Terminated", "message": message,
                    "exit_code": code})  # fmt: skip
    return code


@contextmanager
def _stop_signals_raise() -> Iterator[None]:
    """While a command runs, SIGTERM and SIGHUP raise `Terminated` in the main thread
    (at once, or once a temporary path being made can be removed: atomic.stop_signal);
    the previous handlers are back afterwards (tests call `main` in-process). Only the
    first signal raises: a second one arriving while the first unwinds must not cut its
    cleanup short (SIGKILL remains for a process that does not stop). Commands that
    stop gracefully (`reconcile --every`, `serve`) install their own handlers over these.
    Python runs handlers in the main thread only, so outside it nothing is installed."""
    _STOP.signum = None
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    owner = os.getpid()

    def handler(signum: int, _frame: FrameType | None) -> None:
        if os.getpid() != owner:
            # a forked child that kept this handler (a worker pool of a library): it must
            # not unwind the command's stack a second time, print a traceback or hold a
            # pipe's lock; it ends as the signal's default action ends a process
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        if _STOP.signum is None:
            _STOP.signum = signum
            stop_signal(signum)

    previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
    try:
        with stop_checkpoints():  # a Terminated that C code swallowed is raised again
            yield
    finally:
        for signum, before in previous.items():
            if before is not None:  # None: set outside Python, cannot be put back
                signal.signal(signum, before)
        clear_pending()


class _ClosedPipeGuard:
    """stdout for one command: a consumer that closes it early (`por history | head -1`)
    does not change the command's result. The first write that meets EPIPE points the
    descriptor at /dev/null (as the Python docs' note on SIGPIPE recommends, so the
    interpreter's last flush finds no broken pipe either) and every later write is
    dropped: the command finishes and exits with its own code, not rich's 1 nor a
    traceback."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.closed_pipe = False

    def write(self, text: str) -> int:
        if not self.closed_pipe:
            try:
                return int(self._stream.write(text))
            except BrokenPipeError:
                self._to_devnull()
        return len(text)

    def flush(self) -> None:
        if not self.closed_pipe:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._to_devnull()

    def _to_devnull(self) -> None:
        self.closed_pipe = True
        log.debug("stdout was closed by its reader; the rest of the output is dropped")
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):  # not a real descriptor (a test's capture)
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _default_logging() -> None:
    """Logging before the root options are parsed (and again on every in-process call):
    the environment's level and format, a bad value being left to the root group to name."""
    from verifier.base import logs

    try:
        level, form = logs.resolve_level(), logs.resolve_format()
    except ValueError:
        level, form = logging.WARNING, "text"
    logs.configure(level, form)


def _main(args: list[str], as_json: bool) -> int:
    for arg in args:
        # a real argv cannot hold NUL; an in-process caller can, and every file API
        # would then fail with a bare ValueError
        if "\x00" in arg:
            report_error(UsageError(f"an argument holds a NUL byte: {arg!r}"), as_json)
            return EXIT_USAGE
    try:
        result = cli.main(args=args, prog_name="por", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.Abort:
        err.print("aborted")
        return EXIT_USAGE
    except click.ClickException as exc:
        if _STOP.signum is not None:  # as in `main`: a Terminated in another guise
            return _terminated(_STOP.signum, as_json)
        # click quotes bad values verbatim; a URL given to the wrong option may hold a password
        context = getattr(exc, "ctx", None)
        if context is not None:
            err.print(context.get_usage(), markup=False)
        message = _root_option_hint(exc, args) or exc.format_message()
        err.print(f"Error: {mask_text(message)}", markup=False)
        if as_json:
            print_json(UsageError(message).to_json())
        return EXIT_USAGE
    except (PorError, OSError) as exc:
        if _STOP.signum is not None:
            return _terminated(_STOP.signum, as_json)
        if isinstance(exc, PorError):
            report_error(exc, as_json)
            return exc.exit_code
        message = f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc)
        report_error(PorError(f"system error: {message}"), as_json)
        return EXIT_INFRA
    except KeyboardInterrupt:
        err.print("interrupted")
        return EXIT_INTERRUPTED
    return int(result) if isinstance(result, int) else EXIT_OK


def _root_option_hint(exc: click.ClickException, args: list[str]) -> str | None:
    """For a root-only option given after the command (`por reconcile -v`), the message
    that says where it goes (`por -v reconcile …`) instead of click's bare "No such
    option" (or its "did you mean" of an unrelated option of the command)."""
    context = getattr(exc, "ctx", None)
    name = getattr(exc, "option_name", None)
    if not isinstance(exc, click.NoSuchOption) or context is None or context.parent is None:
        return None
    root = {opt for param in cli.params for opt in (*param.opts, *param.secondary_opts)}
    root -= {"--help", "-h", "--version", "--json"}  # --json is every command's own too
    if name not in root:
        return None
    # as typed: "-vv" (click names its first letter), "--log-level=debug", "--log-level debug"
    typed = str(name)
    for i, arg in enumerate(args):
        repeated = len(typed) == 2 and arg[:1] == "-" and set(arg[1:]) == {typed[1]}  # -vv
        if arg == name or arg.startswith(f"{name}=") or repeated:
            typed = arg
            value = args[i + 1] if i + 1 < len(args) else None
            takes_value = any(
                name in p.opts and not getattr(p, "is_flag", False) and not getattr(p, "count", 0)
                for p in cli.params
            )
            if takes_value and arg == name and value is not None:
                typed = f"{arg} {value}"
            break
    command = " ".join(context.command_path.split()[1:])
    return (
        f"No such option {name!r} for {context.command_path}: log options go before the "
        f"command: por {typed} {command} …"
    )


def entrypoint() -> None:
    # por does no linear algebra, but numpy starts OpenBLAS's thread pool on import, and
    # its threads spin for a while after: measured ~0.15 CPU-s of a 1M-account build taken
    # from the core the build hashes and parses on. One BLAS thread means no pool. Set only
    # here, for the `por` process and what it starts; a user's own value is kept.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    code = main()
    # the process ends here: spare the interpreter's last garbage collection over every
    # object the imports made (~0.1-0.2 s with web3 loaded), which a service stopping on
    # SIGTERM would otherwise sit out; nothing left is waiting on it (logs are flushed by
    # atexit, output files are closed by the code that wrote them)
    gc.freeze()
    sys.exit(code)
