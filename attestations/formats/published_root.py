"""`--root FILE` for other exchanges' formats: the hash an exchange published, read and compared.

Where it sits: beside the format modules of `attestations/formats/`; the registry
(`__init__.py`) calls `compare_root` after a format verified its proof, for every format that
does not read its own root file (``root_in_format``). Pure: bytes in, a verdict out.

What a ``--root`` file may hold (docs/formats.md, "The published root"):
  * plain text: the hash alone, optionally ``0x``-prefixed, surrounded by whitespace;
  * a JSON string: the hash;
  * a JSON object: the hash under the first of the format's `root_keys` present, either as a
    string or as an object whose ``hash`` is (our own root.json: ``{"root": {"hash": …}}``).
Hex hashes compare case-insensitively and without ``0x``; anything else compares exactly.
"""

from __future__ import annotations

import re
from typing import Any

from attestations.formats.common import shown, try_json
from verifier.base.errors import InputError, InvalidProof

ROOT_KEYS = (
    "root",
    "rootHash",
    "root_hash",
    "merkleRoot",
    "merkle_root",
    "TreeRootHash",
    "Root",
    "hash",
)
"""The keys a JSON root file is searched for, in order (a format may give its own)."""
MAX_HASH_CHARS = 512
"""Longest root text accepted: far above any hash, short enough to quote in a message."""
_HEX = re.compile(r"(0x)?[0-9a-fA-F]+")
_TOKEN = re.compile(r"[0-9A-Za-z+/=_:.-]+")


def normalised(value: str) -> str:
    """A hash as compared: hex lowercased without ``0x``; other text as it is."""
    if _HEX.fullmatch(value):
        return value.lower().removeprefix("0x")
    return value


def published_hash(data: bytes, keys: tuple[str, ...], source: str) -> str:
    """The root hash a ``--root`` file holds (see the module docstring for the shapes).

    Raises
    ------
    InputError
        Not UTF-8 text, empty, a JSON object with none of `keys`, or a value that is not one
        hash (exit 3), naming `source`.
    """
    doc = try_json(data)
    if isinstance(doc, dict):
        value = _from_object(doc, keys, source)
    elif isinstance(doc, str):
        value = doc
    elif doc is not None and not isinstance(doc, (int, float)):
        raise InputError(
            f"the root file is JSON {type(doc).__name__}; expected the root hash, or an "
            f"object holding it under one of: {', '.join(keys)}",
            file=source,
        )
    else:
        try:
            value = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("the root file is not UTF-8 text", file=source) from None
    text = value.strip()
    if not text:
        raise InputError("the root file holds no hash", file=source)
    if len(text) > MAX_HASH_CHARS or not _TOKEN.fullmatch(text):
        raise InputError(
            f"the root file holds {shown(text, 60)}, not one hash", file=source, key="root"
        )
    return normalised(text)


def _from_object(doc: dict[str, Any], keys: tuple[str, ...], source: str) -> str:
    for key in keys:
        if key not in doc:
            continue
        value = doc[key]
        if isinstance(value, dict) and isinstance(value.get("hash"), str):
            return str(value["hash"])
        if isinstance(value, str):
            return value
        raise InputError(f"{key}: {shown(value, 60)} is not a hash string", file=source, key=key)
    raise InputError(
        f"the root file has none of the keys {', '.join(keys)}; give the file the exchange "
        "published with its root hash, or the hash alone",
        file=source,
    )


def compare_root(computed: str, data: bytes, keys: tuple[str, ...], source: str) -> str:
    """Check the root a proof computed against the published one; returns the published hash.

    Raises
    ------
    InvalidProof
        ``"published root"``: the two differ (both named).
    InputError
        The root file cannot be read as a hash (`published_hash`).
    """
    given = published_hash(data, keys, source)
    if normalised(computed) != given:
        raise InvalidProof(
            "published root",
            f"the proof's root is {computed}, the published root ({source}) is {given}",
        )
    return given
