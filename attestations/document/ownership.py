"""The ownership members of an attestation: each wallet's proof and the maximum proof age.

Where it sits: attestations/document/, called by parse.py for every wallet's ``ownership``
and for ``settings``. The proof itself (its signatures) is carried as given and verified by
chains/btc_ownership.py and chains/eth_ownership.py; here the members a verifier decides
with are checked strictly: the signed ``message`` must be this chain's challenge (or the
named epoch's), an ``age`` and a ``stale`` status need an epoch, and the limits applied
(``settings.ownership_max_age``) must be stated whenever a proof names an epoch, so that
verifier/jobs/verify.py can recompute staleness under the document's own limits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from attestations.document.canonical import MAX_SAFE_INT, _bad, _child
from attestations.document.fields import (
    _HEX64,
    _choice,
    _hex,
    _integer,
    _list,
    _object,
    _signed_line,
    _text,
    _utc_time,
)
from attestations.document.model import (
    AGE_KEYS,
    EPOCH_KEYS,
    MAX_AGE_DAYS,
    MAX_AGE_KEYS,
    OWNERSHIP_STATUSES,
    SETTINGS_KEYS,
    ChainEntry,
    OwnershipMaxAge,
)
from chains.base import BlockRef, Chain, ProofAge, ProofEpoch
from chains.challenge import epoch_challenge

_HEX = re.compile(r"(?:[0-9a-f]{2})+")


def _epoch(value: Any, where: str) -> ProofEpoch | None:
    """``ownership.epoch``: null, or the epoch whose challenge the proof signs."""
    if value is None:
        return None
    obj = _object(value, where, EPOCH_KEYS)
    expires = obj["expires"]
    return ProofEpoch(
        id=_signed_line(obj["id"], _child(where, "id"), 256),
        height=_integer(obj["height"], _child(where, "height"), 0, MAX_SAFE_INT),
        hash=_hex(obj["hash"], _child(where, "hash"), _HEX64, "64 lowercase hex").hex(),
        expires=None if expires is None else _utc_time(expires, _child(where, "expires")),
    )


def _age(value: Any, where: str) -> ProofAge | None:
    """``ownership.age``: null, or blocks (and seconds, null when a block time is unknown)
    from the epoch block to the pinned block."""
    if value is None:
        return None
    obj = _object(value, where, AGE_KEYS)
    seconds = obj["seconds"]
    return ProofAge(
        blocks=_integer(obj["blocks"], _child(where, "blocks"), 0, MAX_SAFE_INT),
        # never negative: a signature made at or after the epoch block is not younger than
        # it (a Bitcoin block timed before its parent is measured as 0 by the writer); a
        # negative age would only pass a maximum age it does not meet
        seconds=None
        if seconds is None
        else _integer(seconds, _child(where, "seconds"), 0, MAX_SAFE_INT),
    )


@dataclass(frozen=True, slots=True)
class _Proof:
    """What `_ownership` checked: the proof as given and its parsed epoch, age and status."""

    proof: Mapping[str, Any] | None
    epoch: ProofEpoch | None = None
    age: ProofAge | None = None
    status: str | None = None


def _ownership(value: Any, where: str, expected: str, block: BlockRef, exchange: str) -> _Proof:
    if value is None:
        return _Proof(None)
    proof = _object(value, where)
    _text(proof.get("scheme"), _child(where, "scheme"), 64)
    epoch = _epoch(proof.get("epoch"), _child(where, "epoch"))
    age = _age(proof.get("age"), _child(where, "age"))
    status = None
    if "status" in proof:
        status = _choice(proof["status"], _child(where, "status"), OWNERSHIP_STATUSES)
    if epoch is None and age is not None:
        raise _bad(_child(where, "age"), "an age without an epoch (only epoch proofs have one)")
    if epoch is None and status == "stale":
        raise _bad(_child(where, "status"), "'stale' without an epoch (only epoch proofs age)")
    if epoch is not None and age is None and status in ("proven", "stale"):
        raise _bad(
            _child(where, "age"),
            f"missing: a {status} epoch proof states its age at the pinned block",
        )
    if epoch is not None:
        # the epoch's challenge on this chain: the epoch's block, not the pinned one
        epoch_block = BlockRef(block.chain, block.network, epoch.height, epoch.hash)
        expected = epoch_challenge(exchange, epoch.id, epoch_block, epoch.expires)
    if "message" in proof:
        message = _text(proof["message"], _child(where, "message"), 4096, line=False)
        if message != expected:
            what = f"epoch {epoch.id}'s challenge" if epoch is not None else "challenge"
            raise _bad(_child(where, "message"), f"is not this chain's {what}")
    if "signature" in proof:
        _text(proof["signature"], _child(where, "signature"), 16384)
    if "signatures" in proof:
        items = _list(proof["signatures"], _child(where, "signatures"))
        for n, item in enumerate(items):
            _text(item, _child(_child(where, "signatures"), n), 16384)
    if "witness_script" in proof:
        script_where = _child(where, "witness_script")
        _hex(proof["witness_script"], script_where, _HEX, "lowercase hex (whole bytes)")
    if "addresses" in proof:
        by_address = _object(proof["addresses"], _child(where, "addresses"))
        for address, signature in by_address.items():
            _text(signature, _child(_child(where, "addresses"), address), 16384)
    return _Proof(proof, epoch, age, status)


def _settings(value: Any) -> OwnershipMaxAge | None:
    """``settings``: the maximum proof age applied (null when no proof named an epoch)."""
    obj = _object(value, "settings", SETTINGS_KEYS)
    raw = obj["ownership_max_age"]
    if raw is None:
        return None
    where = "settings.ownership_max_age"
    limits = _object(raw, where, MAX_AGE_KEYS)
    blocks_where = _child(where, "blocks")
    blocks = {
        _choice(name, _child(blocks_where, str(name)), [c.value for c in Chain]): _integer(
            count, _child(blocks_where, str(name)), 1, MAX_SAFE_INT
        )
        for name, count in _object(limits["blocks"], blocks_where).items()
    }
    return OwnershipMaxAge(
        days=_integer(limits["days"], _child(where, "days"), 1, MAX_AGE_DAYS),
        source=_text(limits["source"], _child(where, "source"), 256),
        blocks=blocks,
    )


def _epochs_agree(chains: Sequence[ChainEntry], max_age: OwnershipMaxAge | None) -> None:
    """One epoch is one signing round: every proof naming it on a chain names the same block,
    and its expiry is the same on every chain. A proof naming an epoch needs the limits."""
    expiries: dict[str, tuple[str | None, str]] = {}
    for n, chain in enumerate(chains):
        blocks: dict[str, ProofEpoch] = {}
        for m, wallet in enumerate(chain.wallets):
            epoch = wallet.epoch
            if epoch is None:
                continue
            where = _child(_child(_child(_child("chains", n), "wallets"), m), "ownership")
            where = _child(where, "epoch")
            if max_age is None:
                raise _bad(
                    "settings.ownership_max_age",
                    f"missing: {where} names epoch {epoch.id!r}, so the document states the "
                    "maximum proof age it applied",
                )
            first = blocks.setdefault(epoch.id, epoch)
            if (first.height, first.hash) != (epoch.height, epoch.hash):
                raise _bad(
                    where,
                    f"epoch {epoch.id!r} names block {epoch.height} {epoch.hash} here and "
                    f"block {first.height} {first.hash} for another wallet of this chain",
                )
            seen = expiries.setdefault(epoch.id, (epoch.expires, where))
            if seen[0] != epoch.expires:
                raise _bad(
                    _child(where, "expires"),
                    f"{epoch.expires!r} differs from {seen[0]!r} for the same epoch at {seen[1]}",
                )
