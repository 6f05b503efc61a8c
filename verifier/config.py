"""`por.toml`: the exchange, its nodes and its wallets, read into frozen values.

Where it sits: the first step of `por snapshot` (and later `por reconcile`). Every error
names the file and the key (`bitcoin.wallets[2].address`) and raises `InputError` (exit 3).
Credentials are never in the file's argv-like values: a cookie file, a password file or
the name of an environment variable (see docs/snapshot.md for every section).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chains.base import Attribution, Chain, WalletClass
from verifier.errors import InputError

BTC_BACKENDS = ("bcoin", "core", "esplora")
BTC_NETWORKS = ("main", "test", "testnet4", "signet", "regtest")
SCRIPT_TYPES = ("p2pkh", "p2sh-p2wpkh", "p2wpkh")
MULTISIG_SCRIPTS = ("p2wsh", "p2sh-p2wsh")
_ETH_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


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


@dataclass(frozen=True)
class BitcoinConfig:
    backend: str
    url: str
    network: str
    asset: str = "BTC"
    cookie_file: Path | None = None
    user: str | None = None
    password_file: Path | None = None
    password_env: str | None = None
    timeout: int = 30
    concurrency: int = 8
    wallets: tuple[WalletConfig, ...] = ()


@dataclass(frozen=True)
class TokenConfig:
    code: str
    contract: str
    decimals: int
    balance_slot: int = 0


@dataclass(frozen=True)
class EthereumConfig:
    url: str
    chain_id: int
    asset: str = "ETH"
    trustless: bool = False
    timeout: int = 30
    concurrency: int = 8
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
        gap = r.get("gap_limit", int, 20)
        if not 1 <= gap <= 1000:
            raise r.fail("gap_limit", "must be 1..1000", gap)
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
    threshold = m.get("m", int)
    if not 1 <= threshold <= len(keys) <= 15:
        raise m.fail("m", f"must be 1..{len(keys)} (at most 15 keys)", threshold)
    return WalletConfig(
        multisig_m=threshold,
        multisig_keys=tuple(keys),
        script=m.choice("script", MULTISIG_SCRIPTS, "p2wsh"),
        sorted_keys=m.get("sorted", bool, True),
        **common,
    )


_RATIO = re.compile(r"[0-9]+(\.[0-9]+)?")


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
        if not _RATIO.fullmatch(value):
            raise thresholds.fail(name, 'must be a decimal string such as "1" or "0.98"', value)
    attest = _Reader(path, top.get("attest", dict, {}), "attest")
    attest.unknown({"key_file"})
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


def load_config(path: Path) -> PorConfig:
    """Read and check `por.toml`."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError("config file not found", file=str(path)) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the config file: {exc}", file=str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", file=str(path)) from exc
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
        }
    )
    exchange = _Reader(path, top.get("exchange", dict), "exchange")
    name = exchange.get("name", str)
    attestation_id = exchange.get("attestation_id", str)
    bitcoin = ethereum = None
    if "bitcoin" in raw:
        b = _Reader(path, top.get("bitcoin", dict), "bitcoin")
        b.unknown(
            {
                "backend",
                "url",
                "network",
                "asset",
                "cookie_file",
                "user",
                "password_file",
                "password_env",
                "timeout",
                "concurrency",
                "wallets",
            }
        )
        wallets = b.get("wallets", list, [])
        bitcoin = BitcoinConfig(
            backend=b.choice("backend", BTC_BACKENDS),
            url=b.get("url", str),
            network=b.choice("network", BTC_NETWORKS),
            asset=b.get("asset", str, "BTC"),
            cookie_file=b.path("cookie_file"),
            user=b.get("user", str, None),
            password_file=b.path("password_file"),
            password_env=b.get("password_env", str, None),
            timeout=b.get("timeout", int, 30),
            concurrency=b.get("concurrency", int, 8),
            wallets=tuple(
                _wallet(path, Chain.BITCOIN, w, f"bitcoin.wallets[{i}]")
                for i, w in enumerate(wallets)
            ),
        )
    if "ethereum" in raw:
        e = _Reader(path, top.get("ethereum", dict), "ethereum")
        e.unknown(
            {"url", "chain_id", "asset", "trustless", "timeout", "concurrency", "tokens", "wallets"}
        )
        tokens = []
        for i, t in enumerate(e.get("tokens", list, [])):
            tr = _Reader(path, t if isinstance(t, dict) else {}, f"ethereum.tokens[{i}]")
            tr.unknown({"code", "contract", "decimals", "balance_slot"})
            contract = tr.get("contract", str)
            if not _ETH_ADDRESS.fullmatch(contract):
                raise tr.fail("contract", "not a contract address", contract)
            decimals = tr.get("decimals", int)
            if not 0 <= decimals <= 36:
                raise tr.fail("decimals", "must be 0..36", decimals)
            tokens.append(
                TokenConfig(
                    code=tr.get("code", str),
                    contract=contract,
                    decimals=decimals,
                    balance_slot=tr.get("balance_slot", int, 0),
                )
            )
        ethereum = EthereumConfig(
            url=e.get("url", str),
            chain_id=e.get("chain_id", int),
            asset=e.get("asset", str, "ETH"),
            trustless=e.get("trustless", bool, False),
            timeout=e.get("timeout", int, 30),
            concurrency=e.get("concurrency", int, 8),
            tokens=tuple(tokens),
            wallets=tuple(
                _wallet(path, Chain.ETHEREUM, w, f"ethereum.wallets[{i}]")
                for i, w in enumerate(e.get("wallets", list, []))
            ),
        )
    if bitcoin is None and ethereum is None:
        raise InputError("configure at least one of [bitcoin] and [ethereum]", file=str(path))
    reconcile = _reconcile_section(path, top)
    snapshot = _Reader(path, top.get("snapshot", dict, {}), "snapshot")
    snapshot.unknown({"count_custodial"})
    database, alerts = _history_sections(path, top)
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
    )


def _history_sections(path: Path, top: _Reader) -> tuple[DatabaseConfig, AlertsConfig]:
    """[database] and [alerts] (scheduled runs; docs/history.md)."""
    db = _Reader(path, top.get("database", dict, {}), "database")
    db.unknown({"url", "lock_timeout"})
    lock_timeout = db.get("lock_timeout", int, 30)
    if not 0 <= lock_timeout <= 86400:
        raise db.fail("lock_timeout", "must be 0..86400 seconds", lock_timeout)
    url = db.get("url", str, None)
    if url is not None and "://" not in url and not Path(url).is_absolute():
        url = str(path.parent / url)
    al = _Reader(path, top.get("alerts", dict, {}), "alerts")
    al.unknown({"webhook", "drift", "timeout", "retries"})
    webhook = al.get("webhook", str, None)
    if webhook is not None and not webhook.startswith(("http://", "https://")):
        raise al.fail("webhook", "must be an http:// or https:// URL", webhook)
    drift = al.get("drift", str, None)
    if drift is not None and not _RATIO.fullmatch(drift):
        raise al.fail("drift", 'must be a decimal string such as "0.05"', drift)
    timeout = al.get("timeout", int, 10)
    retries = al.get("retries", int, 3)
    if not 1 <= timeout <= 600:
        raise al.fail("timeout", "must be 1..600 seconds", timeout)
    if not 0 <= retries <= 20:
        raise al.fail("retries", "must be 0..20", retries)
    return DatabaseConfig(url=url, lock_timeout=lock_timeout), AlertsConfig(
        webhook=webhook, drift=drift, timeout=timeout, retries=retries
    )
