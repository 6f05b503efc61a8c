"""The shape of a `por-attestation-v1` document: member names, limits and value objects.

Where it sits: attestations/document/, beside canonical.py at the bottom of the package.
parse.py checks a document against these member lists and returns these value objects;
sign.py builds a document from them (each `to_json` writes its member). Member lists are
the specification's tables (docs/spec/por-attestation-v1.md; tests/unit/test_specs.py keeps
the two equal).

Invariant: amounts are written as decimal strings of integer base units, prices as plain
decimal strings; nothing here is ever a float.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from attestations.proofs import RootDocument
from chains.base import Attribution, BlockRef, ProofAge, ProofEpoch, WalletClass
from chains.challenge import challenge

FORMAT = "por-attestation-v1"
ALGORITHM = "ed25519"
"""The one signature algorithm (RFC 8032)."""
MAX_BALANCE = 2**256
"""Balances are below 2**256 (an EVM word)."""
BITCOIN_NETWORKS = ("main", "test", "testnet4", "signet", "regtest")
"""The networks chains/btc_proof_checks.py decodes addresses for."""

TOP_REQUIRED = (
    "format",
    "attestation_id",
    "as_of",
    "exchange",
    "liabilities",
    "chains",
    "reserve",
    "prices",
    "rule_pack",
)
TOP_OPTIONAL = ("settings", "report", "signature")
CHAIN_KEYS = ("chain", "network", "height", "block_hash", "challenge", "wallets")
WALLET_KEYS = ("address", "label", "class", "attribution", "balances", "ownership")
PRICE_KEYS = ("value", "currency", "source", "time")
RULE_PACK_KEYS = ("id", "version")
SIGNATURE_KEYS = ("algorithm", "public_key", "value")
SETTINGS_KEYS = ("ownership_max_age",)
MAX_AGE_KEYS = ("days", "source", "blocks")
EPOCH_KEYS = ("id", "height", "hash", "expires")
AGE_KEYS = ("blocks", "seconds")
OWNERSHIP_STATUSES = ("proven", "unproven", "custodial", "stale")
"""An address's ownership verdict; "stale" (an epoch proof past the maximum age or its
expiry) counts as unproven everywhere."""
MAX_AGE_DAYS = 3660
"""Most days a maximum age may state: ten years, as `[ownership] max_age_days` allows
(verifier.inputs.config_schema.MAX_AGE_DAYS; a test keeps the two equal). A document stating more
is refused: such a limit would accept any old signature."""
RESERVE_LISTS = ("cash", "insurance", "guarantees")


def _units_text(units: Any) -> Any:
    # leave anything but an integer as it is, so the checks name its path and type
    if isinstance(units, int) and not isinstance(units, bool):
        return str(units)
    return units


def _plain(value: Any) -> Any:
    """A deep copy as plain dicts and lists, key order kept (floats kept, to be reported)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


@dataclass(frozen=True, slots=True)
class WalletEntry:
    """One address of one chain as the attestation states it."""

    address: str
    """Bitcoin: an address of the chain's network. Ethereum: 0x + 40 hex digits."""
    label: str
    """The wallet's label in por.toml (may be empty)."""
    wallet_class: WalletClass
    """cold / hot / custodial / other."""
    attribution: Attribution
    """customer (backs liabilities) or own (the exchange's buffer)."""
    balances: Mapping[str, int]
    """Asset code -> integer base units at the chain's pinned block."""
    ownership: Mapping[str, Any] | None = None
    """The ownership proof as given: ``{"scheme", "message", "signature" | "signatures",
    "witness_script", "addresses"}`` (chains/btc_ownership.py, chains/eth_ownership.py);
    None when there is none (e.g. custodial). `verifier.jobs.attest.attestation_document` adds
    the verdict's ``epoch``, ``age`` and ``status``."""
    epoch: ProofEpoch | None = None
    """Parsed from ``ownership.epoch`` by `parse_attestation`: the ownership epoch whose
    challenge the proof signs; None for the point-in-time challenge. `to_json` does not
    write it (the ``ownership`` mapping carries it)."""
    age: ProofAge | None = None
    """Parsed from ``ownership.age``: the epoch proof's stated age at the pinned block."""
    status: str | None = None
    """Parsed from ``ownership.status``: the exchange's verdict (`OWNERSHIP_STATUSES`);
    None when the proof states none (a document written before it was recorded)."""

    def to_json(self) -> dict[str, Any]:
        """The wallet as a document member (balances as decimal strings)."""
        return {
            "address": self.address,
            "label": self.label,
            "class": str(self.wallet_class),
            "attribution": str(self.attribution),
            "balances": {code: _units_text(units) for code, units in self.balances.items()},
            "ownership": None if self.ownership is None else _plain(self.ownership),
        }


@dataclass(frozen=True, slots=True)
class ChainEntry:
    """One chain's wallets, all read at one pinned block."""

    block: BlockRef
    """Chain, network, height and hash of the pinned block."""
    wallets: tuple[WalletEntry, ...]
    """Every attested address of this chain (at least one)."""
    challenge: str | None = None
    """The ownership challenge for `block` (chains/challenge.py). None when building: the
    builder computes it. Always set in a parsed document."""

    def to_json(self, exchange: str, attestation_id: str) -> dict[str, Any]:
        """The chain as a document member; computes the challenge when it is None."""
        text = self.challenge
        if text is None:
            text = challenge(exchange, attestation_id, self.block)
        return {
            "chain": str(self.block.chain),
            "network": self.block.network,
            "height": self.block.height,
            "block_hash": self.block.hash,
            "challenge": text,
            "wallets": [wallet.to_json() for wallet in self.wallets],
        }


@dataclass(frozen=True, slots=True)
class PriceQuote:
    """One asset's price in the reporting currency (verifier/inputs/prices.py `Price`)."""

    value: Decimal
    """Price of one whole unit; written as a plain decimal string, never a float."""
    currency: str
    """Reporting currency, e.g. "JPY"; the same for every asset of a document."""
    source: str
    """Where the price comes from (a named reference rate or feed)."""
    time: str
    """When it applies, ISO 8601."""

    def to_json(self) -> dict[str, str]:
        """The quote as a document member."""
        return {
            "value": format(self.value, "f"),
            "currency": self.currency,
            "source": self.source,
            "time": self.time,
        }


@dataclass(frozen=True, slots=True)
class RulePackRef:
    """Which reserve rule pack the report applies (RULES.md)."""

    id: str
    """Pack identifier, e.g. "jp-fsa-proposal"."""
    version: str
    """Pack version, e.g. "2026.1"."""

    def to_json(self) -> dict[str, str]:
        """The reference as a document member."""
        return {"id": self.id, "version": self.version}


@dataclass(frozen=True, slots=True)
class OwnershipMaxAge:
    """The maximum age of an epoch ownership proof the exchange applied (``settings``), so
    a verifier recomputes staleness under the document's own limits."""

    days: int
    """A proof signed more than this many days before the pinned block is stale."""
    source: str
    """Where the day limit came from ("[ownership] max_age_days", a rule pack, "default")."""
    blocks: Mapping[str, int] = field(default_factory=dict)
    """Chain name -> most blocks from the epoch block to the pinned block (no entry: none)."""

    def to_json(self) -> dict[str, Any]:
        """``{"days", "source", "blocks"}`` (what `verifier.holdings.ownership.MaxAge.to_json`
        gives)."""
        return {
            "days": self.days,
            "source": self.source,
            "blocks": dict(sorted(self.blocks.items())),
        }


@dataclass(frozen=True, slots=True)
class SignatureBlock:
    """The exchange's signature over the canonical document."""

    algorithm: str
    """Always "ed25519" (RFC 8032)."""
    public_key: bytes
    """32-byte raw Ed25519 public key."""
    value: bytes
    """64-byte signature over `signing_payload(document)`."""

    def to_json(self) -> dict[str, str]:
        """The signature as a document member (lowercase hex)."""
        return {
            "algorithm": self.algorithm,
            "public_key": self.public_key.hex(),
            "value": self.value.hex(),
        }


@dataclass(frozen=True, slots=True)
class Attestation:
    """A parsed, fully checked attestation document."""

    attestation_id: str
    as_of: str
    """ISO 8601 time the attestation speaks for."""
    exchange: str
    liabilities: RootDocument
    """The liabilities root document (`root.json`, por-mst-v1)."""
    chains: tuple[ChainEntry, ...]
    reserve: Mapping[str, Any]
    """Off-chain reserve statement (cash, insurance policies, guarantees), as given."""
    prices: Mapping[str, PriceQuote]
    """Asset code -> price."""
    rule_pack: RulePackRef
    report: Mapping[str, Any] | None
    """Optional report summary, as given."""
    signature: SignatureBlock | None
    """None only for a document parsed with ``require_signature=False``."""
    max_age: OwnershipMaxAge | None = None
    """``settings.ownership_max_age``: present whenever a wallet's proof names an epoch."""

    @property
    def currency(self) -> str:
        """The reporting currency of the prices."""
        return next(iter(self.prices.values())).currency
