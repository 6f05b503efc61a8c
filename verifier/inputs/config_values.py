"""por.toml's typed values: the frozen dataclasses every command reads its config through.

Where it sits: verifier/inputs/config.py fills these from a file the schema
(verifier/inputs/config_schema.py) accepted; the holdings, jobs and history layers read
them. Besides the values, the two helpers that name a wallet: `address_key` (the canonical
form two spellings of one address share) and `wallet_name` (how messages name it). A node's
URL held in a file or a variable is read only when the node is used (`NodeConfig.node_url`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chains.base import DEFAULT_MAX_REPLY_BYTES, Attribution, Chain, WalletClass
from chains.rpc import has_credentials, read_secret_file, url_problem
from verifier.base.errors import InputError
from verifier.base.logs import register_secret


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


def whole_to_units(text: str, decimals: int) -> int | None:
    """Whole units written as a plain decimal string ("1.5") as exact base units, or None
    when it is not such a string or a non-zero digit lies beyond `decimals` (never
    rounded; trailing zeros are exact). Read digit by digit: no float, no Decimal context."""
    whole, dot, fraction = text.partition(".")
    if decimals < 0 or not whole.isascii() or not whole.isdigit():
        return None
    if dot and (not fraction.isascii() or not fraction.isdigit()):
        return None
    kept, beyond = fraction[:decimals], fraction[decimals:]
    if beyond.strip("0"):
        return None
    return int(whole + kept.ljust(decimals, "0"))


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
    vendor: str | None = None
    """The id of its [vendors.X] (wallet software or custody provider), if named."""
    custodian: str | None = None
    signing: str | None = None
    """How it signs ("2-of-3 multisig", "MPC"), as written."""
    segregation: str = ""
    """customer | own | mixed; empty means "as the attribution" (see `segregation_of`)."""
    own: Mapping[str, str] = field(default_factory=dict)
    """A mixed wallet's own coins: asset code -> whole units as written ("1.5"); checked
    exact for the asset's decimals by verifier/inputs/config.py."""

    @property
    def segregation_of(self) -> str:
        """The wallet's segregation: as declared, else its attribution's."""
        return self.segregation or self.attribution.value

    @property
    def kind(self) -> str:
        if self.address is not None:
            return "address"
        if self.xpub is not None:
            return "xpub"
        return "multisig"


@dataclass(frozen=True)
class VendorConfig:
    """[vendors.<id>]: a supplier of wallet software, custody, signing or key storage."""

    id: str
    name: str
    kind: str
    """wallet-software | custody | signing | mpc | hsm | other."""
    notified: str | None = None
    """ISO date the vendor was notified to the regulator; None: not notified."""
    registered: bool = False
    jurisdiction: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "notified": self.notified,
            "registered": self.registered,
            "jurisdiction": self.jurisdiction,
        }


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
class StressConfig:
    """[stress]: the scenario file every stored run evaluates (docs/stress.md)."""

    scenarios: Path
    """The scenario file, resolved against the config's directory."""
    sweep: bool = False
    """Also rank each wallet's and vendor's largest absorbed loss."""
    alert: bool = True
    """Raise the ``stress`` and ``stress_error`` alerts."""


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
    stress: StressConfig | None = None
    """[stress]: None when the config has none (runs evaluate no scenario)."""
    ownership: OwnershipConfig = field(default_factory=OwnershipConfig)
    vendors: Mapping[str, VendorConfig] = field(default_factory=dict)
    """[vendors.<id>] by id."""
