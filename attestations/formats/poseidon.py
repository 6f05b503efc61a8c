"""Poseidon over BN254's scalar field: circomlib's hash and the bnb-chain/gnark-crypto variant.

Where it sits: a pure helper of `attestations/formats/`, used by the zk account-tree formats
(Gate's and HTX's, after Binance's zkmerkle-proof-of-solvency) to recompute a user's leaf,
asset commitment and Merkle path. Constants: `poseidon_constants.json` beside this module,
written by `attestations/formats/poseidon_grain.py` (the Poseidon reference's Grain LFSR
procedure; the same numbers as circomlib and gnark-crypto).

The permutation (circomlib's, x^5, R_F = 8 full rounds, R_P partial rounds by width
t = 2 … 17): each round adds its t round constants, applies x^5 to every element (the first
and last four rounds) or to element 0 only (the partial rounds), then multiplies the state
by the MDS matrix, ``new[i] = Σ_j M[i][j]·state[j]``.

Two hashes on it:
* `poseidon_circom` (circomlib, circomlibjs): 1 … 16 inputs, state ``[0, *inputs]`` of
  width n + 1, the output is ``state[0]``.
* `poseidon_gnark` (bnb-chain/gnark-crypto ``ecc/bn254/fr/poseidon.Poseidon``, the fork
  Binance's, Gate's and HTX's zk trees link): inputs are absorbed in blocks of 12 through a
  width-13 permutation, ``state[0]`` carried forward and ``state[1:]`` overwritten by each
  block; a shorter last block runs the permutation of width (its length + 1) over
  ``state[0]`` and that block; when the length is a multiple of 12 no extra permutation
  runs. The result is ``state[1]``. Older revisions of that fork returned ``state[0]`` (and
  then hashed 2 … 12 inputs exactly as circomlib does): ``output=0`` selects them, so a
  caller can try both in a fixed order and say which one verified.

Invariants: every value is an int in ``[0, FIELD)``; an input outside it raises
`ValueError` (a programming error: file data goes through `element` first, which raises
`InvalidProof` naming the field).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from verifier.base.errors import InvalidProof

FIELD = 21888242871839275222246405745257275088548364400416034343698204186575808495617
"""The BN254 scalar field modulus r (gnark's ``fr.Modulus()``, circom's prime)."""
FULL_ROUNDS = 8
MAX_CIRCOM_INPUTS = 16
"""circomlib's constants cover widths 2 … 17."""
GNARK_BLOCK = 12
"""gnark-crypto's ``maxLength``: inputs per width-13 permutation."""
ELEMENT_BYTES = 32
DATA = Path(__file__).with_name("poseidon_constants.json")


@cache
def _document() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(DATA.read_text(encoding="utf-8"))
    if int(doc["field"]) != FIELD or doc["full_rounds"] != FULL_ROUNDS:
        raise RuntimeError(f"{DATA.name} is for another field or round count")
    return doc


def _ints(hex_digits: str) -> tuple[int, ...]:
    return tuple(int(hex_digits[i : i + 64], 16) for i in range(0, len(hex_digits), 64))


@cache
def parameters(t: int) -> tuple[int, tuple[int, ...], tuple[tuple[int, ...], ...]]:
    """(R_P, round constants, MDS rows) for width `t`, parsed once and kept."""
    entry = _document()["t"].get(str(t))
    if entry is None:
        raise ValueError(f"no Poseidon constants for width {t} (2 … {MAX_CIRCOM_INPUTS + 1})")
    partial = int(entry["partial_rounds"])
    constants = _ints(entry["C"])
    mds = tuple(_ints(row) for row in entry["M"])
    if len(constants) != (FULL_ROUNDS + partial) * t or any(len(row) != t for row in mds):
        raise RuntimeError(f"{DATA.name}: width {t} has the wrong number of constants")
    return partial, constants, mds


def permutation(state: Sequence[int]) -> list[int]:
    """circomlib's Poseidon permutation of `state` (its width picks the constants)."""
    t = len(state)
    partial, constants, mds = parameters(t)
    p = FIELD
    half = FULL_ROUNDS // 2
    s = list(state)
    for r in range(FULL_ROUNDS + partial):
        base = r * t
        if r < half or r >= half + partial:
            s = [pow((x + constants[base + i]) % p, 5, p) for i, x in enumerate(s)]
        else:
            # the other elements are reduced by the mix below: one modulo per row
            s = [x + constants[base + i] for i, x in enumerate(s)]
            s[0] = pow(s[0] % p, 5, p)
        s = [sum(m * x for m, x in zip(row, s, strict=True)) % p for row in mds]
    return s


def _checked(inputs: Sequence[int]) -> list[int]:
    values = list(inputs)
    for i, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < FIELD:
            raise ValueError(f"Poseidon input {i} is not a BN254 field element")
    return values


def poseidon_circom(inputs: Sequence[int]) -> int:
    """circomlib's ``Poseidon(n)`` of 1 … 16 field elements: ``state[0]`` of the permutation."""
    values = _checked(inputs)
    if not 1 <= len(values) <= MAX_CIRCOM_INPUTS:
        raise ValueError(f"circomlib's Poseidon takes 1 … {MAX_CIRCOM_INPUTS} inputs")
    return permutation([0, *values])[0]


def poseidon_gnark(inputs: Sequence[int], *, output: int = 1) -> int:
    """bnb-chain/gnark-crypto's ``poseidon.Poseidon(inputs...)`` over BN254.

    Parameters
    ----------
    inputs
        One or more field elements (any number: longer inputs are absorbed 12 at a time).
    output
        The state element returned: 1 for the fork's current code (the default, what Gate's
        and HTX's published trees use), 0 for its earlier revisions.

    Returns
    -------
    int
        The hash, a field element.
    """
    values = _checked(inputs)
    if not values:
        raise ValueError("gnark's Poseidon takes at least one input")
    if output not in (0, 1):
        raise ValueError("output is 0 or 1")
    if output == 0 and len(values) < 2:
        raise ValueError("gnark's earlier revisions refuse fewer than two inputs")
    state = [0]
    start = 0
    if len(values) > GNARK_BLOCK:  # gnark's hash chain: every whole block, state[0] carried
        while len(values) - start >= GNARK_BLOCK:
            state = permutation([state[0], *values[start : start + GNARK_BLOCK]])
            start += GNARK_BLOCK
    if start < len(values):  # the rest (or all of a short input) at width len + 1
        state = permutation([state[0], *values[start:]])
    return state[output]


def element(data: bytes | int, where: str = "value") -> int:
    """A field element as gnark-crypto reads one: big-endian bytes, refused when not below r.

    gnark's ``PoseidonBytes`` panics and its ``hash.Hash.Write`` returns an error (and keeps
    nothing) for bytes at or above the modulus; they are never reduced. So a sibling or id
    hash that is not a canonical element cannot be part of a published tree: refused here
    with `InvalidProof` naming `where`. An int is taken as the value itself.
    """
    if isinstance(data, bool):
        raise InvalidProof("fields", f"{where}: not a field element")
    if isinstance(data, int):
        value = data
    elif isinstance(data, (bytes, bytearray)):
        body = bytes(data).lstrip(b"\x00")
        if len(body) > ELEMENT_BYTES:
            raise InvalidProof("fields", f"{where}: {len(data)} bytes, longer than a field element")
        value = int.from_bytes(body, "big")
    else:
        raise InvalidProof("fields", f"{where}: not bytes or an integer")
    if not 0 <= value < FIELD:
        raise InvalidProof("fields", f"{where}: not below the BN254 field modulus")
    return value


def to_bytes(value: int) -> bytes:
    """A field element as gnark writes one (``fr.Element.Bytes()``): 32 bytes big-endian."""
    if not 0 <= value < FIELD:
        raise ValueError("not a BN254 field element")
    return value.to_bytes(ELEMENT_BYTES, "big")
