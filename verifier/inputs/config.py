"""`por.toml`: the exchange, its nodes and its wallets, read into frozen values.

Where it sits: the first step of `por snapshot` (and later `por reconcile`). Every error
names the file and the key (`bitcoin.wallets[2].address`) and raises `InputError` (exit 3).
Credentials are never in the file's argv-like values: a cookie file, a password file or
the name of an environment variable (see docs/snapshot.md for every section); a node URL
that carries an API key can come from a file (`url_file`) or a variable (`url_env`) too,
read only when a node is used (`NodeConfig.node_url`). URLs in messages are masked.

Every structural rule (types, ranges, one-line texts, unknown keys, which keys go together)
is in the one schema of verifier/inputs/config_schema.py; this module maps its errors to our
messages and adds what a schema cannot see: every address is listed once per chain,
compared in its canonical form (`address_key`), so no wallet is counted twice; epoch names
resolve; literal URLs are usable. `load_config` raises the first problem; `config_problems`
returns all of them (`por config check`).
"""

from __future__ import annotations

import difflib
import os
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from chains.base import DEFAULT_MAX_REPLY_BYTES, Attribution, Chain, WalletClass
from chains.rpc import has_credentials, read_secret_file, url_problem
from verifier.base import safetoml
from verifier.base.errors import InputError
from verifier.base.logs import register_secret
from verifier.base.redact import mask_text, mask_url
from verifier.inputs.config_schema import (
    ALERT_FORMATS,
    BTC_BACKENDS,
    BTC_NETWORKS,
    MAX_AGE_DAYS,
    MAX_CONCURRENCY,
    MAX_REPLY_BYTES,
    MAX_TIMEOUT,
    MIN_REPLY_BYTES,
    MULTISIG_SCRIPTS,
    SCRIPT_TYPES,
    Alerts,
    Bitcoin,
    BitcoinWallet,
    Ethereum,
    EthereumWallet,
    Ownership,
    PorToml,
    printable,
)

__all__ = [
    "ALERT_FORMATS",
    "BTC_BACKENDS",
    "BTC_NETWORKS",
    "MAX_AGE_DAYS",
    "MAX_CONCURRENCY",
    "MAX_REPLY_BYTES",
    "MAX_TIMEOUT",
    "MIN_REPLY_BYTES",
    "MULTISIG_SCRIPTS",
    "SCRIPT_TYPES",
    "AlertsConfig",
    "BitcoinConfig",
    "DatabaseConfig",
    "EpochBlock",
    "EpochConfig",
    "EthereumConfig",
    "NodeConfig",
    "OwnershipConfig",
    "PorConfig",
    "ReconcileConfig",
    "TokenConfig",
    "WalletConfig",
    "address_key",
    "config_problems",
    "load_config",
    "wallet_name",
]


def address_key(chain: Chain | str, address: str) -> str:
    """An address in the form two spellings of one address share.

    Ethereum addresses are case-insensitive (EIP-55 is a checksum in the case), and so are
    bech32 ones (BIP-173 allows all upper case); base58 addresses are case-sensitive.
    """
    name = Chain(chain).value
    lowered = address.lower()
    if name == Chain.ETHEREUM.value or lowered.startswith(("bc1", "tb1", "bcrt1")):
        return f"{name}:{lowered}"
    return f"{name}:{address}"


def wallet_name(wallet: WalletConfig) -> str:
    """How messages name a wallet: its key in the file and its label."""
    return f"{wallet.key} ({wallet.label!r})" if wallet.label else wallet.key


@dataclass(frozen=True)
class WalletConfig:
    """One wallet entry: an address, an extended public key, or a multisig key set."""

    chain: Chain
    key: str
    """Where it is in the file, e.g. "bitcoin.wallets[2]" (for error messages)."""
    label: str
    wallet_class: WalletClass
    attribution: Attribution
    address: str | None = None
    xpub: str | None = None
    path: str | None = None
    script: str | None = None
    gap_limit: int = 20
    multisig_m: int | None = None
    multisig_keys: tuple[str, ...] = ()
    sorted_keys: bool = True
    ownership: Mapping[str, Any] | None = None
    """The ownership proof as given: {"scheme", "signature" | "signatures", ...}."""

    @property
    def kind(self) -> str:
        if self.address is not None:
            return "address"
        if self.xpub is not None:
            return "xpub"
        return "multisig"


@dataclass(frozen=True, kw_only=True)
class NodeConfig:
    """What every node section has: where the node is, and how hard to press it."""

    section: str
    """The section's name in the file ("bitcoin", "ethereum"), for messages."""
    file: Path
    """The config file, for messages."""
    url: str | None = field(default=None, repr=False)
    """The URL as written in the file (checked), or None with `url_file` / `url_env`."""
    url_file: Path | None = None
    url_env: str | None = None
    timeout: int = 30
    concurrency: int = 8
    max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES

    def _fail(self, name: str, message: str, value: str | None = None) -> InputError:
        return InputError(message, file=str(self.file), key=f"{self.section}.{name}", value=value)

    def _has_auth(self) -> bool:
        """True if an Authorization header is configured besides the URL."""
        return False

    def node_url(self) -> str:
        """The node's URL: as written, or read now from `url_file` or `url_env`.

        Raises `InputError` (exit 3) naming the key; a URL read from a file or the
        environment is never echoed (it is there because it holds a secret).
        """
        if self.url is not None:
            return self.url
        if self.url_file is not None:
            try:
                url = read_secret_file(self.url_file, "URL file")
            except InputError as exc:
                raise self._fail("url_file", exc.message) from None
            return self._checked(url, "url_file", shown=None)
        assert self.url_env is not None  # load_config gives exactly one of the three
        url = os.environ.get(self.url_env, "").strip()
        if not url:
            raise self._fail("url_env", "the environment variable is not set", self.url_env)
        register_secret(url)  # its API key may sit anywhere in it: never in a log record
        return self._checked(url, "url_env", shown=None)

    def _checked(self, url: str, name: str, shown: str | None) -> str:
        problem = url_problem(url)
        if problem is not None:
            raise self._fail(name, f"not a usable node URL: it {problem}", shown)
        if has_credentials(url) and self._has_auth():
            raise self._fail(
                name,
                "the URL carries credentials and a cookie or password is configured too; "
                "give them one way",
                shown,
            )
        return url


@dataclass(frozen=True, kw_only=True)
class BitcoinConfig(NodeConfig):
    backend: str
    network: str
    asset: str = "BTC"
    cookie_file: Path | None = None
    user: str | None = None
    password_file: Path | None = None
    password_env: str | None = None
    wallets: tuple[WalletConfig, ...] = ()

    def _has_auth(self) -> bool:
        return any(
            source is not None
            for source in (self.cookie_file, self.password_file, self.password_env)
        )


@dataclass(frozen=True)
class TokenConfig:
    code: str
    contract: str
    decimals: int
    balance_slot: int = 0


@dataclass(frozen=True, kw_only=True)
class EthereumConfig(NodeConfig):
    chain_id: int
    asset: str = "ETH"
    trustless: bool = False
    tokens: tuple[TokenConfig, ...] = ()
    wallets: tuple[WalletConfig, ...] = ()


@dataclass(frozen=True)
class ReconcileConfig:
    """What `por reconcile` and `por attest` add to the snapshot: the other inputs."""

    root: Path | None = None
    """The liabilities root document (root.json of `por liabilities build`)."""
    liabilities_file: Path | None = None
    assets_file: Path | None = None
    tree_dir: Path | None = None
    """Or a liabilities file to build from: built into tree_dir (default next to the config)."""
    prices: Path | None = None
    statement: Path | None = None
    pack: str | None = None
    min_coverage: str = "1"
    min_combined: str = "1"
    key_file: Path | None = None
    """The exchange's Ed25519 attestation key (mode 0600; created by `por attest` if absent)."""


@dataclass(frozen=True)
class DatabaseConfig:
    """[database]: where `por reconcile` keeps its history (docs/history.md)."""

    url: str | None = None
    """A SQLAlchemy URL or a SQLite file path; default ``por.db`` beside the config."""
    lock_timeout: int = 30
    """Seconds a run waits for another run's writer lock before exiting 4."""


@dataclass(frozen=True)
class AlertsConfig:
    """[alerts]: the webhook and the drift threshold of scheduled runs."""

    webhook: str | None = None
    drift: str | None = None
    """A coverage-ratio fall between runs that raises an alert, e.g. "0.05"."""
    timeout: int = 10
    retries: int = 3
    format: str = "generic"
    """The webhook payload's shape: "generic" (por-alert-v1), "alertmanager" or "slack"."""


@dataclass(frozen=True)
class EpochBlock:
    """The block an ownership epoch's signatures name on one chain: they were made at or
    after it."""

    height: int
    hash: str
    """Lowercase hex without 0x, as chains.base.BlockRef holds it."""


@dataclass(frozen=True)
class EpochConfig:
    """[[ownership.epochs]]: one signing round, whose signatures later runs reuse."""

    id: str
    blocks: Mapping[str, EpochBlock]
    """Chain name ("bitcoin", "ethereum") -> its epoch block."""
    expires: str | None = None
    """ISO 8601 UTC ("2027-03-31T00:00:00Z"), signed with the epoch; None: no expiry."""
    key: str = ""
    """Where it is in the file, e.g. "ownership.epochs[0]" (for messages)."""


@dataclass(frozen=True)
class OwnershipConfig:
    """[ownership]: the epochs wallets' proofs may name, and how old a proof may be.

    A wallet whose `ownership` names no `epoch` signs today's point-in-time challenge of
    the pinned block (chains/challenge.py). The maximum age falls back to the rule pack's,
    then to DEFAULT_MAX_AGE_DAYS (verifier/holdings/ownership.py resolves it).
    """

    epochs: tuple[EpochConfig, ...] = ()
    max_age_days: int | None = None
    max_age_blocks: Mapping[str, int] = field(default_factory=dict)
    """Chain name -> the most blocks between the epoch block and the pinned block."""

    def epoch(self, epoch_id: str) -> EpochConfig | None:
        return next((e for e in self.epochs if e.id == epoch_id), None)


@dataclass(frozen=True)
class PorConfig:
    """Everything `por snapshot`, `por reconcile` and `por attest` need."""

    path: Path
    exchange: str
    attestation_id: str
    """Empty only in a config loaded with `need_attestation_id=False` that gives none."""
    bitcoin: BitcoinConfig | None = None
    ethereum: EthereumConfig | None = None
    count_custodial: bool = False
    reconcile: ReconcileConfig = field(default_factory=ReconcileConfig)
    raw: Mapping[str, Any] = field(default_factory=dict)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    ownership: OwnershipConfig = field(default_factory=OwnershipConfig)


# ----------------------------------------------------------------------------- schema errors

Problem = tuple[InputError, ErrorDetails | None]
"""A problem of a config: the error, and pydantic's details when the schema found it."""

_URL_KEYS = frozenset({"url", "webhook"})


def error_key(loc: Sequence[str | int]) -> str:
    """pydantic's location as messages name a key: ("bitcoin", "wallets", 2, "address")
    -> "bitcoin.wallets[2].address"."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def schema_error(path: Path, error: ErrorDetails) -> InputError:
    """One pydantic error in the project's phrasing, naming the file and the key.

    Values are quoted masked (a URL may hold an API key); a missing or unknown key quotes
    nothing.
    """
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    loc = [*error["loc"], *([ctx["field"]] if "field" in ctx else [])]
    kind = error["type"]
    shown: str | None = None
    if kind == "por":
        message, shown = error["msg"], ctx.get("shown")
    elif kind == "missing":
        message = "missing"
    elif kind == "extra_forbidden":
        known, close = unknown_key_help(error["loc"])
        message = f"unknown key (known: {', '.join(known)})" if known else "unknown key"
        if close is not None:
            message += f"; did you mean {close!r}?"
    else:
        message = _TYPE_MESSAGES.get(kind, "has the wrong type")
        shown = printable(error.get("input"))
    if shown is not None:
        # a URL key's value is masked as a URL; anything else for URLs quoted inside it
        shown = mask_text(mask_url(shown) if loc and loc[-1] in _URL_KEYS else shown)
    return InputError(message, file=str(path), key=error_key(loc) or None, value=shown)


def _unwrap(annotation: Any) -> Any:
    """The model class or container type behind Annotated[...] and X | None."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        else:
            return annotation


def known_keys(loc: Sequence[str | int]) -> list[str]:
    """The keys the table at `loc` accepts (empty when `loc` is not a table of the schema)."""
    current: Any = PorToml
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            fields = {f.alias or name: f for name, f in current.model_fields.items()}
            if not isinstance(part, str) or part not in fields:
                return []
            current = fields[part].annotation
        elif typing.get_origin(current) in (list, dict):
            current = typing.get_args(current)[-1]
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or name for name, f in current.model_fields.items()]
    return []


def unknown_key_help(loc: Sequence[str | int]) -> tuple[list[str], str | None]:
    """For an unknown key at `loc`: the keys its table accepts, and the closest of them."""
    known = known_keys(loc[:-1])
    close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6) if loc else []
    return known, close[0] if close else None


_TYPE_MESSAGES = {
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
    "dict_type": "must be a table",
    "list_type": "must be a list",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
}


def validate(path: Path, raw: Mapping[str, Any]) -> tuple[PorToml | None, list[Problem]]:
    """The file's data checked against the schema: the model, or every problem found."""
    try:
        return PorToml.model_validate(raw), []
    except ValidationError as exc:
        return None, [(schema_error(path, e), e) for e in exc.errors(include_url=False)]


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


def alerts_config(a: Alerts) -> AlertsConfig:
    return AlertsConfig(
        webhook=a.webhook, drift=a.drift, timeout=a.timeout, retries=a.retries, format=a.format
    )


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
        ownership=ownership_config(model.ownership),
    )


# ----------------------------------------------------------------------------- beyond the schema


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
) -> Iterator[InputError]:
    """What a schema cannot see, for the sections given (each one already valid): literal
    URLs, a wallet, token or epoch listed twice, and (with `references`) epoch names."""
    if bitcoin is not None:
        yield from _literal_url_problems(bitcoin)
        yield from _wallet_problems(path, bitcoin.wallets)
    if ethereum is not None:
        yield from _literal_url_problems(ethereum)
        yield from _token_problems(path, ethereum)
        yield from _wallet_problems(path, ethereum.wallets)
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
    ):
        raise problem
    return config
