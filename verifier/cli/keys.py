"""`por keys`: create the exchange's attestation signing key and show its public key.

Where it sits: the CLI edge of verifier/inputs/keys.py, registered on the root `por` group in
verifier/cli/main.py. `por attest` never creates a key by itself; `por keys create` does, on
purpose, and prints the public key the exchange publishes (and writes it to a ``.pub``
file beside the key) so auditors can pin it with ``por verify --public-key-file``. Nothing
here prints, logs or returns private key material.

The key file is ``[attest] key_file`` of the config (only that key is read, so a config
still being written can already name its key), or the file given with ``--key`` (both
commands; ``--out`` is the same option of `keys create`). `keys create` writes only a new
key file or over an existing signing key: never over the config or a file it names.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from verifier.base import safetoml
from verifier.base.console import out, print_json
from verifier.base.errors import EXIT_OK, InputError, PorError, UsageError
from verifier.inputs.keys import create_key, load_signing_key, public_file, public_hex

JSON_OPTION = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document on stdout."
)
CONFIG_OPTION = click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    default=None,
    help="por.toml whose [attest] key_file is the key (default: $POR_CONFIG, ./por.toml).",
)


def key_file_of(config_file: Path) -> Path:
    """``[attest] key_file`` of `config_file`, relative to the config's directory.

    Only that key is read: `por keys create` runs before the rest of the config is filled in.
    """
    raw = safetoml.load_path(config_file, what="config file")
    attest = raw.get("attest")
    if attest is None or (isinstance(attest, dict) and "key_file" not in attest):
        raise InputError(
            'missing: where the signing key is kept (e.g. key_file = "keys/attest.key")',
            file=str(config_file),
            key="attest.key_file",
        )
    if not isinstance(attest, dict):
        raise InputError("must be a table", file=str(config_file), key="attest")
    value = attest["key_file"]
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise InputError(
            "must be a file path",
            file=str(config_file),
            key="attest.key_file",
            value=str(value),
        )
    path = Path(value)
    return path if path.is_absolute() else config_file.parent / path


def _default_config() -> Path:
    env = os.environ.get("POR_CONFIG", "")
    return Path(env) if env else Path("por.toml")


def _target(config_file: Path | None, key_file: Path | None, flag: str) -> Path:
    """The key file: FLAG's file, or the config's ``[attest] key_file``."""
    if key_file is not None and config_file is not None:
        raise UsageError(f"give either --config or {flag}, not both")
    if key_file is not None:
        return key_file
    if config_file is None:
        config_file = _default_config()
        if not config_file.is_file():
            raise UsageError(
                f"no key file given: use --config por.toml (none at {config_file}) or {flag} FILE"
            )
    return key_file_of(config_file)


# keys of por.toml whose string value is a file por reads (when the config does not load
# yet, as while `por init`'s placeholders are being filled in)
_PATH_KEYS = frozenset({"file", "root", "statement", "assets", "pack", "tree_dir", "dir"})


def config_inputs(config_file: Path) -> list[tuple[str, Path]]:
    """The config file and every file it names, which `keys create` must never write:
    `verifier.jobs.attest.attest_inputs` of the loaded config, plus the history database; when
    the config does not load yet, every ``*_file``, ``file``, ``root``, ``statement``...
    value of its TOML and the database it would use. The config's own ``[attest]
    key_file`` (the key's place) is left out. Never raises: a config that cannot be read
    at all protects only itself."""
    found: list[tuple[str, Path]] = [("config file", config_file)]
    base = config_file.parent
    database: str | None = None
    try:
        from verifier.inputs.config import load_config
        from verifier.jobs.attest import attest_inputs

        config = load_config(config_file, need_attestation_id=False)
        found += attest_inputs(config)
        database = config.database.url
    except PorError:
        try:
            raw = safetoml.load_path(config_file, what="config file")
        except PorError:
            raw = {}
        found += _raw_paths(raw, base, "")
        section = raw.get("database")
        url = section.get("url") if isinstance(section, dict) else None
        database = url if isinstance(url, str) else None
    db = _sqlite_file(database, config_file)
    if db is not None:
        found += [("history database", db.with_name(db.name + s)) for s in ("", "-wal", "-shm")]
    # the key's own place is named by attest.key_file; any other key naming it still counts
    return [(what, path) for what, path in found if "attest.key_file" not in what]


def _raw_paths(value: Any, base: Path, where: str, depth: int = 0) -> list[tuple[str, Path]]:
    if depth > 8:
        return []
    out: list[tuple[str, Path]] = []
    items: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        items = [(f"{where}.{k}".lstrip("."), v) for k, v in value.items()]
    elif isinstance(value, list):
        items = [(f"{where}[{n}]", v) for n, v in enumerate(value)]
    for name, item in items:
        last = name.rsplit(".", 1)[-1]
        if isinstance(item, str) and (last in _PATH_KEYS or last.endswith("_file")):
            if item.strip() and "\x00" not in item and "://" not in item:
                path = Path(item)
                out.append((f"file named by {name}", path if path.is_absolute() else base / path))
        else:
            out += _raw_paths(item, base, name, depth + 1)
    return out


def _sqlite_file(url: str | None, config_file: Path) -> Path | None:
    """The SQLite file the config's runs are stored in (None for a server database)."""
    from verifier.history.db_url import database_url

    try:
        resolved = database_url(None, {}, url, config_file)
    except PorError:
        return None
    prefix = "sqlite:///"
    return Path(resolved[len(prefix) :]) if resolved.startswith(prefix) else None


@click.group("keys")
def keys() -> None:
    """The exchange's Ed25519 attestation signing key (create it; show its public key)."""


@keys.command("create")
@CONFIG_OPTION
@click.option(
    "--key",
    "--out",
    "key_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the key to this file instead of the config's [attest] key_file "
    "(--out is the same option).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace an existing signing key (its public key is named); never any other file.",
)
@JSON_OPTION
def keys_create(config_file: Path | None, key_file: Path | None, force: bool, as_json: bool) -> int:
    """Create a new signing key (PEM PKCS#8, mode 0600) and print its PUBLIC key.

    The public key (64 hex digits) is also written to FILE.pub beside the key (mode 0644):
    publish it, so that auditors can pin it with `por verify --public-key-file`. An existing
    key is never replaced without --force (exit 2, naming its public key). Refused with or
    without --force (exit 2): a file that is not an Ed25519 private key, a path ending in
    .pub, and the config or any file it names (inputs and secrets)."""
    target = _target(config_file, key_file, "--key")
    if config_file is None and key_file is not None:
        known = _default_config()  # --key in a config's directory: guard its inputs too
        config_file = known if known.is_file() else None
    inputs = config_inputs(config_file) if config_file is not None else []
    created = create_key(target, force=force, inputs=inputs, flag="--key")
    doc: dict[str, Any] = {
        "format": "por-key-v1",
        "key_file": str(created.key_file),
        "public_key": created.public_key,
        "public_key_file": str(created.public_file),
        "replaced_public_key": created.replaced,
    }
    if as_json:
        print_json(doc)
        return EXIT_OK
    out.print(f"signing key written to {created.key_file} (mode 0600; keep it secret)")
    if created.replaced is not None:
        out.print(f"replaced the key whose public key was {created.replaced}")
    out.print(f"public key written to {created.public_file}: publish it")
    out.print(f"public key: {created.public_key}")
    return EXIT_OK


@keys.command("show")
@CONFIG_OPTION
@click.option(
    "--key",
    "key_file",
    type=click.Path(path_type=Path),
    default=None,
    help="The key file (instead of the config's [attest] key_file).",
)
@JSON_OPTION
def keys_show(config_file: Path | None, key_file: Path | None, as_json: bool) -> int:
    """Print the public key of an existing signing key (refused unless the file is 0600)."""
    target = _target(config_file, key_file, "--key")
    public = public_hex(load_signing_key(target))
    pub = public_file(target)
    doc = {
        "format": "por-key-v1",
        "key_file": str(target),
        "public_key": public,
        "public_key_file": str(pub) if pub.is_file() else None,
    }
    if as_json:
        print_json(doc)
        return EXIT_OK
    out.print(f"public key: {public}")
    out.print(f"key file: {target}")
    return EXIT_OK
