"""The one exception tree of `por` (a leaf module: imports nothing of the project).

Every error the tool raises on purpose is a `PorError`; its family fixes the exit code the
CLI returns (DESIGN.md, "Exit codes")::

    PorError                         (exit 4 unless a family says otherwise)
    ├── UsageError                   2  bad flags or combinations the parser cannot see
    ├── InputError (ValueError)      3  a bad input file, line, key or value
    │   └── NotFound (LookupError)   3  an account, file or key that is not there
    ├── AttestationError             3  a proof, tree or document that does not verify
    │   ├── InvalidProof             3  a check failed; `.check` names it
    │   ├── NegativeBalance          3
    │   └── SumOverflow (OverflowError) 3  a sum component reaching 2**128
    ├── ChainError                   4  node, network or chain state
    │   ├── NodeUnavailable          unreachable, timed out, or refused after retries
    │   ├── NetworkMismatch          another network or chain id than configured
    │   ├── StaleNode                behind the pinned height, or not at it (Core)
    │   ├── TipMoved                 the tip or the pinned block's hash changed (reorg)
    │   ├── MalformedReply           a reply that does not follow the documented format
    │   └── RpcError                 the node answered with a JSON-RPC error
    └── StoreError                   4  database or file-system failure

Under-coverage is a *result* (exit 1), never an exception.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_SHORTFALL = 1
EXIT_USAGE = 2
EXIT_INVALID = 3
EXIT_INFRA = 4


class PorError(Exception):
    """Root of every error `por` raises on purpose."""

    exit_code: int = EXIT_INFRA

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_json(self) -> dict[str, object]:
        """The machine-readable form printed under `--json`."""
        return {
            "format": "por-error-v1",
            "error": type(self).__name__,
            "message": self.message,
            "exit_code": self.exit_code,
        }

    def __reduce__(self) -> tuple[object, ...]:
        # errors cross process boundaries (the build's and audit's worker pools); rebuild
        # them field for field rather than through each subclass's own __init__ signature
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


def _rebuild(cls: type[PorError], args: tuple[object, ...], fields: dict[str, object]) -> PorError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(fields)
    return error


class UsageError(PorError):
    """Flags or arguments that do not fit together."""

    exit_code = EXIT_USAGE


class InputError(PorError, ValueError):
    """Bad input: names the file, the line (1-based, header = line 1) or key, and the value."""

    exit_code = EXIT_INVALID

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
        value: str | None = None,
    ) -> None:
        where = []
        if file is not None:
            where.append(str(file))
        if line is not None:
            where.append(f"line {line}")
        if key is not None:
            where.append(f"key {key!r}")
        text = message
        if value is not None:
            shown = value if len(value) <= 80 else value[:77] + "..."
            text = f"{text}: {shown!r}"
        if where:
            text = f"{': '.join(where)}: {text}"
        super().__init__(text)
        self.file = file
        self.line = line
        self.key = key
        self.value = value

    def to_json(self) -> dict[str, object]:
        doc = super().to_json()
        doc.update({"file": self.file, "line": self.line, "key": self.key})
        return doc


class NotFound(InputError, LookupError):
    """Something asked for by name (an account, a file) does not exist."""


class AttestationError(PorError):
    """A proof, tree or attestation document that fails verification."""

    exit_code = EXIT_INVALID


class InvalidProof(AttestationError):
    """A verification check failed; `check` names which one, for `--json` and tests."""

    def __init__(self, check: str, message: str) -> None:
        super().__init__(f"{check}: {message}")
        self.check = check

    def to_json(self) -> dict[str, object]:
        doc = super().to_json()
        doc["check"] = self.check
        return doc


class NegativeBalance(AttestationError):
    """A balance below zero where the format allows none."""


class SumOverflow(AttestationError, OverflowError):
    """A sum component reached 2**128 (por-mst-v1 forbids it)."""


class ChainError(PorError):
    """A node, network or chain-state problem (exit 4)."""


class NodeUnavailable(ChainError):
    """The node could not be reached or did not answer in time."""


class NetworkMismatch(ChainError):
    """The node serves another network or chain id than configured."""


class StaleNode(ChainError):
    """The node has not reached the pinned height."""


class TipMoved(ChainError):
    """The tip or the pinned block's hash changed during the scan (reorg)."""


class MalformedReply(ChainError):
    """A node reply that does not follow the documented format."""


class RpcError(ChainError):
    """A JSON-RPC error object from the node; `code` is the RPC error code."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message if code is None else f"RPC error {code}: {message}")
        self.code = code


class StoreError(PorError):
    """A database or file-system failure (exit 4)."""
