"""Ethereum JSON-RPC values: hex quantities, data and storage words, reply shapes, and
EIP-55 checksummed addresses.

Where it sits: the bottom of the Ethereum modules. The JSON-RPC transport
(chains/eth_rpc.py), the adapter (chains/ethereum.py), the proof checks
(chains/eth_proofs.py) and the benchmark baseline turn every raw JSON value into an int or
bytes here, at once, so that raw JSON never goes further and an amount is never a float. A
value of the wrong shape is `MalformedReply`, quoting a short peek at it. Pure: no I/O.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from eth_utils.crypto import keccak

from chains.rpc import peek
from verifier.base.console import plural
from verifier.base.errors import InputError, MalformedReply

__all__ = ["checksum_address", "hex_data", "hex_word", "json_list", "json_object", "quantity"]

_QUANTITY = re.compile(r"0x(0|[1-9a-fA-F][0-9a-fA-F]{0,63})")
_DATA = re.compile(r"0x([0-9a-fA-F]{2})*")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_WORD = re.compile(r"0x[0-9a-fA-F]{1,64}")


def quantity(value: Any, what: str) -> int:
    """A JSON-RPC hex quantity ("0x1a") as an int, at once."""
    if not isinstance(value, str) or not _QUANTITY.fullmatch(value):
        raise MalformedReply(f"{what}: {peek(value)} is not a hex quantity")
    return int(value, 16)


def hex_word(value: Any, what: str) -> int:
    """A storage key or value: clients send it as a quantity or zero-padded to 32 bytes."""
    if not isinstance(value, str) or not _WORD.fullmatch(value):
        raise MalformedReply(f"{what}: {peek(value)} is not a hex word")
    return int(value, 16)


def hex_data(value: Any, what: str, size: int | None = None) -> bytes:
    """JSON-RPC hex data ("0x..." with whole bytes), optionally of a fixed size."""
    if not isinstance(value, str) or not _DATA.fullmatch(value):
        raise MalformedReply(f"{what}: {peek(value)} is not hex data")
    raw = bytes.fromhex(value[2:])
    if size is not None and len(raw) != size:
        raise MalformedReply(f"{what}: {plural(len(raw), 'byte')}, expected {size}")
    return raw


def json_object(value: Any, what: str) -> Mapping[str, Any]:
    """A JSON object of a reply, as a mapping."""
    if not isinstance(value, Mapping):
        raise MalformedReply(f"{what}: {peek(value)} is not an object")
    return value


def json_list(value: Any, what: str) -> list[Any]:
    """A JSON list of a reply."""
    if not isinstance(value, list):
        raise MalformedReply(f"{what}: {peek(value)} is not a list")
    return value


def checksum_address(address: str, what: str = "address") -> str:
    """An address in its EIP-55 checksummed form.

    Parameters
    ----------
    address
        0x + 40 hex digits: all lowercase, all uppercase, or correctly checksummed.
    what
        What the address is, for the error message.

    Returns
    -------
    str
        The checksummed address.

    Raises
    ------
    InputError
        Not an address, or mixed case with a wrong checksum (a typo EIP-55 catches).
    """
    if not isinstance(address, str) or not _ADDRESS.fullmatch(address):
        raise InputError(f"{what} is not an Ethereum address", value=str(address))
    body = address[2:]
    checksummed = _eip55(body.lower())
    if body != body.lower() and body != body.upper() and checksummed != address:
        raise InputError(f"{what} has a wrong EIP-55 checksum", value=address)
    return checksummed


@functools.lru_cache(maxsize=1 << 16)
def _eip55(lower: str) -> str:
    """EIP-55 of 40 lowercase hex digits: one keccak, no library decorators (a snapshot of
    thousands of addresses spent most of its time in eth_utils' checksum helpers)."""
    digest = keccak(text=lower).hex()
    return "0x" + "".join(
        c.upper() if c > "9" and digest[i] >= "8" else c for i, c in enumerate(lower)
    )
