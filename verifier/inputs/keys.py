"""The exchange's attestation signing key files: create, read, and pin the public key.

Where it sits: beside `por attest` (which signs with the key) and `por verify` (which pins
the public key). The private key is an Ed25519 PKCS#8 PEM file, unencrypted, mode 0600
(what ``openssl genpkey -algorithm ed25519`` writes); its public half is published as 64
lowercase hex digits in a ``.pub`` file beside it (mode 0644), which auditors pin with
``por verify --public-key-file``.

Rules this module keeps:

1. A key is only ever created on purpose (`create_signing_key`, `por keys create`);
   reading a missing key is an error that says how to create one, never a silent create.
2. The private key is never world- or group-readable, not even for an instant: the
   temporary file is created 0600 with ``O_EXCL``, fsynced, then renamed into place; a
   directory created for it is 0700.
3. An existing key is replaced only with ``force``, and the caller is told the public key
   it replaced (every attestation signed with it then needs the old key to verify). Only a
   key is ever replaced: a file that is not an Ed25519 PKCS#8 private key (a config, a
   price list, a database, a password file, a tree secret), a ``.pub`` path and any input
   the config names are refused with or without ``force``, so a slip of ``--key`` cannot
   turn an input or a secret into a private key.
4. No message, log line or return value holds private key material.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from verifier.base.errors import InputError, UsageError

log = logging.getLogger(__name__)

MAX_KEY_FILE_BYTES = 4096
"""A PEM Ed25519 key is 119 bytes; anything much larger is not a key."""

_HEX64 = re.compile(r"[0-9a-f]{64}")
CREATE_HINT = "create one with `por keys create --config por.toml` and publish its public key"


def public_file(path: Path) -> Path:
    """Where the public key of the key file `path` is published: ``<name>.pub`` beside it."""
    return path.with_name(f"{path.name}.pub")


def public_hex(key: Ed25519PrivateKey) -> str:
    """The raw 32-byte public key as 64 lowercase hex digits (what auditors pin)."""
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return raw.hex()


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 signing key in `path`; never creates one.

    Parameters
    ----------
    path
        The key file (``[attest] key_file``).

    Returns
    -------
    Ed25519PrivateKey

    Raises
    ------
    InputError
        No file there (the message says how to create one), a file readable or writable by
        group or others (naming its mode), not a regular file, too large, or not an
        unencrypted PEM PKCS#8 Ed25519 key. No message holds key material.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise InputError(f"no signing key at {path}: {CREATE_HINT}", file=str(path)) from None
    except OSError as exc:
        raise InputError(
            f"cannot open the signing key file ({exc.strerror})", file=str(path)
        ) from None
    # check the file we opened, not the name (it could be swapped in between); before
    # fdopen, which refuses a directory with a bare OSError
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise InputError("the signing key path is not a regular file", file=str(path))
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(MAX_KEY_FILE_BYTES + 1)
    if path.name.endswith(".pub"):
        # before the mode check: a .pub is 0644 on purpose, its mode is not the problem
        private = path.with_name(path.name.removesuffix(".pub"))
        hint = f" ({private})" if path.name != ".pub" else ""
        raise InputError(
            f"this is a public key file (.pub); give the private key file{hint}, or read "
            "the .pub directly",
            file=str(path),
        )
    if _is_public_key(data):
        # 64 hex digits are a raw 32-byte key: a public key, or a raw private key -- either
        # way not the PEM the tool reads, and the message must not say which it holds
        raise InputError(
            "the signing key file holds 64 hex digits (a raw key), not an unencrypted PEM "
            "PKCS#8 private key: if it is the public key, give the private key file",
            file=str(path),
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise InputError(
            f"the signing key file is accessible by group or others (mode {mode:04o}, "
            "must be 0600); chmod 600 it",
            file=str(path),
        )
    if len(data) > MAX_KEY_FILE_BYTES:
        raise InputError("the signing key file is too large for a key", file=str(path))
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # from None: the library's message or context must not carry the key material
        raise InputError(
            "the signing key file is not an unencrypted PEM PKCS#8 private key", file=str(path)
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(
            f"the signing key file holds a {type(key).__name__}, not an Ed25519 key",
            file=str(path),
        )
    return key


@dataclass(frozen=True, slots=True)
class CreatedKey:
    """What `create_key` did."""

    key_file: Path
    """The private key file written (0600)."""
    public_key: str
    """Its public key, 64 lowercase hex digits."""
    public_file: Path
    """The ``.pub`` file beside it (0644) holding `public_key` and a newline."""
    replaced: str | None
    """The public key of the key this one replaced (``force``), if it was readable."""


def create_key(
    path: Path,
    *,
    force: bool = False,
    inputs: Iterable[tuple[str, Path]] = (),
    flag: str = "--key",
) -> CreatedKey:
    """Create a new Ed25519 signing key at `path` and publish its public key beside it.

    Parameters
    ----------
    path
        The private key file to write (mode 0600; its directory is created 0700 if missing).
    force
        Replace an existing signing key at `path`. Without it an existing file is refused;
        with it, only a file holding an Ed25519 PKCS#8 private key is replaced.
    inputs
        ``(what, path)`` pairs that must never be written: the config and every file it
        names (`verifier.jobs.attest.attest_inputs`), compared after resolving symlinks.
    flag
        The option that named `path`, for the messages.

    Returns
    -------
    CreatedKey

    Raises
    ------
    UsageError
        `path` ends in ``.pub``; `path` or its ``.pub`` is one of `inputs`; `path` exists
        and is not an Ed25519 private key (with or without `force`); `path` holds a key and
        `force` is not given (the message names its public key); `path` is a directory; its
        ``.pub`` exists and is not a public key file.
    InputError
        The key or its public file cannot be written (the message names the file).
    """
    pub = public_file(path)
    refused = (
        f"refusing to write a private key there, with or without --force (choose another {flag})"
    )
    if path.name.endswith(".pub"):
        raise UsageError(
            f"{flag} {path} ends in .pub, the name of a published public key: {refused}"
        )
    for what, named in inputs:
        if _same_file(path, named):
            raise UsageError(f"{flag} {path} is the {what}: {refused}")
        if _same_file(pub, named):
            raise UsageError(f"{flag} {path}: its public key file {pub} is the {what}: {refused}")
    replaced: str | None = None
    if os.path.lexists(path):
        if os.path.isdir(path):
            raise UsageError(f"{path} is a directory, not a key file")
        replaced = _existing_key(path)
        if replaced is None:
            raise UsageError(
                f"{path} is not a key file (it does not hold an Ed25519 private key in PEM "
                f"PKCS#8): {refused}"
            )
        if not force:
            raise UsageError(
                f"{path} already holds a signing key (public key {replaced}); attestations "
                "signed with it verify only against that key. Give --force to replace it"
            )
    if os.path.lexists(pub) and not _is_public_key_file(pub):
        raise UsageError(
            f"{pub} exists and is not a public key file; the key's public half is written "
            f"there: {refused}"
        )
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _make_private_dir(path.parent)
    _write_new(path, pem, 0o600, replace=force)
    public = public_hex(key)
    _write_new(pub, f"{public}\n".encode("ascii"), 0o644, replace=True)
    log.info("created signing key %s (public key %s)", path, public)
    return CreatedKey(path, public, pub, replaced)


def create_signing_key(path: Path, *, force: bool = False) -> str:
    """Create a signing key at `path` (see `create_key`); return its public key (64 hex)."""
    return create_key(path, force=force).public_key


_PKCS8_PEM = b"-----BEGIN PRIVATE KEY-----"


def _same_file(a: Path, b: Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def _read_regular(path: Path) -> bytes | None:
    """At most `MAX_KEY_FILE_BYTES` + 1 bytes of the regular file `path` (symlinks
    followed), or None for anything else (a FIFO is never opened: it would block)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return None
            return handle.read(MAX_KEY_FILE_BYTES + 1)
    except OSError:
        return None


def _existing_key(path: Path) -> str | None:
    """The public key of the unencrypted PEM PKCS#8 Ed25519 private key in `path` (any
    mode: a key left 0644 may be replaced too), or None when `path` holds anything else."""
    data = _read_regular(path)
    if data is None or len(data) > MAX_KEY_FILE_BYTES or not data.lstrip().startswith(_PKCS8_PEM):
        return None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None
    return public_hex(key) if isinstance(key, Ed25519PrivateKey) else None


def _is_public_key(data: bytes) -> bool:
    """`data` is what a ``.pub`` holds: 64 hex digits (an optional ``0x``), whitespace."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return False
    return _HEX64.fullmatch(text.strip().lower().removeprefix("0x")) is not None


def _is_public_key_file(path: Path) -> bool:
    data = _read_regular(path)
    return data is not None and _is_public_key(data)


def _make_private_dir(directory: Path) -> None:
    """Create `directory` (and missing parents) 0700: nobody else lists a key directory."""
    missing = []
    current = directory
    while not os.path.lexists(current) and current != current.parent:
        missing.append(current)
        current = current.parent
    for item in reversed(missing):
        try:
            item.mkdir(mode=0o700)
            os.chmod(item, 0o700)  # exactly 0700, whatever the umask
        except FileExistsError:
            continue
        except OSError as exc:
            raise InputError(
                f"cannot create the key directory ({exc.strerror})", file=str(item)
            ) from None


# not verifier.base.atomic.write_atomic: a secret must never clobber a key (link, O_EXCL)
def _write_new(path: Path, data: bytes, mode: int, *, replace: bool) -> None:
    """Write `path` atomically: a temp file created with `mode` from its first instant
    (``O_EXCL``), fsynced, then renamed (``replace``) or linked (never clobbers) into place."""
    tmp = path.with_name(f".{path.name}.tmp-{secrets.token_hex(6)}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode & 0o600)
    except OSError as exc:
        raise InputError(f"cannot write the key file ({exc.strerror})", file=str(path)) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)  # exactly `mode`, whatever the umask
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if `path` appeared meanwhile: never clobber a key
            os.unlink(tmp)
        with contextlib.suppress(OSError):
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    except FileExistsError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise UsageError(f"{path} appeared while writing it; nothing replaced") from None
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise InputError(f"cannot write the key file ({exc.strerror})", file=str(path)) from None


def read_public_key(text: str, *, source: str) -> str:
    """A pinned public key: 64 hex digits (an optional ``0x`` and surrounding whitespace
    are dropped); returned lowercase.

    Raises
    ------
    InputError
        Anything else, naming `source` (the flag, config key or file) and the value.
    """
    value = text.strip().lower()
    value = value.removeprefix("0x")
    if not _HEX64.fullmatch(value):
        raise InputError(
            "a public key is 64 hex digits (the exchange's published key)",
            key=source,
            value=text.strip(),
        )
    return value


def read_public_key_file(path: Path) -> str:
    """The public key in a ``.pub`` file (as `por keys create` writes it)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_KEY_FILE_BYTES + 1)
    except FileNotFoundError:
        raise InputError("public key file not found", file=str(path)) from None
    except IsADirectoryError:
        raise InputError("the public key file is a directory", file=str(path)) from None
    except OSError as exc:
        raise InputError(
            f"cannot read the public key file ({exc.strerror})", file=str(path)
        ) from None
    if len(data) > MAX_KEY_FILE_BYTES:
        raise InputError("the public key file is too large for a public key", file=str(path))
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise InputError("the public key file is not 64 hex digits", file=str(path)) from None
    value = text.strip().lower().removeprefix("0x")
    if not _HEX64.fullmatch(value):
        # the content is not echoed: a private key given here by mistake must not be shown
        raise InputError(
            "the public key file does not hold 64 hex digits (give the .pub file that "
            "`por keys create` writes, not the private key)",
            file=str(path),
        )
    return value
