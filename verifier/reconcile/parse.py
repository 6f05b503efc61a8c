"""Reads reconciliation's three documents into values: liabilities, snapshot, evaluation.

Where it sits: the entrance of verifier/reconcile/. The liabilities come as the tree's root
document (attestations/proofs.py) or a bare ``{code: (decimals, owed)}`` mapping; the
holdings as a ``por-snapshot-v1`` document (verifier/holdings/snapshot.py); the reserve as
the rule pack's evaluation document (verifier/reserve/rules.py). Each becomes the values of
verifier/reconcile/values.py and result.py; verifier/reconcile/tally.py counts them.

Invariants: every field is checked before it is used and a malformed one is an
`InputError` naming its key (exit 3), never a KeyError or a traceback; base units are
canonical non-negative integers; amounts are decimal strings, never floats; an evaluation
whose headline figures disagree with each other is refused before a verdict rests on it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, localcontext
from typing import Any

from attestations.proofs import RootDocument, format_units
from verifier.base.errors import InputError
from verifier.reconcile.numbers import EXACT
from verifier.reconcile.result import Reserve
from verifier.reconcile.values import (
    ATTRIBUTIONS,
    CLASSES,
    SEGREGATIONS,
    STATUSES,
    ChainPin,
    Holding,
    Liabilities,
    VendorInfo,
)

SNAPSHOT_FORMAT = "por-snapshot-v1"
LIMIT_KINDS = {
    "max_vendor_share": "share",
    "vendors_must_be_notified": "bool",
    "mixed_wallets_forbidden": "bool",
}
"""The rule pack's concentration limits reconciliation applies (concentration.py)."""
_INT = re.compile(r"0|[1-9][0-9]*")
_DEC = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")
_MAX_DECIMALS = 36


def _need(obj: Mapping[str, Any], name: str, where: str) -> Any:
    if not isinstance(obj, Mapping):
        raise InputError("expected an object", key=where)
    if name not in obj:
        raise InputError("missing key", key=f"{where}.{name}" if where else name)
    return obj[name]


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise InputError("expected a string", key=where, value=repr(value))
    return value


def _units(value: Any, where: str) -> int:
    """Base units: a canonical non-negative integer string (or a JSON integer)."""
    if isinstance(value, str) and _INT.fullmatch(value):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise InputError("expected non-negative integer base units", key=where, value=repr(value))


def _decimal(value: Any, where: str) -> Decimal:
    """An amount of the evaluation document: a decimal string (never a float)."""
    if isinstance(value, str) and _DEC.fullmatch(value):
        return Decimal(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, Decimal) and value.is_finite():
        return value
    raise InputError("expected a decimal string", key=where, value=repr(value))


def parse_liabilities(source: RootDocument | Mapping[str, tuple[int, int]]) -> Liabilities:
    """The owed base units per asset, from the root document or ``{code: (decimals, owed)}``."""
    if isinstance(source, RootDocument):
        return Liabilities(
            assets=tuple(
                (spec.code, spec.decimals, owed)
                for spec, owed in zip(source.assets, source.root.sums, strict=True)
            ),
            attestation_id=source.attestation_id,
            as_of=source.as_of,
            commitment=source.commitment.hex(),
        )
    rows = []
    for code, pair in sorted(source.items()):
        where = f"liabilities.{code}"
        if not isinstance(code, str) or not code:
            raise InputError("an asset code must be a non-empty string", value=repr(code))
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise InputError("expected (decimals, owed base units)", key=where, value=repr(pair))
        decimals, owed = pair
        if isinstance(decimals, bool) or not isinstance(decimals, int):
            raise InputError("decimals must be an integer", key=where, value=repr(decimals))
        if not 0 <= decimals <= _MAX_DECIMALS:
            raise InputError(f"decimals must be 0..{_MAX_DECIMALS}", key=where, value=str(decimals))
        rows.append((code, decimals, _units(owed, where)))
    return Liabilities(assets=tuple(rows))


def _decimals_of_totals(chains: list[Any]) -> dict[str, int]:
    """Asset decimals as the snapshot's totals imply them (base units vs. whole amount)."""
    found: dict[str, int] = {}
    for i, chain in enumerate(chains):
        totals = chain.get("totals", {}) if isinstance(chain, Mapping) else {}
        if not isinstance(totals, Mapping):
            raise InputError("expected an object", key=f"snapshot.chains[{i}].totals")
        for code, kinds in totals.items():
            if not isinstance(kinds, Mapping):
                raise InputError("expected an object", key=f"snapshot.chains[{i}].totals.{code}")
            for kind, pair in kinds.items():
                where = f"snapshot.chains[{i}].totals.{code}.{kind}"
                units = _units(_need(pair, "base_units", where), f"{where}.base_units")
                amount = _str(_need(pair, "amount", where), f"{where}.amount")
                if units == 0:
                    continue
                fits = [d for d in range(_MAX_DECIMALS + 1) if format_units(units, d) == amount]
                if not fits:
                    raise InputError("base units and amount disagree", key=where, value=amount)
                if found.setdefault(code, fits[0]) != fits[0]:
                    raise InputError(
                        f"the snapshot gives {code} two different numbers of decimals", key=where
                    )
    return found


def parse_snapshot(
    doc: Mapping[str, Any],
) -> tuple[str, str, str, tuple[ChainPin, ...], list[Holding], dict[str, int]]:
    """(exchange, attestation id, taken at, pins, holdings, implied decimals) of a snapshot."""
    fmt = _need(doc, "snapshot", "snapshot")
    if fmt != SNAPSHOT_FORMAT:
        raise InputError(f"not a {SNAPSHOT_FORMAT} document", key="snapshot", value=repr(fmt))
    exchange = _str(doc.get("exchange", ""), "snapshot.exchange")
    attestation_id = _str(doc.get("attestation_id", ""), "snapshot.attestation_id")
    taken_at = _str(doc.get("taken_at", ""), "snapshot.taken_at")
    chains = _need(doc, "chains", "snapshot")
    if not isinstance(chains, list):
        raise InputError("expected a list", key="snapshot.chains")
    pins: list[ChainPin] = []
    holdings: list[Holding] = []
    for i, chain in enumerate(chains):
        where = f"snapshot.chains[{i}]"
        network = _str(_need(chain, "network", where), f"{where}.network")
        name = _str(chain.get("chain", network), f"{where}.chain")
        height = _need(chain, "height", where)
        if isinstance(height, bool) or not isinstance(height, int) or height < 0:
            raise InputError("expected a block height", key=f"{where}.height", value=repr(height))
        block_hash = _str(_need(chain, "block_hash", where), f"{where}.block_hash")
        if any(pin.chain == name for pin in pins):
            raise InputError(f"chain {name!r} appears twice", key=where)
        pins.append(ChainPin(name, network, height, block_hash))
        addresses = _need(chain, "addresses", where)
        if not isinstance(addresses, list):
            raise InputError("expected a list", key=f"{where}.addresses")
        for j, entry in enumerate(addresses):
            holdings.append(_holding(name, entry, f"{where}.addresses[{j}]"))
    return exchange, attestation_id, taken_at, tuple(pins), holdings, _decimals_of_totals(chains)


def _holding(chain: str, entry: Any, where: str) -> Holding:
    wallet_class = _str(_need(entry, "class", where), f"{where}.class")
    if wallet_class not in CLASSES:
        raise InputError("unknown wallet class", key=f"{where}.class", value=wallet_class)
    attribution = _str(_need(entry, "attribution", where), f"{where}.attribution")
    if attribution not in ATTRIBUTIONS:
        raise InputError("unknown attribution", key=f"{where}.attribution", value=attribution)
    ownership = _need(entry, "ownership", where)
    status = _str(_need(ownership, "status", f"{where}.ownership"), f"{where}.ownership.status")
    if status not in STATUSES:
        raise InputError("unknown ownership status", key=f"{where}.ownership", value=status)
    scheme = ownership.get("scheme")
    if scheme is not None:
        scheme = _str(scheme, f"{where}.ownership.scheme")
    raw = _need(entry, "balances", where)
    if not isinstance(raw, Mapping):
        raise InputError("expected an object", key=f"{where}.balances")
    balances = {
        _str(code, f"{where}.balances"): _units(units, f"{where}.balances.{code}")
        for code, units in raw.items()
    }
    return Holding(
        **_metadata(entry, attribution, where),
        chain=chain,
        label=_str(entry.get("label", ""), f"{where}.label"),
        wallet=_str(entry.get("wallet", ""), f"{where}.wallet"),
        wallet_class=wallet_class,
        attribution=attribution,
        address=_str(_need(entry, "address", where), f"{where}.address"),
        balances=balances,
        status=status,
        scheme=scheme,
        reason=_str(ownership.get("reason", ""), f"{where}.ownership.reason"),
        epoch=_epoch(ownership.get("epoch"), f"{where}.ownership.epoch"),
        age=_age(ownership.get("age"), f"{where}.ownership.age"),
    )


def _optional_str(entry: Mapping[str, Any], name: str, where: str) -> str | None:
    value = entry.get(name)
    return None if value is None else _str(value, f"{where}.{name}")


def _metadata(entry: Mapping[str, Any], attribution: str, where: str) -> dict[str, Any]:
    """A holding's wallet metadata (vendor, custodian, signing, segregation, declared own
    units); a snapshot written before them has none: no vendor, segregation as the
    attribution, nothing declared own."""
    segregation = entry.get("segregation")
    if segregation is None:
        segregation = attribution
    if segregation not in SEGREGATIONS:
        raise InputError(
            f"unknown segregation (one of {', '.join(SEGREGATIONS)})",
            key=f"{where}.segregation",
            value=repr(segregation),
        )
    if segregation not in ("mixed", attribution):
        raise InputError(
            f"segregation {segregation!r} contradicts attribution {attribution!r}",
            key=f"{where}.segregation",
            value=segregation,
        )
    raw_own = entry.get("own") or {}
    if not isinstance(raw_own, Mapping):
        raise InputError("expected an object", key=f"{where}.own")
    own = {
        _str(code, f"{where}.own"): _units(units, f"{where}.own.{code}")
        for code, units in raw_own.items()
    }
    if own and segregation != "mixed":
        raise InputError("own units are declared for a mixed wallet only", key=f"{where}.own")
    return {
        "vendor": _optional_str(entry, "vendor", where),
        "custodian": _optional_str(entry, "custodian", where),
        "signing": _optional_str(entry, "signing", where),
        "segregation": segregation,
        "own": own,
    }


METADATA_KEYS = ("vendor", "custodian", "signing", "segregation")


def metadata_from_report(report: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """(chain, address) -> the wallet metadata a signed report's ``wallets[]`` states, as
    snapshot address keys (`own` = that address's ``own_units``), so a recomputation from
    the attested balances (`por verify`) splits a mixed wallet as the report did. Entries
    that are not objects are skipped: the snapshot parser checks what it is given."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    wallets = report.get("wallets") if isinstance(report, Mapping) else None
    for w in wallets if isinstance(wallets, list) else []:
        if not isinstance(w, Mapping):
            continue
        entry = {k: w[k] for k in METADATA_KEYS if w.get(k) is not None}
        own = w.get("own_units")
        declared = isinstance(own, Mapping) and any(v not in ("0", 0) for v in own.values())
        if declared and isinstance(own, Mapping) and w.get("attribution") == "customer":
            entry["own"] = dict(own)
        out[(str(w.get("chain")), str(w.get("address")))] = entry
    return out


def parse_vendors(doc: Mapping[str, Any]) -> dict[str, VendorInfo]:
    """The snapshot's `vendors` ({id: {name, kind, notified, registered, jurisdiction}}),
    checked; a snapshot written before them has none."""
    raw = doc.get("vendors") if isinstance(doc, Mapping) else None
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InputError("expected an object", key="snapshot.vendors")
    out: dict[str, VendorInfo] = {}
    for vendor_id, entry in sorted(raw.items()):
        where = f"snapshot.vendors.{vendor_id}"
        registered = entry.get("registered", False) if isinstance(entry, Mapping) else False
        if not isinstance(registered, bool):
            raise InputError("expected true or false", key=f"{where}.registered")
        out[vendor_id] = VendorInfo(
            id=_str(vendor_id, "snapshot.vendors"),
            name=_str(_need(entry, "name", where), f"{where}.name"),
            kind=_str(_need(entry, "kind", where), f"{where}.kind"),
            notified=_optional_str(entry, "notified", where),
            registered=registered,
            jurisdiction=_optional_str(entry, "jurisdiction", where),
        )
    return out


def _epoch(raw: Any, where: str) -> dict[str, Any] | None:
    """A holding's ownership epoch, checked: {"id", "height", "hash", "expires"} or None."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise InputError("expected an object or null", key=where)
    height = _need(raw, "height", where)
    if isinstance(height, bool) or not isinstance(height, int) or height < 0:
        raise InputError("expected a block height", key=f"{where}.height", value=repr(height))
    expires = raw.get("expires")
    return {
        "id": _str(_need(raw, "id", where), f"{where}.id"),
        "height": height,
        "hash": _str(_need(raw, "hash", where), f"{where}.hash"),
        "expires": None if expires is None else _str(expires, f"{where}.expires"),
    }


def _age(raw: Any, where: str) -> dict[str, Any] | None:
    """A holding's proof age, checked: {"blocks": count, "seconds": int or null} or None."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise InputError("expected an object or null", key=where)
    blocks = _need(raw, "blocks", where)
    if isinstance(blocks, bool) or not isinstance(blocks, int) or blocks < 0:
        raise InputError("expected a count of blocks", key=f"{where}.blocks", value=repr(blocks))
    seconds = raw.get("seconds")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int)):
        raise InputError(
            "expected whole seconds or null", key=f"{where}.seconds", value=repr(seconds)
        )
    return {"blocks": blocks, "seconds": seconds}


def parse_max_age(snapshot: Mapping[str, Any]) -> dict[str, Any] | None:
    """The snapshot's `ownership_max_age`, checked (None when absent or null)."""
    raw = snapshot.get("ownership_max_age") if isinstance(snapshot, Mapping) else None
    if raw is None:
        return None
    where = "snapshot.ownership_max_age"
    if not isinstance(raw, Mapping):
        raise InputError("expected an object or null", key=where)
    days = _need(raw, "days", where)
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise InputError("expected a count of days", key=f"{where}.days", value=repr(days))
    blocks = raw.get("blocks", {})
    if not isinstance(blocks, Mapping) or any(
        isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in blocks.values()
    ):
        raise InputError("expected chain -> count of blocks", key=f"{where}.blocks")
    return {
        "days": days,
        "source": _str(raw.get("source", ""), f"{where}.source"),
        "blocks": {_str(k, f"{where}.blocks"): v for k, v in sorted(blocks.items())},
    }


def parse_evaluation(doc: Mapping[str, Any]) -> Reserve:
    """The figures of the rule pack's evaluation document, checked against each other."""
    where = "evaluation"
    pack = _need(doc, "pack", where)
    required = _decimal(_need(_need(doc, "required", where), "amount", "required"), "required")
    eligible_doc = _need(doc, "eligible", where)
    eligible = _decimal(_need(eligible_doc, "total", "eligible"), "eligible.total")
    components = _need(eligible_doc, "components", "eligible")
    if not isinstance(components, list):
        raise InputError("expected a list", key="eligible.components")
    shortfall = _decimal(_need(doc, "shortfall", where), "shortfall")
    surplus = _decimal(_need(doc, "surplus", where), "surplus")
    met = _need(doc, "met", where)
    if not isinstance(met, bool):
        raise InputError("expected true or false", key="evaluation.met", value=repr(met))
    checks = _need(doc, "checks", where)
    if not isinstance(checks, list):
        raise InputError("expected a list", key="evaluation.checks")
    with localcontext(EXACT):
        expected_shortfall = max(Decimal(0), required - eligible)
        expected_surplus = max(Decimal(0), eligible - required)
    # The evaluation is another module's output: check that its headline figures agree
    # with each other before a verdict rests on them.
    if shortfall != expected_shortfall:
        raise InputError(
            f"the evaluation's shortfall is not max(0, required {required} - eligible {eligible})",
            key="evaluation.shortfall",
            value=str(shortfall),
        )
    if surplus != expected_surplus:
        raise InputError(
            f"the evaluation's surplus is not max(0, eligible {eligible} - required {required})",
            key="evaluation.surplus",
            value=str(surplus),
        )
    if met and shortfall > 0:
        raise InputError("the evaluation says met with a shortfall", key="evaluation.met")
    failed = []
    for i, check in enumerate(checks):
        passed = _need(check, "passed", f"evaluation.checks[{i}]")
        if not isinstance(passed, bool):
            raise InputError("expected true or false", key=f"evaluation.checks[{i}].passed")
        if not passed:
            failed.append(check)
    return Reserve(
        pack_id=str(_need(pack, "id", "pack")),
        pack_version=str(_need(pack, "version", "pack")),
        # the amounts are in the evaluation's reporting currency; a document that does not
        # state it separately is in its pack's currency
        currency=_str(doc.get("currency", _need(pack, "currency", "pack")), "evaluation.currency"),
        required=required,
        eligible=eligible,
        shortfall=shortfall,
        surplus=surplus,
        met=met,
        failed_checks=tuple(failed),
        document=doc,
        limits=_limits(doc.get("parameters")),
    )


def _limits(parameters: Any) -> dict[str, tuple[object, str]]:
    """The concentration limits among the evaluation's parameters: name -> (value,
    status). A limit of the wrong type is refused (it would silently not apply)."""
    out: dict[str, tuple[object, str]] = {}
    for i, p in enumerate(parameters if isinstance(parameters, list) else []):
        name = p.get("name") if isinstance(p, Mapping) else None
        if name not in LIMIT_KINDS:
            continue
        where = f"evaluation.parameters[{i}].value"
        value = p.get("value")
        if LIMIT_KINDS[name] == "share":
            if not isinstance(value, str) or not _DEC.fullmatch(value) or value.startswith("-"):
                raise InputError(
                    "expected a share as a decimal string", key=where, value=repr(value)
                )
        elif not isinstance(value, bool):
            raise InputError("expected true or false", key=where, value=repr(value))
        out[name] = (value, str(p.get("status", "")))
    return out
