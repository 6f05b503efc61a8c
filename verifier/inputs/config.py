"""`por.toml`: the exchange, its nodes and its wallets, loaded and checked into frozen values.

Where it sits: the first step of `por snapshot` (and later `por reconcile`). Every error
names the file and the key (`bitcoin.wallets[2].address`) and raises `InputError` (exit 3).
Credentials are never in the file's argv-like values: a cookie file, a password file or
the name of an environment variable (see docs/snapshot.md for every section); a node URL
that carries an API key can come from a file (`url_file`) or a variable (`url_env`) too,
read only when a node is used (`NodeConfig.node_url`). URLs in messages are masked.

Every structural rule (types, ranges, one-line texts, unknown keys, which keys go together)
is in the one schema of verifier/inputs/config_schema.py, whose errors
verifier/inputs/config_errors.py phrases as ours; the values are the dataclasses of
verifier/inputs/config_values.py. This module maps the schema's model to those values and
adds what a schema cannot see: every address is listed once per chain, compared in its
canonical form (`address_key`), so no wallet is counted twice; epoch names resolve;
literal URLs are usable. `load_config` raises the first problem; `config_problems` returns
all of them (`por config check`).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from chains.base import Attribution, Chain, WalletClass
from chains.rpc import url_problem
from verifier.base import safetoml
from verifier.base.errors import InputError
from verifier.base.redact import mask_url
from verifier.inputs.config_errors import Problem, validate
from verifier.inputs.config_schema import (
    BTC_NETWORKS,
    Alerts,
    Bitcoin,
    BitcoinWallet,
    Ethereum,
    EthereumWallet,
    Ownership,
    PorToml,
    Stress,
    Vendor,
)
from verifier.inputs.config_values import (
    AlertsConfig,
    BitcoinConfig,
    DatabaseConfig,
    EpochBlock,
    EpochConfig,
    EthereumConfig,
    NodeConfig,
    OwnershipConfig,
    PorConfig,
    ReconcileConfig,
    StressConfig,
    TokenConfig,
    VendorConfig,
    WalletConfig,
    address_key,
    wallet_name,
    whole_to_units,
)

# ----------------------------------------------------------------------------- model -> values


def _path(file: Path, value: str | None) -> Path | None:
    """A path the file names, relative to the file."""
    if value is None:
        return None
    path = Path(value)
    return path if path.is_absolute() else (file.parent / path)


def _wallet(
    file: Path, chain: Chain, wallet: BitcoinWallet | EthereumWallet, where: str
) -> WalletConfig:
    ownership = (
        None if wallet.ownership is None else wallet.ownership.model_dump(exclude_unset=True)
    )
    common: dict[str, Any] = {
        "chain": chain,
        "key": where,
        "label": wallet.label,
        "wallet_class": WalletClass(wallet.class_),
        "attribution": Attribution(wallet.attribution),
        "ownership": ownership,
        "vendor": wallet.vendor,
        "custodian": wallet.custodian,
        "signing": wallet.signing,
        "segregation": wallet.segregation or "",
        "own": dict(wallet.own or {}),
    }
    if isinstance(wallet, EthereumWallet) or wallet.address is not None:
        return WalletConfig(address=wallet.address, **common)
    if wallet.xpub is not None:
        return WalletConfig(
            xpub=wallet.xpub,
            path=wallet.path,
            script=wallet.script or "p2wpkh",
            gap_limit=wallet.gap_limit,
            **common,
        )
    multisig = wallet.multisig
    assert multisig is not None  # the schema gives exactly one kind
    return WalletConfig(
        multisig_m=multisig.m,
        multisig_keys=tuple(multisig.keys),
        script=multisig.script,
        sorted_keys=multisig.sorted,
        **common,
    )


def _node_fields(path: Path, section: str, node: Bitcoin | Ethereum) -> dict[str, Any]:
    """The settings every node section shares: its URL (one of three ways) and its limits."""
    return {
        "section": section,
        "file": path,
        "url": node.url,
        "url_file": _path(path, node.url_file),
        "url_env": node.url_env,
        "timeout": node.timeout,
        "concurrency": node.concurrency,
        "max_reply_bytes": node.max_reply_bytes,
    }


def bitcoin_config(path: Path, b: Bitcoin) -> BitcoinConfig:
    return BitcoinConfig(
        **_node_fields(path, "bitcoin", b),
        backend=b.backend,
        network=b.network,
        asset=b.asset,
        cookie_file=_path(path, b.cookie_file),
        user=b.user,
        password_file=_path(path, b.password_file),
        password_env=b.password_env,
        wallets=tuple(
            _wallet(path, Chain.BITCOIN, w, f"bitcoin.wallets[{i}]")
            for i, w in enumerate(b.wallets)
        ),
    )


def ethereum_config(path: Path, e: Ethereum) -> EthereumConfig:
    return EthereumConfig(
        **_node_fields(path, "ethereum", e),
        chain_id=e.chain_id,
        asset=e.asset,
        trustless=e.trustless,
        tokens=tuple(TokenConfig(t.code, t.contract, t.decimals, t.balance_slot) for t in e.tokens),
        wallets=tuple(
            _wallet(path, Chain.ETHEREUM, w, f"ethereum.wallets[{i}]")
            for i, w in enumerate(e.wallets)
        ),
    )


def ownership_config(o: Ownership) -> OwnershipConfig:
    epochs = []
    for i, epoch in enumerate(o.epochs):
        blocks = {
            chain.value: EpochBlock(block.height, block.hash.lower().removeprefix("0x"))
            for chain in Chain
            if (block := getattr(epoch, chain.value)) is not None
        }
        epochs.append(EpochConfig(epoch.id, blocks, epoch.expires, f"ownership.epochs[{i}]"))
    max_age_blocks = dict(sorted(o.max_age_blocks.model_dump(exclude_none=True).items()))
    return OwnershipConfig(tuple(epochs), o.max_age_days, max_age_blocks)


def vendors_config(vendors: Mapping[str, Vendor]) -> dict[str, VendorConfig]:
    return {
        vendor_id: VendorConfig(
            id=vendor_id,
            name=v.name,
            kind=v.kind,
            notified=None if v.notified is None else v.notified.isoformat(),
            registered=v.registered,
            jurisdiction=v.jurisdiction,
        )
        for vendor_id, v in sorted(vendors.items())
    }


def alerts_config(a: Alerts) -> AlertsConfig:
    return AlertsConfig(
        webhook=a.webhook, drift=a.drift, timeout=a.timeout, retries=a.retries, format=a.format
    )


def stress_config(path: Path, s: Stress | None) -> StressConfig | None:
    if s is None:
        return None
    scenarios = _path(path, s.scenarios)
    assert scenarios is not None
    return StressConfig(scenarios=scenarios, sweep=s.sweep, alert=s.alert)


def to_config(path: Path, model: PorToml, raw: Mapping[str, Any]) -> PorConfig:
    """The frozen values the commands use, from a file the schema accepted."""
    liabilities, db = model.liabilities, model.database
    url = db.url
    if url is not None and "://" not in url and not Path(url).is_absolute():
        url = str(path.parent / url)
    return PorConfig(
        path=path,
        exchange=model.exchange.name,
        attestation_id=model.exchange.attestation_id or "",
        bitcoin=None if model.bitcoin is None else bitcoin_config(path, model.bitcoin),
        ethereum=None if model.ethereum is None else ethereum_config(path, model.ethereum),
        count_custodial=model.snapshot.count_custodial,
        reconcile=ReconcileConfig(
            root=_path(path, liabilities.root),
            liabilities_file=_path(path, liabilities.file),
            assets_file=_path(path, liabilities.assets),
            tree_dir=_path(path, liabilities.tree),
            prices=_path(path, model.prices.file),
            statement=_path(path, model.reserve.statement),
            pack=model.reserve.pack,
            min_coverage=model.thresholds.min_coverage,
            min_combined=model.thresholds.min_combined,
            key_file=_path(path, model.attest.key_file),
        ),
        raw=raw,
        database=DatabaseConfig(url=url, lock_timeout=db.lock_timeout),
        alerts=alerts_config(model.alerts),
        stress=stress_config(path, model.stress),
        ownership=ownership_config(model.ownership),
        vendors=vendors_config(model.vendors),
    )


# ----------------------------------------------------------------------------- beyond the schema


BITCOIN_DECIMALS = 8


def chain_decimals(node: BitcoinConfig | EthereumConfig) -> dict[str, int]:
    """Asset code -> decimals of every asset a chain section reads."""
    if isinstance(node, BitcoinConfig):
        return {node.asset: BITCOIN_DECIMALS}
    return {node.asset: 18, **{t.code: t.decimals for t in node.tokens}}


def own_units(wallet: WalletConfig, decimals: Mapping[str, int]) -> dict[str, int]:
    """A mixed wallet's declared own coins in base units (checked by `_metadata_problems`:
    an amount that is not exact raises here too, naming the key)."""
    out = {}
    for code, text in sorted(wallet.own.items()):
        units = whole_to_units(text, decimals.get(code, -1))
        if units is None:
            raise InputError(
                "not an exact amount of this asset", key=f"{wallet.key}.own.{code}", value=text
            )
        out[code] = units
    return out


def _metadata_problems(
    path: Path, node: BitcoinConfig | EthereumConfig, vendors: Mapping[str, VendorConfig] | None
) -> Iterator[InputError]:
    """A wallet's vendor names a declared [vendors.X] (when `vendors` is known); its own
    amounts name an asset of its chain and are exact for that asset's decimals."""
    decimals = chain_decimals(node)
    for wallet in node.wallets:
        if vendors is not None and wallet.vendor is not None and wallet.vendor not in vendors:
            close = difflib.get_close_matches(wallet.vendor, list(vendors), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            known = ", ".join(vendors) or "none declared"
            yield InputError(
                f"no [vendors.X] has this id (declared: {known}){hint}",
                file=str(path),
                key=f"{wallet.key}.vendor",
                value=wallet.vendor,
            )
        for code, text in sorted(wallet.own.items()):
            key = f"{wallet.key}.own.{code}"
            if code not in decimals:
                yield InputError(
                    f"not an asset of [{node.section}] ({', '.join(decimals)})",
                    file=str(path),
                    key=key,
                    value=code,
                )
            elif whole_to_units(text, decimals[code]) is None:
                yield InputError(
                    f"more digits than {code}'s {decimals[code]} decimals (never rounded)",
                    file=str(path),
                    key=key,
                    value=text,
                )
            elif Decimal(text) == 0:
                yield InputError("must be more than zero", file=str(path), key=key, value=text)


def _literal_url_problems(node: NodeConfig) -> Iterator[InputError]:
    """A URL written in the file is checked now (masked in the message: it may hold a key)."""
    if node.url is not None:
        try:
            node._checked(node.url, "url", shown=mask_url(node.url))
        except InputError as exc:
            yield exc


def _wallet_problems(path: Path, wallets: Sequence[WalletConfig]) -> Iterator[InputError]:
    """The same address, xpub or key set twice (counted twice, its balance would back the
    liabilities twice)."""
    seen: dict[tuple[str, ...], WalletConfig] = {}
    for wallet in wallets:
        identity: tuple[str, ...]
        if wallet.address is not None:
            identity, name = ("address", address_key(wallet.chain, wallet.address)), "address"
        elif wallet.xpub is not None:
            identity, name = ("xpub", wallet.xpub, wallet.script or ""), "xpub"
        else:
            keys = sorted(wallet.multisig_keys) if wallet.sorted_keys else wallet.multisig_keys
            identity = ("multisig", str(wallet.multisig_m), wallet.script or "", *keys)
            name = "multisig"
        first = seen.setdefault(identity, wallet)
        if first is not wallet:
            yield InputError(
                f"the same {name} is listed twice, as {wallet_name(first)} and as "
                f"{wallet_name(wallet)}; list each wallet once",
                file=str(path),
                key=f"{wallet.key}.{name}",
                value=wallet.address if wallet.address is not None else wallet.xpub,
            )


def _token_problems(path: Path, eth: EthereumConfig) -> Iterator[InputError]:
    """A token code or contract twice: one balance read under two names counts twice."""
    codes: dict[str, str] = {eth.asset: "ethereum.asset"}
    contracts: dict[str, str] = {}
    for i, token in enumerate(eth.tokens):
        where = f"ethereum.tokens[{i}]"
        for seen, value, name in (
            (codes, token.code, "code"),
            (contracts, token.contract.lower(), "contract"),
        ):
            if value in seen:
                yield InputError(
                    f"the same {name} as {seen[value]}",
                    file=str(path),
                    key=f"{where}.{name}",
                    value=value,
                )
            else:
                seen[value] = f"{where}.{name}"


def _webhook_problems(path: Path, alerts: AlertsConfig) -> Iterator[InputError]:
    webhook = alerts.webhook
    if webhook is not None and (reason := url_problem(webhook)) is not None:
        yield InputError(
            f"not a usable URL: it {reason}",
            file=str(path),
            key="alerts.webhook",
            value=mask_url(webhook),
        )


def _epoch_problems(path: Path, ownership: OwnershipConfig) -> Iterator[InputError]:
    ids: set[str] = set()
    for epoch in ownership.epochs:
        if epoch.id in ids:
            yield InputError(
                "the same epoch id is defined twice",
                file=str(path),
                key=f"{epoch.key}.id",
                value=epoch.id,
            )
        ids.add(epoch.id)


def _epoch_reference_problems(
    path: Path,
    ownership: OwnershipConfig,
    sections: Sequence[BitcoinConfig | EthereumConfig | None],
) -> Iterator[InputError]:
    """Every wallet proof that names an epoch names one defined for its chain."""
    for section in sections:
        for wallet in section.wallets if section is not None else ():
            proof = wallet.ownership
            if proof is None or proof.get("epoch") is None:
                continue
            name = str(proof["epoch"])
            key = f"{wallet.key}.ownership.epoch"
            epoch = ownership.epoch(name)
            if epoch is None:
                known = ", ".join(e.id for e in ownership.epochs) or "none defined"
                yield InputError(
                    f"no [[ownership.epochs]] has this id (defined: {known})",
                    file=str(path),
                    key=key,
                    value=name,
                )
            elif wallet.chain.value not in epoch.blocks:
                yield InputError(
                    f"epoch {name!r} names no {wallet.chain.value} block",
                    file=str(path),
                    key=key,
                    value=name,
                )


def semantic_problems(
    path: Path,
    *,
    bitcoin: BitcoinConfig | None = None,
    ethereum: EthereumConfig | None = None,
    alerts: AlertsConfig | None = None,
    ownership: OwnershipConfig | None = None,
    references: bool = True,
    vendors: Mapping[str, VendorConfig] | None = None,
) -> Iterator[InputError]:
    """What a schema cannot see, for the sections given (each one already valid): literal
    URLs, a wallet, token or epoch listed twice, own amounts, and (with `references`) epoch
    names and (with `vendors`) vendor ids."""
    if bitcoin is not None:
        yield from _literal_url_problems(bitcoin)
        yield from _wallet_problems(path, bitcoin.wallets)
        yield from _metadata_problems(path, bitcoin, vendors if references else None)
    if ethereum is not None:
        yield from _literal_url_problems(ethereum)
        yield from _token_problems(path, ethereum)
        yield from _wallet_problems(path, ethereum.wallets)
        yield from _metadata_problems(path, ethereum, vendors if references else None)
    if alerts is not None:
        yield from _webhook_problems(path, alerts)
    if ownership is not None:
        yield from _epoch_problems(path, ownership)
        if references:
            yield from _epoch_reference_problems(path, ownership, (bitcoin, ethereum))


@dataclass(frozen=True)
class Checked:
    """Every problem of a config, with the values of the sections the schema accepted."""

    problems: list[Problem]
    config: PorConfig | None
    """The whole config, when the schema accepted all of it."""
    bitcoin: BitcoinConfig | None = None
    ethereum: EthereumConfig | None = None
    wallets: tuple[WalletConfig, ...] = ()
    """Every wallet the schema accepted, also in a section it did not (for offline checks)."""
    network: str | None = None
    """The Bitcoin network, when it is one."""


def config_problems(path: Path, raw: Mapping[str, Any]) -> Checked:
    """Every problem of a parsed por.toml, not only the first (`por config check`).

    The schema's problems first; then the checks beyond it for every section the schema
    accepted, so a typo in one section does not hide a wallet listed twice in another.
    """
    model, problems = validate(path, raw)
    if model is not None:
        config = to_config(path, model, raw)
        problems += [
            (p, None)
            for p in semantic_problems(
                path,
                bitcoin=config.bitcoin,
                ethereum=config.ethereum,
                alerts=config.alerts,
                ownership=config.ownership,
                vendors=config.vendors,
            )
        ]
        every = tuple(w for n in (config.bitcoin, config.ethereum) if n for w in n.wallets)
        chain = config.bitcoin.network if config.bitcoin else None
        return Checked(problems, config, config.bitcoin, config.ethereum, every, chain)
    bad = {str(e["loc"][0]) for _, e in problems if e is not None and e["loc"]}
    ok = {name for name in ("bitcoin", "ethereum", "alerts", "ownership") if name in raw} - bad
    bitcoin = ethereum = alerts = ownership = None
    if "bitcoin" in ok:
        bitcoin = bitcoin_config(path, Bitcoin.model_validate(raw["bitcoin"]))
    if "ethereum" in ok:
        ethereum = ethereum_config(path, Ethereum.model_validate(raw["ethereum"]))
    if "alerts" in ok:
        alerts = alerts_config(Alerts.model_validate(raw["alerts"]))
    if "ownership" in ok:
        ownership = ownership_config(Ownership.model_validate(raw["ownership"]))
    vendors: dict[str, VendorConfig] | None = None
    if "vendors" not in bad:
        listed_vendors = raw.get("vendors", {})
        vendors = vendors_config(
            {k: Vendor.model_validate(v) for k, v in listed_vendors.items()}
            if isinstance(listed_vendors, Mapping)
            else {}
        )
    references = not ({"bitcoin", "ethereum", "ownership"} & bad)
    problems += [
        (p, None)
        for p in semantic_problems(
            path,
            bitcoin=bitcoin,
            ethereum=ethereum,
            alerts=alerts,
            ownership=ownership,
            references=references,
            vendors=vendors,
        )
    ]
    wallets: list[WalletConfig] = []
    kinds: tuple[tuple[str, Chain, type[BitcoinWallet | EthereumWallet]], ...] = (
        ("bitcoin", Chain.BITCOIN, BitcoinWallet),
        ("ethereum", Chain.ETHEREUM, EthereumWallet),
    )
    for name, chain, table in kinds:
        node: BitcoinConfig | EthereumConfig | None = bitcoin if name == "bitcoin" else ethereum
        if node is not None:
            wallets += list(node.wallets)
            continue
        # a section the schema refused: its wallets that are fine on their own
        section = raw.get(name)
        listed = section.get("wallets") if isinstance(section, Mapping) else None
        valid: list[WalletConfig] = []
        for i, item in enumerate(listed if isinstance(listed, list) else []):
            try:
                valid.append(
                    _wallet(path, chain, table.model_validate(item), f"{name}.wallets[{i}]")
                )
            except ValidationError:
                continue
        problems += [(p, None) for p in _wallet_problems(path, valid)]
        wallets += valid
    section = raw.get("bitcoin")
    network = section.get("network") if isinstance(section, Mapping) else None
    return Checked(
        problems,
        None,
        bitcoin,
        ethereum,
        tuple(wallets),
        network if network in BTC_NETWORKS else None,
    )


def load_config(path: Path, *, need_attestation_id: bool = True) -> PorConfig:
    """Read and check `por.toml`: the first problem is raised (`InputError`, exit 3).

    `[exchange] attestation_id` is optional in the schema (an auditor's config for
    `por verify` may leave it out) but required here unless the caller says it needs none:
    snapshot, reconcile and attest name it in challenges, commitments and documents.
    """
    raw = safetoml.load_path(path, what="config file")
    model, problems = validate(path, raw)
    if problems:
        raise problems[0][0]
    assert model is not None
    if need_attestation_id and model.exchange.attestation_id is None:
        raise InputError(
            "missing: this command needs the attestation id (e.g. acme-2026-q4); only an "
            "auditor's config for `por verify` may leave it out",
            file=str(path),
            key="exchange.attestation_id",
        )
    config = to_config(path, model, raw)
    for problem in semantic_problems(
        path,
        bitcoin=config.bitcoin,
        ethereum=config.ethereum,
        alerts=config.alerts,
        ownership=config.ownership,
        vendors=config.vendors,
    ):
        raise problem
    return config
