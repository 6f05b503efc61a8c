"""`parse_attestation`: check every member of a `por-attestation-v1` document, into values.

Where it sits: attestations/document/, the reader's side. sign.py runs it on every document
it builds or signs and before it verifies a signature, so a document that fails it is never
produced and the error names the first wrong field rather than "bad signature". It does
not check the signature itself (sign.py `verify_attestation` does), only its shape.

Checks run top to bottom in document order: the format, canonical encodability (no floats,
safe integers), the closed set of top-level members, the signature's shape, the signed
one-line fields, the liabilities root document (its own commitment and this attestation's
id), each chain (network, pinned block, challenge text) and its wallets (address, class,
balances, ownership: ownership.py), the reserve lists, the prices (one currency), the rule
pack and the settings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from attestations.document.canonical import MAX_SAFE_INT, _bad, _child, _shown, canonical_json
from attestations.document.fields import (
    _HEX64,
    _amount,
    _asset_code,
    _choice,
    _hex,
    _integer,
    _kind,
    _list,
    _object,
    _signed_line,
    _text,
    _time,
)
from attestations.document.model import (
    ALGORITHM,
    BITCOIN_NETWORKS,
    CHAIN_KEYS,
    FORMAT,
    PRICE_KEYS,
    RESERVE_LISTS,
    RULE_PACK_KEYS,
    SIGNATURE_KEYS,
    TOP_OPTIONAL,
    TOP_REQUIRED,
    WALLET_KEYS,
    Attestation,
    ChainEntry,
    PriceQuote,
    RulePackRef,
    SignatureBlock,
    WalletEntry,
)
from attestations.document.ownership import _epochs_agree, _ownership, _settings
from attestations.encoding import commitment
from attestations.proofs import RootDocument, parse_root_document
from chains.base import Attribution, BlockRef, Chain, WalletClass
from chains.btc_proof_checks import decode_address
from chains.challenge import challenge
from verifier.base.errors import InvalidProof, PorError

_DECIMAL = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]+)?")
_CURRENCY = re.compile(r"[A-Z]{3}|[A-Z0-9]{2,10}")
_HEX128 = re.compile(r"[0-9a-f]{128}")
_ETH_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_ETH_CHAIN_ID = re.compile(r"[1-9][0-9]{0,19}")


def parse_attestation(doc: Any, *, require_signature: bool = True) -> Attestation:
    """Check every field of an attestation document and return it as values.

    Does not check the signature itself (`verify_attestation` does), only its shape.

    Parameters
    ----------
    doc
        The document as parsed from JSON (`load_attestation`) or built (`build_attestation`).
    require_signature
        When True (the default), a document without a ``"signature"`` member fails.

    Returns
    -------
    Attestation

    Raises
    ------
    InvalidProof
        ``"format"`` (not an object, or not por-attestation-v1), ``"signature"`` (unsigned)
        or ``"field <path>"`` naming the first field that is missing, unknown or wrong.
    """
    if not isinstance(doc, Mapping):
        raise InvalidProof("format", f"the document is {_kind(doc)}, not a JSON object")
    if doc.get("format") != FORMAT:
        raise InvalidProof("format", f"format is {_shown(doc.get('format'))}, expected {FORMAT!r}")
    canonical_json(doc)  # every value representable: no floats, safe integers, string keys
    _object(doc, "", TOP_REQUIRED, TOP_OPTIONAL)
    signature = None
    if "signature" in doc:
        signature = _signature(doc["signature"])
    elif require_signature:
        raise InvalidProof("signature", "the document is not signed (no 'signature' member)")
    attestation_id = _signed_line(doc["attestation_id"], "attestation_id", 256)
    as_of = _time(doc["as_of"], "as_of")
    exchange = _signed_line(doc["exchange"], "exchange", 256)
    liabilities = _liabilities(doc["liabilities"], attestation_id)
    chains = tuple(
        _chain(raw, _child("chains", n), exchange, attestation_id)
        for n, raw in enumerate(_list(doc["chains"], "chains"))
    )
    pinned: set[tuple[Chain, str]] = set()
    for n, entry in enumerate(chains):
        pair = (entry.block.chain, entry.block.network)
        if pair in pinned:
            raise _bad(_child("chains", n), f"a second entry for {pair[0]} {pair[1]}")
        pinned.add(pair)
    reserve = _reserve(doc["reserve"])
    prices = _prices(doc["prices"])
    pack = _object(doc["rule_pack"], "rule_pack", RULE_PACK_KEYS)
    rule_pack = RulePackRef(
        id=_text(pack["id"], "rule_pack.id", 128),
        version=_text(pack["version"], "rule_pack.version", 64),
    )
    max_age = _settings(doc["settings"]) if "settings" in doc else None
    _epochs_agree(chains, max_age)
    report = _object(doc["report"], "report") if "report" in doc else None
    return Attestation(
        attestation_id=attestation_id,
        as_of=as_of,
        exchange=exchange,
        liabilities=liabilities,
        chains=chains,
        reserve=reserve,
        prices=prices,
        rule_pack=rule_pack,
        report=report,
        signature=signature,
        max_age=max_age,
    )


def _liabilities(value: Any, attestation_id: str) -> RootDocument:
    _object(value, "liabilities")
    try:
        root = parse_root_document(value)
        recomputed = commitment(
            root.attestation_id, root.assets, root.height, root.root.hash, root.root.sums
        )
    except PorError as exc:
        # the root parser names the field inside root.json in its message
        check = getattr(exc, "check", "")
        raise _bad("liabilities", exc.message.removeprefix(f"{check}: ")) from None
    if root.attestation_id != attestation_id:
        raise _bad(
            "liabilities.attestation_id",
            f"{root.attestation_id!r} is not this attestation's id {attestation_id!r}",
        )
    if recomputed != root.commitment:
        raise _bad(
            "liabilities.commitment",
            f"{root.commitment.hex()} is not the commitment of the root document's fields "
            f"({recomputed.hex()})",
        )
    return root


def _address(value: Any, where: str, block: BlockRef) -> str:
    address = _text(value, where, 128)
    if block.chain is Chain.ETHEREUM:
        if not _ETH_ADDRESS.fullmatch(address):
            raise _bad(where, f"{address!r} is not an Ethereum address (0x + 40 hex digits)")
        return address
    try:
        decode_address(address, block.network)
    except PorError as exc:
        check = getattr(exc, "check", "")
        raise _bad(where, exc.message.removeprefix(f"{check}: ")) from None
    return address


def _wallet(value: Any, where: str, block: BlockRef, expected: str, exchange: str) -> WalletEntry:
    obj = _object(value, where, WALLET_KEYS)
    address = _address(obj["address"], _child(where, "address"), block)
    label = _text(obj["label"], _child(where, "label"), 1024, empty=True, line=False)
    wallet_class = _choice(obj["class"], _child(where, "class"), [c.value for c in WalletClass])
    attribution = _choice(
        obj["attribution"], _child(where, "attribution"), [a.value for a in Attribution]
    )
    raw_balances = _object(obj["balances"], _child(where, "balances"))
    if not raw_balances:
        raise _bad(_child(where, "balances"), "no balances")
    balances = {
        _asset_code(code, _child(_child(where, "balances"), code)): _amount(
            units, _child(_child(where, "balances"), code)
        )
        for code, units in raw_balances.items()
    }
    checked = _ownership(obj["ownership"], _child(where, "ownership"), expected, block, exchange)
    return WalletEntry(
        address=address,
        label=label,
        wallet_class=WalletClass(wallet_class),
        attribution=Attribution(attribution),
        balances=balances,
        ownership=checked.proof,
        epoch=checked.epoch,
        age=checked.age,
        status=checked.status,
    )


def _chain(value: Any, where: str, exchange: str, attestation_id: str) -> ChainEntry:
    obj = _object(value, where, CHAIN_KEYS)
    name = Chain(_choice(obj["chain"], _child(where, "chain"), [c.value for c in Chain]))
    network = _text(obj["network"], _child(where, "network"), 32)
    if name is Chain.BITCOIN:
        _choice(network, _child(where, "network"), BITCOIN_NETWORKS)
    elif not _ETH_CHAIN_ID.fullmatch(network):
        raise _bad(_child(where, "network"), f"{network!r} is not a decimal Ethereum chain id")
    height = _integer(obj["height"], _child(where, "height"), 0, MAX_SAFE_INT)
    block_hash = _hex(obj["block_hash"], _child(where, "block_hash"), _HEX64, "64 lowercase hex")
    block = BlockRef(chain=name, network=network, height=height, hash=block_hash.hex())
    text = _text(obj["challenge"], _child(where, "challenge"), 4096, line=False)
    expected = challenge(exchange, attestation_id, block)
    if text != expected:
        raise _bad(
            _child(where, "challenge"),
            "is not the challenge for this exchange, attestation and block "
            f"(chains/challenge.py gives {expected!r})",
        )
    wallets_where = _child(where, "wallets")
    wallets = tuple(
        _wallet(raw, _child(wallets_where, n), block, expected, exchange)
        for n, raw in enumerate(_list(obj["wallets"], wallets_where))
    )
    seen: set[str] = set()
    for n, wallet in enumerate(wallets):
        # Ethereum addresses differ only in checksum case; count each account once
        key = wallet.address.lower() if name is Chain.ETHEREUM else wallet.address
        if key in seen:
            raise _bad(_child(_child(wallets_where, n), "address"), "listed twice on this chain")
        seen.add(key)
    return ChainEntry(block=block, wallets=wallets, challenge=text)


def _prices(value: Any) -> dict[str, PriceQuote]:
    obj = _object(value, "prices")
    if not obj:
        raise _bad("prices", "no prices")
    quotes: dict[str, PriceQuote] = {}
    for code, raw in obj.items():
        where = _child("prices", code)
        _asset_code(code, where)
        quote = _object(raw, where, PRICE_KEYS)
        text = quote["value"]
        if not isinstance(text, str) or not _DECIMAL.fullmatch(text) or len(text) > 80:
            raise _bad(
                _child(where, "value"),
                f"{_shown(text)} is not a plain decimal string (at most 80 characters)",
            )
        currency = quote["currency"]
        if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
            raise _bad(_child(where, "currency"), f"{_shown(currency)} is not a currency code")
        if quotes and currency != (first := next(iter(quotes.items())))[1].currency:
            raise _bad(
                _child(where, "currency"),
                f"{currency!r} differs from {first[1].currency!r} ({_child('prices', first[0])})",
            )
        quotes[code] = PriceQuote(
            value=Decimal(text),
            currency=currency,
            source=_text(quote["source"], _child(where, "source"), 256),
            time=_time(quote["time"], _child(where, "time")),
        )
    return quotes


def _reserve(value: Any) -> Mapping[str, Any]:
    obj = _object(value, "reserve")
    for key in RESERVE_LISTS:
        if key in obj:
            where = _child("reserve", key)
            items = obj[key]
            if not isinstance(items, list | tuple):
                raise _bad(where, f"expected a list, got {_kind(items)}")
            for n, item in enumerate(items):
                _object(item, _child(where, n))
    return obj


def _signature(value: Any) -> SignatureBlock:
    obj = _object(value, "signature", SIGNATURE_KEYS)
    algorithm = _choice(obj["algorithm"], "signature.algorithm", [ALGORITHM])
    public_key = _hex(obj["public_key"], "signature.public_key", _HEX64, "64 lowercase hex")
    signature = _hex(obj["value"], "signature.value", _HEX128, "128 lowercase hex")
    return SignatureBlock(algorithm=algorithm, public_key=public_key, value=signature)
