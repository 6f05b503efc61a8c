"""`por.toml`: the exchange, its nodes and its wallets, read into frozen values.

Where it sits: the first step of `por snapshot` (and later `por reconcile`). Every error
names the file and the key (`bitcoin.wallets[2].address`) and raises `InputError` (exit 3).
Credentials are never in the file's argv-like values: a cookie file, a password file or
the name of an environment variable (see docs/snapshot.md for every section); a node URL
that carries an API key can come from a file (`url_file`) or a variable (`url_env`) too,
read only when a node is used (`NodeConfig.node_url`). URLs in messages are masked.

Every number is an integer in a stated range (a zero timeout or concurrency would hang);
every address is listed once per chain, compared in its canonical form (`address_key`), so
no wallet is counted twice.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from attestations.encoding import ASSET_CODE_RE
from chains.base import DEFAULT_MAX_REPLY_BYTES, Attribution, Chain, WalletClass
from chains.rpc import has_credentials, read_secret_file, url_problem
from verifier import safetoml
from verifier.errors import InputError
from verifier.redact import mask_url

BTC_BACKENDS = ("bcoin", "core", "esplora")
BTC_NETWORKS = ("main", "test", "testnet4", "signet", "regtest")
SCRIPT_TYPES = ("p2pkh", "p2sh-p2wpkh", "p2wpkh")
MULTISIG_SCRIPTS = ("p2wsh", "p2sh-p2wsh")
_ETH_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
MAX_TIMEOUT = 3600
"""Seconds; a request that needs more than an hour is a node that is not answering."""
MAX_CONCURRENCY = 256
MIN_REPLY_BYTES = 1024
MAX_REPLY_BYTES = 1 << 32
"""4 GiB: the largest reply cap that can be configured (the default is 64 MiB)."""
_TOML_INT_MAX = (1 << 63) - 1


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
    then to DEFAULT_MAX_AGE_DAYS (verifier/ownership.py resolves it).
    """

    epochs: tuple[EpochConfig, ...] = ()
    max_age_days: int | None = None
    max_age_blocks: Mapping[str, int] = field(default_factory=dict)
    """Chain name -> the most blocks between the epoch block and the pinned block."""

    def epoch(self, epoch_id: str) -> EpochConfig | None:
        return next((e for e in self.epochs if e.id == epoch_id), None)


ALERT_FORMATS = ("generic", "alertmanager", "slack")


@dataclass(frozen=True)
class PorConfig:
    """Everything `por snapshot`, `por reconcile` and `por attest` need."""

    path: Path
    exchange: str
    attestation_id: str
    bitcoin: BitcoinConfig | None = None
    ethereum: EthereumConfig | None = None
    count_custodial: bool = False
    reconcile: ReconcileConfig = field(default_factory=ReconcileConfig)
    raw: Mapping[str, Any] = field(default_factory=dict)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    ownership: OwnershipConfig = field(default_factory=OwnershipConfig)


class _Reader:
    """Typed access to a TOML table with errors that name the file and key."""

    def __init__(self, file: Path, table: Mapping[str, Any], where: str) -> None:
        self.file, self.table, self.where = file, table, where

    def _key(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    def fail(self, name: str, message: str, value: Any = None) -> InputError:
        return InputError(
            message,
            file=str(self.file),
            key=self._key(name),
            value=None if value is None else str(value),
        )

    def get(
        self,
        name: str,
        kind: type | tuple[type, ...],
        default: Any = ...,
    ) -> Any:
        if name not in self.table:
            if default is ...:
                raise self.fail(name, "missing")
            return default
        value = self.table[name]
        if isinstance(value, bool) and kind is not bool:
            raise self.fail(name, "has the wrong type", value)
        if not isinstance(value, kind):
            raise self.fail(name, "has the wrong type", value)
        return value

    def integer(self, name: str, low: int, high: int, default: Any = ...) -> int:
        """An integer setting in [low, high]: a bool, a float, a string or anything out of
        range is refused with the key (a zero timeout or concurrency would hang)."""
        if name not in self.table:
            if default is ...:
                raise self.fail(name, "missing")
            return int(default)
        value = self.table[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(name, f"must be an integer from {low} to {high}", value)
        return value

    def line(self, name: str, default: Any = ..., limit: int = 200) -> str:
        """A one-line text (a name, an id): signed challenges are built from lines, so a
        newline or other control character in one could forge another line."""
        value = self.get(name, str, default)
        if not value or len(value) > limit or any(c < " " or c == "\x7f" for c in value):
            raise self.fail(name, f"must be one line of 1 to {limit} printable characters", value)
        return str(value)

    def asset(self, name: str, default: Any = ...) -> str:
        """An asset code as the liabilities files name it ([A-Z0-9._-]{1,16})."""
        value = self.get(name, str, default)
        if not ASSET_CODE_RE.fullmatch(value):
            raise self.fail(name, "not an asset code ([A-Z0-9._-]{1,16})", value)
        return str(value)

    def choice(self, name: str, options: tuple[str, ...], default: Any = ...) -> str:
        value = self.get(name, str, default)
        if value not in options:
            raise self.fail(name, f"must be one of {', '.join(options)}", value)
        return str(value)

    def path(self, name: str) -> Path | None:
        value = self.get(name, str, None)
        if value is None:
            return None
        path = Path(value)
        return path if path.is_absolute() else (self.file.parent / path)

    def unknown(self, allowed: set[str]) -> None:
        extra = sorted(set(self.table) - allowed)
        if extra:
            raise self.fail(extra[0], "unknown key")


def _wallet(file: Path, chain: Chain, raw: Any, where: str) -> WalletConfig:
    if not isinstance(raw, Mapping):
        raise InputError("must be a table", file=str(file), key=where)
    r = _Reader(file, raw, where)
    r.unknown(
        {
            "label",
            "class",
            "attribution",
            "address",
            "xpub",
            "path",
            "script",
            "gap_limit",
            "multisig",
            "ownership",
        }
    )
    kinds = [k for k in ("address", "xpub", "multisig") if k in raw]
    if len(kinds) != 1:
        raise r.fail("address", "give exactly one of address, xpub or multisig")
    if chain is Chain.ETHEREUM and kinds != ["address"]:
        raise r.fail(kinds[0], "Ethereum wallets are given by address")
    wallet_class = WalletClass(r.choice("class", tuple(c.value for c in WalletClass), "other"))
    attribution = Attribution(
        r.choice("attribution", tuple(a.value for a in Attribution), "customer")
    )
    ownership = r.get("ownership", dict, None)
    if ownership is not None and "scheme" not in ownership:
        raise r.fail("ownership.scheme", "missing")
    common: dict[str, Any] = {
        "chain": chain,
        "key": where,
        "label": r.get("label", str, ""),
        "wallet_class": wallet_class,
        "attribution": attribution,
        "ownership": ownership,
    }
    if "address" in raw:
        address = r.get("address", str)
        if chain is Chain.ETHEREUM and not _ETH_ADDRESS.fullmatch(address):
            raise r.fail("address", "not an Ethereum address (0x + 40 hex digits)", address)
        return WalletConfig(address=address, **common)
    if "xpub" in raw:
        gap = r.integer("gap_limit", 1, 1000, 20)
        return WalletConfig(
            xpub=r.get("xpub", str),
            path=r.get("path", str, None),
            script=r.choice("script", SCRIPT_TYPES, "p2wpkh"),
            gap_limit=gap,
            **common,
        )
    multisig = r.get("multisig", dict)
    m = _Reader(file, multisig, f"{where}.multisig")
    m.unknown({"m", "keys", "script", "sorted"})
    keys = m.get("keys", list)
    if not keys or not all(isinstance(k, str) for k in keys):
        raise m.fail("keys", "must be a list of hex public keys")
    if len(keys) > 15:
        raise m.fail("keys", "at most 15 keys", len(keys))
    threshold = m.integer("m", 1, len(keys))
    return WalletConfig(
        multisig_m=threshold,
        multisig_keys=tuple(keys),
        script=m.choice("script", MULTISIG_SCRIPTS, "p2wsh"),
        sorted_keys=m.get("sorted", bool, True),
        **common,
    )


def _wallets(file: Path, chain: Chain, raw: Any, section: str) -> tuple[WalletConfig, ...]:
    """The section's wallet list; the same address, xpub or key set twice is refused."""
    if not isinstance(raw, list):
        raise InputError("must be a list of tables", file=str(file), key=f"{section}.wallets")
    wallets = tuple(_wallet(file, chain, w, f"{section}.wallets[{i}]") for i, w in enumerate(raw))
    seen: dict[tuple[str, ...], WalletConfig] = {}
    for wallet in wallets:
        identity: tuple[str, ...]
        if wallet.address is not None:
            identity, name = ("address", address_key(chain, wallet.address)), "address"
        elif wallet.xpub is not None:
            identity, name = ("xpub", wallet.xpub, wallet.script or ""), "xpub"
        else:
            keys = sorted(wallet.multisig_keys) if wallet.sorted_keys else wallet.multisig_keys
            identity = ("multisig", str(wallet.multisig_m), wallet.script or "", *keys)
            name = "multisig"
        first = seen.setdefault(identity, wallet)
        if first is not wallet:
            # counted twice, its balance would back the liabilities twice
            raise InputError(
                f"the same {name} is listed twice, as {wallet_name(first)} and as "
                f"{wallet_name(wallet)}; list each wallet once",
                file=str(file),
                key=f"{wallet.key}.{name}",
                value=wallet.address if wallet.address is not None else wallet.xpub,
            )
    return wallets


_RATIO = re.compile(r"[0-9]+(\.[0-9]+)?")
_MAX_RATIO_CHARS = 40


def _reconcile_section(path: Path, top: _Reader) -> ReconcileConfig:
    liabilities = _Reader(path, top.get("liabilities", dict, {}), "liabilities")
    liabilities.unknown({"root", "file", "assets", "tree"})
    if liabilities.table and ("root" in liabilities.table) == ("file" in liabilities.table):
        raise liabilities.fail("root", "give either root (a root.json) or file (to build from)")
    if "file" in liabilities.table and "assets" not in liabilities.table:
        raise liabilities.fail("assets", "missing (the assets TOML for the liabilities file)")
    prices = _Reader(path, top.get("prices", dict, {}), "prices")
    prices.unknown({"file"})
    reserve = _Reader(path, top.get("reserve", dict, {}), "reserve")
    reserve.unknown({"statement", "pack"})
    thresholds = _Reader(path, top.get("thresholds", dict, {}), "thresholds")
    thresholds.unknown({"min_coverage", "min_combined"})
    for name in ("min_coverage", "min_combined"):
        value = thresholds.get(name, str, "1")
        if len(value) > _MAX_RATIO_CHARS or not _RATIO.fullmatch(value):
            raise thresholds.fail(name, 'must be a decimal string such as "1" or "0.98"', value)
    attest = _Reader(path, top.get("attest", dict, {}), "attest")
    # public_key: the exchange's key an auditor pins (`por verify` checks its form)
    attest.unknown({"key_file", "public_key"})
    return ReconcileConfig(
        root=liabilities.path("root"),
        liabilities_file=liabilities.path("file"),
        assets_file=liabilities.path("assets"),
        tree_dir=liabilities.path("tree"),
        prices=prices.path("file"),
        statement=reserve.path("statement"),
        pack=reserve.get("pack", str, None),
        min_coverage=thresholds.get("min_coverage", str, "1"),
        min_combined=thresholds.get("min_combined", str, "1"),
        key_file=attest.path("key_file"),
    )


_NODE_KEYS = {"url", "url_file", "url_env", "timeout", "concurrency", "max_reply_bytes"}


def _node_fields(path: Path, r: _Reader) -> dict[str, Any]:
    """The settings every node section shares: its URL (one of three ways) and its limits."""
    given = [name for name in ("url", "url_file", "url_env") if name in r.table]
    if len(given) != 1:
        raise r.fail(
            given[1] if len(given) > 1 else "url",
            "give exactly one of url, url_file (a file holding the URL) or url_env "
            "(an environment variable holding it)",
        )
    url_env = r.get("url_env", str, None)
    if url_env is not None and not url_env:
        raise r.fail("url_env", "must name an environment variable")
    return {
        "section": r.where,
        "file": path,
        "url": r.get("url", str, None),
        "url_file": r.path("url_file"),
        "url_env": url_env,
        "timeout": r.integer("timeout", 1, MAX_TIMEOUT, 30),
        "concurrency": r.integer("concurrency", 1, MAX_CONCURRENCY, 8),
        "max_reply_bytes": r.integer(
            "max_reply_bytes", MIN_REPLY_BYTES, MAX_REPLY_BYTES, DEFAULT_MAX_REPLY_BYTES
        ),
    }


def _checked_literal_url(node: NodeConfig) -> None:
    """A URL written in the file is checked now (masked in the message: it may hold a key)."""
    if node.url is not None:
        node._checked(node.url, "url", shown=mask_url(node.url))


def _bitcoin_section(path: Path, b: _Reader) -> BitcoinConfig:
    b.unknown(
        _NODE_KEYS
        | {
            "backend",
            "network",
            "asset",
            "cookie_file",
            "user",
            "password_file",
            "password_env",
            "wallets",
        }
    )
    backend = b.choice("backend", BTC_BACKENDS)
    secrets = [k for k in ("cookie_file", "password_file", "password_env") if k in b.table]
    if len(secrets) > 1:
        # one would silently win over the other
        raise b.fail(
            secrets[1],
            f"give one of cookie_file, password_file or password_env, not {secrets[0]} too",
        )
    if secrets and backend == "esplora":
        raise b.fail(
            secrets[0],
            "Esplora takes no password; put credentials or an API key in url_file or url_env",
        )
    bitcoin = BitcoinConfig(
        **_node_fields(path, b),
        backend=backend,
        network=b.choice("network", BTC_NETWORKS),
        asset=b.asset("asset", "BTC"),
        cookie_file=b.path("cookie_file"),
        user=b.get("user", str, None),
        password_file=b.path("password_file"),
        password_env=b.get("password_env", str, None),
        wallets=_wallets(path, Chain.BITCOIN, b.get("wallets", list, []), "bitcoin"),
    )
    _checked_literal_url(bitcoin)
    return bitcoin


def _ethereum_section(path: Path, e: _Reader) -> EthereumConfig:
    e.unknown(_NODE_KEYS | {"chain_id", "asset", "trustless", "tokens", "wallets"})
    tokens = []
    for i, t in enumerate(e.get("tokens", list, [])):
        if not isinstance(t, dict):
            raise InputError("must be a table", file=str(path), key=f"ethereum.tokens[{i}]")
        tr = _Reader(path, t, f"ethereum.tokens[{i}]")
        tr.unknown({"code", "contract", "decimals", "balance_slot"})
        contract = tr.get("contract", str)
        if not _ETH_ADDRESS.fullmatch(contract):
            raise tr.fail("contract", "not a contract address", contract)
        tokens.append(
            TokenConfig(
                code=tr.asset("code"),
                contract=contract,
                decimals=tr.integer("decimals", 0, 36),
                balance_slot=tr.integer("balance_slot", 0, _TOML_INT_MAX, 0),
            )
        )
    native = e.asset("asset", "ETH")
    codes: dict[str, str] = {native: "ethereum.asset"}
    contracts: dict[str, str] = {}
    for i, token in enumerate(tokens):
        where = f"ethereum.tokens[{i}]"
        for seen, value, name in (
            (codes, token.code, "code"),
            (contracts, token.contract.lower(), "contract"),
        ):
            if value in seen:
                # one balance read under two names would be counted twice
                raise InputError(
                    f"the same {name} as {seen[value]}",
                    file=str(path),
                    key=f"{where}.{name}",
                    value=value,
                )
            seen[value] = f"{where}.{name}"
    ethereum = EthereumConfig(
        **_node_fields(path, e),
        chain_id=e.integer("chain_id", 1, _TOML_INT_MAX),
        asset=native,
        trustless=e.get("trustless", bool, False),
        tokens=tuple(tokens),
        wallets=_wallets(path, Chain.ETHEREUM, e.get("wallets", list, []), "ethereum"),
    )
    _checked_literal_url(ethereum)
    return ethereum


def load_config(path: Path) -> PorConfig:
    """Read and check `por.toml`."""
    raw = safetoml.load_path(path, what="config file")
    top = _Reader(path, raw, "")
    top.unknown(
        {
            "exchange",
            "bitcoin",
            "ethereum",
            "snapshot",
            "liabilities",
            "prices",
            "reserve",
            "thresholds",
            "attest",
            "alerts",
            "database",
            "ownership",
        }
    )
    exchange = _Reader(path, top.get("exchange", dict), "exchange")
    name = exchange.line("name")
    attestation_id = exchange.line("attestation_id")
    bitcoin = ethereum = None
    if "bitcoin" in raw:
        bitcoin = _bitcoin_section(path, _Reader(path, top.get("bitcoin", dict), "bitcoin"))
    if "ethereum" in raw:
        ethereum = _ethereum_section(path, _Reader(path, top.get("ethereum", dict), "ethereum"))
    if bitcoin is None and ethereum is None:
        raise InputError("configure at least one of [bitcoin] and [ethereum]", file=str(path))
    reconcile = _reconcile_section(path, top)
    snapshot = _Reader(path, top.get("snapshot", dict, {}), "snapshot")
    snapshot.unknown({"count_custodial"})
    database, alerts = _history_sections(path, top)
    ownership = _ownership_section(path, top)
    _check_epoch_references(path, ownership, bitcoin, ethereum)
    return PorConfig(
        path=path,
        exchange=name,
        attestation_id=attestation_id,
        bitcoin=bitcoin,
        ethereum=ethereum,
        count_custodial=snapshot.get("count_custodial", bool, False),
        reconcile=reconcile,
        raw=raw,
        database=database,
        alerts=alerts,
        ownership=ownership,
    )


def _history_sections(path: Path, top: _Reader) -> tuple[DatabaseConfig, AlertsConfig]:
    """[database] and [alerts] (scheduled runs; docs/history.md)."""
    db = _Reader(path, top.get("database", dict, {}), "database")
    db.unknown({"url", "lock_timeout"})
    lock_timeout = db.integer("lock_timeout", 0, 86400, 30)
    url = db.get("url", str, None)
    if url is not None and "://" not in url and not Path(url).is_absolute():
        url = str(path.parent / url)
    al = _Reader(path, top.get("alerts", dict, {}), "alerts")
    al.unknown({"webhook", "drift", "timeout", "retries", "format"})
    webhook = al.get("webhook", str, None)
    if webhook is not None and url_problem(webhook) is not None:
        raise al.fail("webhook", f"not a usable URL: it {url_problem(webhook)}", mask_url(webhook))
    drift = al.get("drift", str, None)
    if drift is not None and (len(drift) > _MAX_RATIO_CHARS or not _RATIO.fullmatch(drift)):
        raise al.fail("drift", 'must be a decimal string such as "0.05"', drift)
    timeout = al.integer("timeout", 1, 600, 10)
    retries = al.integer("retries", 0, 20, 3)
    return DatabaseConfig(url=url, lock_timeout=lock_timeout), AlertsConfig(
        webhook=webhook,
        drift=drift,
        timeout=timeout,
        retries=retries,
        format=al.choice("format", ALERT_FORMATS, "generic"),
    )


_BLOCK_HASH = re.compile(r"(0x)?[0-9a-fA-F]{64}")
_UTC_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
MAX_AGE_DAYS = 3660
"""Ten years: a longer maximum age is a typo."""


def _ownership_section(path: Path, top: _Reader) -> OwnershipConfig:
    """[ownership]: epochs (signed once, reused by later runs) and the maximum proof age."""
    from datetime import datetime

    own = _Reader(path, top.get("ownership", dict, {}), "ownership")
    own.unknown({"epochs", "max_age_days", "max_age_blocks"})
    max_age_days = (
        own.integer("max_age_days", 1, MAX_AGE_DAYS) if "max_age_days" in own.table else None
    )
    blocks_table = _Reader(path, own.get("max_age_blocks", dict, {}), "ownership.max_age_blocks")
    blocks_table.unknown({c.value for c in Chain})
    max_age_blocks = {
        name: blocks_table.integer(name, 1, _TOML_INT_MAX) for name in sorted(blocks_table.table)
    }
    epochs: list[EpochConfig] = []
    raw_epochs = own.get("epochs", list, [])
    for i, raw in enumerate(raw_epochs):
        where = f"ownership.epochs[{i}]"
        if not isinstance(raw, Mapping):
            raise InputError("must be a table", file=str(path), key=where)
        e = _Reader(path, raw, where)
        e.unknown({"id", "expires", *(c.value for c in Chain)})
        epoch_id = e.line("id", limit=64)
        if any(other.id == epoch_id for other in epochs):
            raise e.fail("id", "the same epoch id is defined twice", epoch_id)
        expires = e.get("expires", str, None)
        if expires is not None:
            valid = _UTC_TIME.fullmatch(expires) is not None
            if valid:
                try:
                    datetime.fromisoformat(expires.replace("Z", "+00:00"))
                except ValueError:
                    valid = False
            if not valid:
                raise e.fail("expires", "must be a UTC time such as 2027-03-31T00:00:00Z", expires)
        blocks: dict[str, EpochBlock] = {}
        for chain in Chain:
            if chain.value not in e.table:
                continue
            b = _Reader(path, e.get(chain.value, dict), f"{where}.{chain.value}")
            b.unknown({"height", "hash"})
            height = b.integer("height", 0, _TOML_INT_MAX)
            block_hash = b.get("hash", str)
            if not _BLOCK_HASH.fullmatch(block_hash):
                raise b.fail("hash", "must be a block hash: 64 hex digits", block_hash)
            blocks[chain.value] = EpochBlock(height, block_hash.lower().removeprefix("0x"))
        if not blocks:
            raise e.fail("bitcoin", "name the epoch's block on at least one chain")
        epochs.append(EpochConfig(epoch_id, blocks, expires, where))
    return OwnershipConfig(tuple(epochs), max_age_days, max_age_blocks)


def _check_epoch_references(
    path: Path,
    ownership: OwnershipConfig,
    bitcoin: BitcoinConfig | None,
    ethereum: EthereumConfig | None,
) -> None:
    """Every wallet proof that names an epoch names one defined for its chain."""
    for section in (bitcoin, ethereum):
        for wallet in section.wallets if section is not None else ():
            proof = wallet.ownership
            if proof is None or "epoch" not in proof:
                continue
            name = proof["epoch"]
            key = f"{wallet.key}.ownership.epoch"
            if not isinstance(name, str):
                raise InputError("has the wrong type", file=str(path), key=key, value=str(name))
            epoch = ownership.epoch(name)
            if epoch is None:
                known = ", ".join(e.id for e in ownership.epochs) or "none defined"
                raise InputError(
                    f"no [[ownership.epochs]] has this id (defined: {known})",
                    file=str(path),
                    key=key,
                    value=name,
                )
            if wallet.chain.value not in epoch.blocks:
                raise InputError(
                    f"epoch {name!r} names no {wallet.chain.value} block",
                    file=str(path),
                    key=key,
                    value=name,
                )
