"""The site on disk: its manifest, reading its files safely, and writing it atomically.

Where it sits: under verifier/site/publish.py (which renders the pages and calls
`write_site`) and verifier/site/serve.py (which serves only what `read_manifest` lists, read
with `read_site_file`). A site is a directory of static files and ``site.json``, a
``por-site-v1`` manifest (docs/spec/por-site-v1.md) giving the SHA-256 of every file.

Invariants: every input is read through `read_input` (a regular file, bounded, never a FIFO
that blocks); a site file is never read through a symbolic link nor from outside the site;
a directory is replaced only when it is an earlier site, empty, or `force` says so, and never
when it holds an owner-only file (a signing key or tree secret); a site is written into a
temporary directory beside the target and renamed into place.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from verifier.base import safejson
from verifier.base.errors import InputError, NotFound, PorError, StoreError, UsageError
from verifier.base.outdir import guard_output

SITE_FORMAT = "por-site-v1"
MANIFEST = "site.json"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'none'; font-src 'none'; object-src 'none'; media-src 'none'; "
    "frame-src 'none'; worker-src 'none'; manifest-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
"""The policy `por serve` sends; the pages carry the same one in a meta tag (minus
``frame-ancestors``, which browsers ignore there)."""
META_CSP = CSP.replace("; frame-ancestors 'none'", "")

MAX_INPUT_BYTES = 64 * 1024 * 1024
"""Largest file a site is built from or serves."""
_MAX_REPLACED_ENTRIES = 20_000
"""Most entries `--out` may hold when it is checked for keys and secrets before replacing."""


# ----------------------------------------------------------------------------- reading inputs


def read_input(path: Path, *, what: str = "file") -> bytes:
    """The bytes of a regular file, at most `MAX_INPUT_BYTES` (a FIFO or device never blocks)."""
    name = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise NotFound(f"{what} not found", file=name) from None
    except OSError as exc:
        raise InputError(f"cannot read the {what} ({exc.strerror})", file=name) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"the {what} is not a regular file", file=name)
        if info.st_size > MAX_INPUT_BYTES:
            raise InputError(f"the {what} is too large (over {MAX_INPUT_BYTES} bytes)", file=name)
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read the {what} ({exc.strerror})", file=name) from None
    finally:
        os.close(fd)
    if len(data) > MAX_INPUT_BYTES:
        raise InputError(f"the {what} is too large (over {MAX_INPUT_BYTES} bytes)", file=name)
    return data


def read_json(data: bytes, path: Path, what: str) -> Any:
    """Untrusted JSON (bounded depth and integers, no floats, no duplicate keys)."""
    return safejson.loads(data, source=str(path), strict_keys=True, what=what)


# ----------------------------------------------------------------------------- reading a site


_SITE_NAME = re.compile(
    r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}(?:/[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}){0,7}"
)
"""A file name a manifest may list: relative, ``/``-separated, no ``.``/``..``, no hidden part."""
_DIGEST = re.compile(r"[0-9a-f]{64}")
MAX_SITE_FILES = 1000


def read_site_file(site_dir: Path, name: str) -> bytes:
    """A file of a site, never through a symbolic link nor from outside the site directory.

    Raises
    ------
    NotFound
        No such file.
    InputError
        `name` is not a plain relative name, a part of its path is a symbolic link or not
        a directory, the file is not a regular file, it resolves outside `site_dir`, or it
        is too large.
    """
    if not _SITE_NAME.fullmatch(name):
        raise InputError("not a plain relative file name", file=str(site_dir), value=name)
    base = Path(os.path.realpath(site_dir))
    path = base
    for part in name.split("/"):
        path = path / part
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            raise NotFound("site file not found", file=str(path)) from None
        except OSError as exc:
            raise InputError(
                f"cannot read the site file ({exc.strerror})", file=str(path)
            ) from None
        if stat.S_ISLNK(info.st_mode):
            raise InputError(
                "is a symbolic link; a site serves only its own regular files", file=str(path)
            )
    real = os.path.realpath(path)
    if real == str(base) or os.path.commonpath([real, str(base)]) != str(base):
        raise InputError("resolves outside the site directory", file=str(path))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise InputError(f"cannot read the site file ({exc.strerror})", file=str(path)) from None
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != (
            info.st_dev,
            info.st_ino,
        ):
            raise InputError("is not a regular file of the site", file=str(path))
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read the site file ({exc.strerror})", file=str(path)) from None
    finally:
        os.close(fd)
    if len(data) > MAX_INPUT_BYTES:
        raise InputError("the site file is too large", file=str(path))
    return data


def read_manifest(site_dir: Path) -> dict[str, Any]:
    """The manifest of a site built by `build_site` (``site.json``), checked.

    Raises
    ------
    NotFound
        No site there.
    InputError
        The manifest is not acceptable JSON, not a ``por-site-v1`` manifest, or lists a
        file by a name that is not a plain relative name, or without a SHA-256.
    """
    path = site_dir / MANIFEST
    if not site_dir.is_dir():
        raise NotFound("site directory not found", file=str(site_dir))
    data = read_json(read_site_file(site_dir, MANIFEST), path, "site manifest")
    if not isinstance(data, dict) or data.get("format") != SITE_FORMAT:
        raise InputError(f"not a {SITE_FORMAT} manifest", file=str(path))
    files = data.get("files")
    if not isinstance(files, dict) or not files:
        raise InputError("the manifest lists no files", file=str(path), key="files")
    if len(files) > MAX_SITE_FILES:
        raise InputError(
            f"the manifest lists {len(files)} files (at most {MAX_SITE_FILES})",
            file=str(path),
            key="files",
        )
    for name, digest in files.items():
        if not _SITE_NAME.fullmatch(name) or name == MANIFEST:
            raise InputError(
                "the manifest lists a file that is not a plain relative name inside the site",
                file=str(path),
                key="files",
                value=name,
            )
        if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
            raise InputError(
                "the manifest gives no SHA-256 (64 lowercase hex digits) for a file",
                file=str(path),
                key=f"files.{name}",
            )
    return data


# ----------------------------------------------------------------------------- writing a site


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of `data` as 64 lowercase hex digits (as the manifest lists it)."""
    return hashlib.sha256(data).hexdigest()


def _is_site(path: Path) -> bool:
    try:
        manifest = read_json(
            read_input(path / MANIFEST, what="site manifest"), path / MANIFEST, "manifest"
        )
    except PorError:
        return False
    return isinstance(manifest, dict) and manifest.get("format") == SITE_FORMAT


def _private_kind(path: Path, mode: int) -> str:
    """What an owner-only file most likely is, for the message (its content is never shown)."""
    if path.name == "secret.key":
        return "tree secret"
    head = b""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            head = os.read(fd, 64)
        finally:
            os.close(fd)
    if b"PRIVATE KEY" in head:
        return "signing key"
    return f"private file (mode {mode:04o})"


def _keys_and_secrets(out_dir: Path) -> list[tuple[str, Path | None]]:
    """Owner-only files under `out_dir` (signing keys and tree secrets are mode 0600): the
    things replacing `out_dir` must never delete, whatever --force says."""

    def cannot(exc: OSError) -> None:
        raise UsageError(
            f"--out {out_dir}: cannot check {exc.filename} for keys and secrets before "
            f"replacing the directory ({exc.strerror}); choose another --out"
        )

    seen = 0
    for root, dirs, names in os.walk(out_dir, onerror=cannot):
        for name in sorted(names) + sorted(dirs):
            seen += 1
            if seen > _MAX_REPLACED_ENTRIES:
                raise UsageError(
                    f"--out {out_dir} holds more than {_MAX_REPLACED_ENTRIES} files; it is not "
                    "a site, and replacing it would delete them (choose another --out)"
                )
            path = Path(root) / name
            try:
                info = os.lstat(path)
            except OSError as exc:
                cannot(exc)
                continue
            if stat.S_ISREG(info.st_mode) and not info.st_mode & 0o077:
                return [(_private_kind(path, stat.S_IMODE(info.st_mode)), path)]
    return []


def check_replaceable(out_dir: Path, force: bool) -> None:
    """Before anything is written: may `out_dir` be replaced, and does it hold nothing to keep?

    An earlier site or an empty directory is replaced; any other directory only with
    `force`; and never one that holds a key or secret (checked with or without `force`).
    """
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise InputError("the output path exists and is not a directory", file=str(out_dir))
    if not (force or _is_site(out_dir) or not any(out_dir.iterdir())):
        raise InputError(
            "the output directory exists and is not a site from `por publish` "
            "(use --force to replace it)",
            file=str(out_dir),
        )
    if not out_dir.is_symlink():  # a link is replaced, never what it points to
        guard_output(out_dir, _keys_and_secrets(out_dir), flag="--out")


def _install(tmp: Path, out_dir: Path) -> None:
    """Move the finished site into place; the directory it replaces goes (`check_replaceable`)."""
    if not out_dir.exists() and not out_dir.is_symlink():
        os.replace(tmp, out_dir)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
    os.replace(out_dir, old / "site")
    try:
        os.replace(tmp, out_dir)
    except OSError:
        os.replace(old / "site", out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)


def write_site(files: Mapping[str, bytes], out_dir: Path, *, force: bool) -> None:
    """Write `files` (relative name -> bytes) as the site `out_dir`, atomically.

    Raises
    ------
    UsageError, InputError
        `out_dir` may not be replaced (`check_replaceable`); nothing is touched.
    StoreError
        The site cannot be written (the previous one, if any, is left as it was).
    """
    check_replaceable(out_dir, force)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    except OSError as exc:
        raise StoreError(f"{out_dir}: cannot create the site ({exc.strerror})") from exc
    try:
        for name, data in files.items():
            path = tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            path.chmod(0o644)
            path.parent.chmod(0o755)
        _install(tmp, out_dir)
    except OSError as exc:
        raise StoreError(f"{out_dir}: cannot write the site ({exc.strerror})") from exc
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmp)


def manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    """``site.json`` as written: indented JSON and a newline."""
    return (json.dumps(manifest, indent=2) + "\n").encode()
