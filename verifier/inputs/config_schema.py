"""The one schema of `por.toml`: every section and key, its type, range, default and meaning.

Where it sits: `verifier/inputs/config.py` validates a parsed por.toml through `PorToml` (every
structural check: types, ranges, one-line texts, choices, unknown keys, which keys go
together) and turns the result into the frozen values the commands use, adding the checks a
schema cannot make (a wallet listed twice, epoch references, usable URLs, paths relative to
the file). `por config schema` publishes the same model as JSON Schema
(docs/spec/schemas/por-config.schema.json) so editors check a file as it is typed, and
`por config check` lists every problem of a file at once.

Rules every model here keeps:
  1. Strict: no coercion (a bool is not an integer, "30" is not 30, 1.0 is not 1).
  2. Unknown keys are refused (`extra="forbid"`); so are TOML dates where text is expected.
  3. Every constrained value fails with `PydanticCustomError("por", message, ctx)` whose
     message is the project's phrasing ("must be an integer from 1 to 3600"); `ctx["shown"]`
     is the value to quote and `ctx["field"]` the key a table-level check blames, so
     config.py can name `bitcoin.wallets[2].address` as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from chains.challenge import line_problem

SCHEMA_ID = "urn:por:schema:por-config.schema.json"
"""Not a URL: the schema ships in the repository and with `por config schema`; editors
point at a local copy (docs/snapshot.md)."""
"""The published schema's `$id` (a name, as verifier/inputs/file_schemas.py gives its schemas;
nothing fetches it)."""

TOML_INT_MAX = (1 << 63) - 1
"""The largest integer TOML holds."""
MAX_TIMEOUT = 3600
"""Seconds; a request that needs more than an hour is a node that is not answering."""
MAX_CONCURRENCY = 256
MIN_REPLY_BYTES = 1024
MAX_REPLY_BYTES = 1 << 32
"""4 GiB: the largest reply cap that can be configured."""
DEFAULT_MAX_REPLY_BYTES = 64 << 20
"""64 MiB (chains.base.DEFAULT_MAX_REPLY_BYTES; a test keeps the two equal)."""
MAX_AGE_DAYS = 3660
"""Ten years: a longer maximum proof age is a typo (attestations.document.model.MAX_AGE_DAYS
bounds a signed document's the same way; a test keeps the two equal)."""
MAX_AGE_BLOCKS = (1 << 53) - 1
"""The largest block limit: a signed document writes it as a JSON integer, exact only up
to 2**53 - 1 (attestations.document refuses more; a test keeps the two equal)."""
EPOCH_ID = r"[A-Za-z0-9][A-Za-z0-9._:+-]{0,63}"
"""An epoch id: it goes verbatim into the signed epoch challenge and into TOML, so only
characters that cannot forge a line or hide (`por challenge --epoch` takes the same)."""
_LINE_REFUSED = (
    r"\u0000-\u001f\u007f-\u00a0\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891"
    r"\u08e2\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u2064\u2066-\u206f\u3000"
    r"\ud800-\udfff\ufeff\ufff9-\ufffb"
)
"""The Basic Multilingual Plane's characters of the categories chains.challenge refuses in a
signed line (Cc, Cf, Cs, Zl, Zp, Zs but U+0020), for the published JSON Schema's pattern;
the check itself (chains.challenge.line_problem) covers every plane."""
MAX_MULTISIG_KEYS = 15
MAX_RATIO_CHARS = 40

BtcBackend = Literal["bcoin", "core", "esplora"]
BtcNetwork = Literal["main", "test", "testnet4", "signet", "regtest"]
ScriptType = Literal["p2pkh", "p2sh-p2wpkh", "p2wpkh"]
MultisigScript = Literal["p2wsh", "p2sh-p2wsh"]
WalletClassName = Literal["cold", "hot", "custodial", "other"]
"""chains.base.WalletClass values (a test keeps the two equal)."""
AttributionName = Literal["customer", "own"]
"""chains.base.Attribution values (a test keeps the two equal)."""
AlertFormat = Literal["generic", "alertmanager", "slack"]
SegregationName = Literal["customer", "own", "mixed"]
"""verifier.reconcile.values.SEGREGATIONS (a test keeps the two equal)."""
VendorKind = Literal["wallet-software", "custody", "signing", "mpc", "hsm", "other"]
"""What a vendor supplies (docs/snapshot.md, "Wallet vendors and segregation")."""
BtcScheme = Literal["bip137", "bip322-simple", "p2wsh-multisig"]
EthScheme = Literal["eip191", "eip1271"]

BTC_BACKENDS: tuple[str, ...] = get_args(BtcBackend)
BTC_NETWORKS: tuple[str, ...] = get_args(BtcNetwork)
SCRIPT_TYPES: tuple[str, ...] = get_args(ScriptType)
MULTISIG_SCRIPTS: tuple[str, ...] = get_args(MultisigScript)
ALERT_FORMATS: tuple[str, ...] = get_args(AlertFormat)
SEGREGATIONS: tuple[str, ...] = get_args(SegregationName)
VENDOR_KINDS: tuple[str, ...] = get_args(VendorKind)
OWNERSHIP_SCHEMES: tuple[str, ...] = get_args(BtcScheme) + get_args(EthScheme)

ASSET_CODE = r"[A-Z0-9._-]{1,16}"
"""As attestations.encoding.ASSET_CODE_RE (a test keeps the two equal)."""
ETH_ADDRESS = r"0x[0-9a-fA-F]{40}"
BLOCK_HASH = r"(0x)?[0-9a-fA-F]{64}"
UTC_TIME = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z"
RATIO = r"[0-9]+(\.[0-9]+)?"
VENDOR_ID = r"[a-z0-9][a-z0-9_-]{0,63}"
"""A vendor id: lower-case letters, digits, _ and -, as wallets name it."""
WHOLE_UNITS = r"[0-9]{1,40}(\.[0-9]{1,40})?"
"""An amount in whole units as a decimal string ("1.5"); its exactness for the asset's
decimals is checked by verifier/inputs/config.py."""


# ----------------------------------------------------------------------------- value types


def problem(message: str, *, field: str | None = None, shown: object = None) -> Exception:
    """A validation error in the project's phrasing (see rule 3 of the module docstring)."""
    ctx: dict[str, Any] = {}
    if field is not None:
        ctx["field"] = field
    if shown is not None:
        ctx["shown"] = printable(shown)
    return PydanticCustomError("por", message, ctx)


def printable(value: object) -> str:
    """A value as a message quotes it (an integer too long for str() is described)."""
    try:
        return str(value)
    except ValueError:  # more digits than Python converts (sys.int_info.str_digits_check)
        return "an integer of thousands of digits"


@dataclass(frozen=True)
class Range:
    """`Annotated[int, Range(low, high)]`: an integer in [low, high]. A bool, a float, a
    string or anything out of range is refused (a zero timeout or concurrency would hang)."""

    low: int
    high: int

    def _check(self, value: object) -> object:
        # type() rather than isinstance(): True is an int to isinstance
        if type(value) is not int or not self.low <= value <= self.high:
            raise problem(f"must be an integer from {self.low} to {self.high}", shown=value)
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> CoreSchema:
        return core_schema.no_info_before_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: Any) -> JsonSchemaValue:
        doc = dict(handler(schema))
        doc.update(minimum=self.low, maximum=self.high)
        return doc


@dataclass(frozen=True)
class OneOf:
    """`Annotated[Literal[...], OneOf()]`: one of the Literal's strings, refused as
    "must be one of a, b, c" (pydantic's own message quotes Python reprs)."""

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> CoreSchema:
        options = _literal_options(source)

        def check(value: object) -> object:
            if not isinstance(value, str) or value not in options:
                raise problem(f"must be one of {', '.join(options)}", shown=value)
            return value

        return core_schema.no_info_before_validator_function(check, handler(source))


def _literal_options(kind: Any) -> tuple[str, ...]:
    """The strings of a Literal, also of a Literal of Literals."""
    options: list[str] = []
    for arg in get_args(kind):
        options.extend(_literal_options(arg) if get_args(arg) else [arg])
    return tuple(options)


@dataclass(frozen=True)
class Pattern:
    """`Annotated[str, Pattern(regex, message)]`: a string matching `regex` whole, at most
    `max_length` characters (and passing `check`), else `message`."""

    regex: str
    message: str
    max_length: int | None = None
    check: Callable[[str], bool] | None = None

    def _validate(self, value: str) -> str:
        too_long = self.max_length is not None and len(value) > self.max_length
        matches = re.fullmatch(self.regex, value) is not None
        if too_long or not matches or (self.check is not None and not self.check(value)):
            raise problem(self.message, shown=value)
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self._validate, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: Any) -> JsonSchemaValue:
        doc = dict(handler(schema))
        doc["pattern"] = f"^{self.regex}$"
        if self.max_length is not None:
            doc["maxLength"] = self.max_length
        return doc


def _signable(value: str) -> bool:
    return line_problem(value) is None


def line(limit: int) -> Pattern:
    """One line of 1 to `limit` visible characters and plain spaces: signed challenges are
    built from lines, so a line break of any kind (U+0085 and U+2028 too) could forge
    another line, and an invisible or bidirectional character (U+200B, U+202E) would make
    what a person reads differ from what is signed."""
    message = (
        f"must be one line of 1 to {limit} visible characters (no control, invisible or "
        "line-breaking character, no space but U+0020)"
    )
    return Pattern(f"[^{_LINE_REFUSED}]+", message, max_length=limit, check=_signable)


def _utc(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def ratio(examples: str) -> Pattern:
    """A decimal string of at most 40 characters (a ratio; read exactly, never as a float)."""
    return Pattern(RATIO, f"must be a decimal string such as {examples}", MAX_RATIO_CHARS)


AssetCode = Annotated[str, Pattern(ASSET_CODE, "not an asset code ([A-Z0-9._-]{1,16})")]
UtcTime = Annotated[
    str, Pattern(UTC_TIME, "must be a UTC time such as 2027-03-31T00:00:00Z", check=_utc)
]
BlockHash = Annotated[str, Pattern(BLOCK_HASH, "must be a block hash: 64 hex digits")]
Height = Annotated[int, Range(0, TOML_INT_MAX)]


def _public_keys(value: object) -> object:
    if not isinstance(value, list) or not value or not all(isinstance(k, str) for k in value):
        raise problem("must be a list of hex public keys")
    if len(value) > MAX_MULTISIG_KEYS:
        raise problem(f"at most {MAX_MULTISIG_KEYS} keys", shown=len(value))
    return value


PublicKeys = Annotated[
    list[str],
    Field(min_length=1, max_length=MAX_MULTISIG_KEYS),
    BeforeValidator(_public_keys),
]


def _given(model: BaseModel, *names: str) -> list[str]:
    """The keys among `names` the file gives (every one of them defaults to None)."""
    return [name for name in names if getattr(model, name) is not None]


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# ----------------------------------------------------------------------------- [exchange]


class Exchange(_Table):
    """[exchange]: who attests, and the attestation the ownership challenge names."""

    name: Annotated[str, line(200)] = Field(
        description="The exchange's name, as the ownership challenge and the report state it."
    )
    # optional in the schema so an auditor's config for `por verify --config` need not
    # guess the id; every command that needs one (snapshot, reconcile, attest, challenge
    # without --epoch) refuses a config without it (verifier.inputs.config.load_config)
    attestation_id: Annotated[str, line(200)] | None = Field(
        default=None,
        description="This attestation's id (e.g. exch-2026-11): in the challenge, the "
        "liabilities commitment and the signed document. Required by snapshot, reconcile, "
        "attest and a point-in-time challenge; optional in an auditor's config for `por verify`.",
    )


# ----------------------------------------------------------------------------- wallets


class OwnershipProof(_Table):
    """A wallet's ownership proof: a signature over the challenge (docs/snapshot.md)."""

    scheme: Annotated[Literal[BtcScheme, EthScheme], OneOf()] = Field(
        description="bip137, bip322-simple or p2wsh-multisig (Bitcoin); eip191 or eip1271 "
        "(Ethereum)."
    )
    signature: str | None = Field(
        default=None, description="The signature: base64 (Bitcoin) or 0x-hex (Ethereum)."
    )
    signatures: list[str] | None = Field(
        default=None, description="p2wsh-multisig: one BIP-137 signature per cosigner (at least m)."
    )
    addresses: dict[str, str] | None = Field(
        default=None,
        description="xpub wallets: one signature per derived address, {address = signature}.",
    )
    message: str | None = Field(
        default=None, description="The signed text, if given: it must be exactly the challenge."
    )
    witness_script: str | None = Field(
        default=None,
        description="p2wsh-multisig: the witness script in hex (default: built from the "
        "wallet's multisig keys).",
    )
    epoch: str | None = Field(
        default=None,
        description="The [[ownership.epochs]] id whose challenge this signature signs; "
        "absent: the point-in-time challenge of the pinned block.",
    )


VendorRef = Annotated[str, Pattern(VENDOR_ID, "must be a vendor id ([a-z0-9_-], 1 to 64)")]
Custodian = Annotated[str, line(200)]
Signing = Annotated[str, line(100)]
Segregation = Annotated[SegregationName, OneOf()]
OwnUnits = dict[
    AssetCode,
    Annotated[str, Pattern(WHOLE_UNITS, 'must be whole units as a decimal string ("1.5")')],
]
_VENDOR = "The id of a [vendors.X] table: the wallet software or custody provider."
_CUSTODIAN = "Who holds the keys (free text; may be a vendor id)."
_SIGNING = 'How it signs, e.g. "2-of-3 multisig" or "MPC" (free text).'
_SEGREGATION = (
    "customer, own or mixed (default: as attribution); customer or own must agree with attribution."
)
_OWN = (
    'A mixed wallet: the exchange\'s own coins in it, {BTC = "1.5"} in whole units; the rest '
    "counts by attribution (more than the balance: all of it is own)."
)


def _check_metadata(wallet: BitcoinWallet | EthereumWallet) -> None:
    """Who supplies and holds a wallet, how it signs and whose coins are in it (issue 14:
    `vendor`, `custodian`, `signing`, `segregation`, `own`, on both chains' wallets): a
    declared segregation agrees with the attribution, and only a mixed wallet declares own
    coins."""
    attribution = wallet.attribution
    if wallet.segregation in ("customer", "own") and wallet.segregation != attribution:
        raise problem(
            f"contradicts attribution = {attribution!r} (a {attribution} wallet's "
            f"segregation is {attribution!r} or 'mixed')",
            field="segregation",
            shown=wallet.segregation,
        )
    if wallet.own is not None and wallet.segregation != "mixed":
        raise problem('own applies to a mixed wallet: set segregation = "mixed"', field="own")


_LABEL = "A name for messages and reports."
_CLASS = "cold, hot, custodial or other."
_ATTRIBUTION = "customer (backs customer liabilities) or own (the exchange's own buffer)."


class Multisig(_Table):
    """An m-of-n multisig wallet: its public keys, the threshold and the script type."""

    keys: PublicKeys = Field(description="1 to 15 compressed public keys (33 bytes, hex).")
    m: Annotated[int, Range(1, MAX_MULTISIG_KEYS)] = Field(
        description="Signatures required: 1 to the number of keys."
    )
    script: Annotated[MultisigScript, OneOf()] = Field(
        default="p2wsh", description="p2wsh or p2sh-p2wsh."
    )
    sorted: bool = Field(default=True, description="Sort the keys as BIP-67 does (sortedmulti).")

    @model_validator(mode="after")
    def _threshold(self) -> Multisig:
        if self.m > len(self.keys):
            raise problem(f"must be an integer from 1 to {len(self.keys)}", field="m", shown=self.m)
        return self


class BitcoinWallet(_Table):
    """[[bitcoin.wallets]]: exactly one of an address, an xpub or a multisig key set."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [{"required": ["address"]}, {"required": ["xpub"]}, {"required": ["multisig"]}]
        }
    )

    label: str = Field(default="", description=_LABEL)
    class_: Annotated[WalletClassName, OneOf()] = Field(
        default="other", alias="class", description=_CLASS
    )
    attribution: Annotated[AttributionName, OneOf()] = Field(
        default="customer", description=_ATTRIBUTION
    )
    address: str | None = Field(default=None, description="A single address of the network.")
    xpub: str | None = Field(
        default=None, description="An account-level extended public key, walked to its gap limit."
    )
    path: str | None = Field(
        default=None, description="The xpub's derivation path, for the record."
    )
    script: Annotated[ScriptType, OneOf()] | None = Field(
        default=None, description="The xpub's address type: p2pkh, p2sh-p2wpkh or p2wpkh (default)."
    )
    gap_limit: Annotated[int, Range(1, 1000)] = Field(
        default=20, description="Consecutive unused addresses that end an xpub walk, 1..1000."
    )
    multisig: Multisig | None = Field(default=None, description="An m-of-n multisig key set.")
    ownership: OwnershipProof | None = Field(default=None, description="The ownership proof.")
    vendor: VendorRef | None = Field(default=None, description=_VENDOR)
    custodian: Custodian | None = Field(default=None, description=_CUSTODIAN)
    signing: Signing | None = Field(default=None, description=_SIGNING)
    segregation: Segregation | None = Field(default=None, description=_SEGREGATION)
    own: OwnUnits | None = Field(default=None, description=_OWN)

    @model_validator(mode="after")
    def _one_kind(self) -> BitcoinWallet:
        if len(_given(self, "address", "xpub", "multisig")) != 1:
            raise problem("give exactly one of address, xpub or multisig", field="address")
        _check_metadata(self)
        return self


class EthereumWallet(_Table):
    """[[ethereum.wallets]]: an Ethereum account (an EOA or a contract wallet)."""

    label: str = Field(default="", description=_LABEL)
    class_: Annotated[WalletClassName, OneOf()] = Field(
        default="other", alias="class", description=_CLASS
    )
    attribution: Annotated[AttributionName, OneOf()] = Field(
        default="customer", description=_ATTRIBUTION
    )
    address: Annotated[
        str, Pattern(ETH_ADDRESS, "not an Ethereum address (0x + 40 hex digits)")
    ] = Field(
        description="0x + 40 hex digits (EIP-55 mixed case is checked by `por config check`)."
    )
    ownership: OwnershipProof | None = Field(default=None, description="The ownership proof.")
    vendor: VendorRef | None = Field(default=None, description=_VENDOR)
    custodian: Custodian | None = Field(default=None, description=_CUSTODIAN)
    signing: Signing | None = Field(default=None, description=_SIGNING)
    segregation: Segregation | None = Field(default=None, description=_SEGREGATION)
    own: OwnUnits | None = Field(default=None, description=_OWN)

    @model_validator(mode="before")
    @classmethod
    def _by_address(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for kind in ("xpub", "multisig"):
                if kind in data:
                    raise problem("Ethereum wallets are given by address", field=kind)
        return data

    @model_validator(mode="after")
    def _metadata(self) -> EthereumWallet:
        _check_metadata(self)
        return self


# ----------------------------------------------------------------------------- node sections


class _Node(_Table):
    url: str | None = Field(
        default=None,
        description="The node's URL (http:// or https://); one of url, url_file, url_env.",
    )
    url_file: str | None = Field(
        default=None,
        description="A file holding the URL on one line (mode 0600 or 0640), relative to "
        "this file: for URLs that carry an API key.",
    )
    url_env: str | None = Field(
        default=None, description="The name of an environment variable holding the URL."
    )
    timeout: Annotated[int, Range(1, MAX_TIMEOUT)] = Field(
        default=30, description="Seconds per request, 1..3600."
    )
    concurrency: Annotated[int, Range(1, MAX_CONCURRENCY)] = Field(
        default=8, description="Requests in flight, 1..256."
    )
    max_reply_bytes: Annotated[int, Range(MIN_REPLY_BYTES, MAX_REPLY_BYTES)] = Field(
        default=DEFAULT_MAX_REPLY_BYTES,
        description="The largest node reply read (default 64 MiB), 1024..4294967296.",
    )

    @model_validator(mode="after")
    def _one_url(self) -> _Node:
        given = _given(self, "url", "url_file", "url_env")
        if len(given) != 1:
            raise problem(
                "give exactly one of url, url_file (a file holding the URL) or url_env "
                "(an environment variable holding it)",
                field=given[1] if len(given) > 1 else "url",
            )
        if self.url_env == "":
            raise problem("must name an environment variable", field="url_env")
        return self


class Bitcoin(_Node):
    """[bitcoin]: the Bitcoin node and the exchange's Bitcoin wallets."""

    backend: Annotated[BtcBackend, OneOf()] = Field(
        description="core (Bitcoin Core RPC, scantxoutset), bcoin or esplora."
    )
    network: Annotated[BtcNetwork, OneOf()] = Field(
        description="main, test, testnet4, signet or regtest."
    )
    asset: AssetCode = Field(
        default="BTC", description="The asset code liabilities use for bitcoin."
    )
    cookie_file: str | None = Field(default=None, description="Bitcoin Core's cookie file.")
    user: str | None = Field(default=None, description="The RPC user name (with a password).")
    password_file: str | None = Field(
        default=None, description="A file holding the RPC password (mode 0600 or 0640)."
    )
    password_env: str | None = Field(
        default=None, description="An environment variable holding the RPC password."
    )
    wallets: list[BitcoinWallet] = Field(
        default_factory=list, description="The exchange's Bitcoin wallets."
    )

    @model_validator(mode="after")
    def _credentials(self) -> Bitcoin:
        secrets = _given(self, "cookie_file", "password_file", "password_env")
        if len(secrets) > 1:
            # one would silently win over the other
            raise problem(
                f"give one of cookie_file, password_file or password_env, not {secrets[0]} too",
                field=secrets[1],
            )
        if secrets and self.backend == "esplora":
            raise problem(
                "Esplora takes no password; put credentials or an API key in url_file or url_env",
                field=secrets[0],
            )
        return self


class Token(_Table):
    """[[ethereum.tokens]]: an ERC-20 token read at the pinned block."""

    contract: Annotated[str, Pattern(ETH_ADDRESS, "not a contract address")] = Field(
        description="The token contract's address."
    )
    code: AssetCode = Field(description="Its asset code, as the liabilities files name it.")
    decimals: Annotated[int, Range(0, 36)] = Field(description="The token's decimals, 0..36.")
    balance_slot: Annotated[int, Range(0, TOML_INT_MAX)] = Field(
        default=0, description="Storage slot of the balances mapping (trustless mode)."
    )


class Ethereum(_Node):
    """[ethereum]: the Ethereum node, its tokens and the exchange's Ethereum wallets."""

    chain_id: Annotated[int, Range(1, TOML_INT_MAX)] = Field(
        description="The chain id the node must serve."
    )
    asset: AssetCode = Field(default="ETH", description="The asset code liabilities use for ether.")
    trustless: bool = Field(
        default=False, description="Check every balance with eth_getProof against the stateRoot."
    )
    tokens: list[Token] = Field(default_factory=list, description="ERC-20 tokens.")
    wallets: list[EthereumWallet] = Field(
        default_factory=list, description="The exchange's Ethereum wallets."
    )


# ----------------------------------------------------------------------------- the other inputs


class Snapshot(_Table):
    """[snapshot]: how holdings are counted."""

    count_custodial: bool = Field(
        default=False, description="Count custodial (declared, unproven) holdings as proven."
    )


class Liabilities(_Table):
    """[liabilities]: the root document, or a file to build the tree from each run."""

    root: str | None = Field(default=None, description="root.json of `por liabilities build`.")
    file: str | None = Field(
        default=None, description="Or a liabilities CSV/JSON Lines file to build."
    )
    assets: str | None = Field(default=None, description="The assets TOML (with `file`).")
    tree: str | None = Field(default=None, description="Where `file` is built (default: tree).")

    @model_validator(mode="after")
    def _root_or_file(self) -> Liabilities:
        if _given(self, "root", "file", "assets", "tree") and (self.root is None) == (
            self.file is None
        ):
            raise problem("give either root (a root.json) or file (to build from)", field="root")
        if self.file is not None and self.assets is None:
            raise problem("missing (the assets TOML for the liabilities file)", field="assets")
        return self


class Prices(_Table):
    """[prices]: the prices file (docs/reserve.md)."""

    file: str | None = Field(default=None, description="Asset -> price in the reporting currency.")


class Reserve(_Table):
    """[reserve]: the off-chain reserve statement and the rule pack."""

    statement: str | None = Field(default=None, description="The reserve statement TOML.")
    pack: str | None = Field(
        default=None, description="A rule pack name (jp-psa, jp-fsa-2026, ...) or a pack file path."
    )


class Thresholds(_Table):
    """[thresholds]: the coverage ratios a run must reach."""

    min_coverage: Annotated[str, ratio('"1" or "0.98"')] = Field(
        default="1", description="Every asset: proven customer holdings / liabilities."
    )
    min_combined: Annotated[str, ratio('"1" or "0.98"')] = Field(
        default="1", description="The combined coverage (docs/spec/por-report-v1.md)."
    )


class Attest(_Table):
    """[attest]: the exchange's signing key."""

    key_file: str | None = Field(
        default=None, description="Ed25519 key, PEM PKCS#8, mode 0600 (`por keys create`)."
    )
    public_key: str | None = Field(
        default=None,
        description="An auditor's config: the exchange's published Ed25519 public key "
        "(hex) that `por verify` pins.",
    )


class Database(_Table):
    """[database]: where `por reconcile` keeps its history (docs/history.md)."""

    url: str | None = Field(
        default=None,
        description="A SQLAlchemy URL or a SQLite file (default por.db beside the config).",
    )
    lock_timeout: Annotated[int, Range(0, 86400)] = Field(
        default=30, description="Seconds a run waits for another run's lock, 0..86400."
    )


class Alerts(_Table):
    """[alerts]: the webhook and the drift threshold of scheduled runs."""

    webhook: str | None = Field(default=None, description="POST alerts to this URL.")
    drift: Annotated[str, ratio('"0.05"')] | None = Field(
        default=None, description="A coverage-ratio fall between runs that raises an alert."
    )
    timeout: Annotated[int, Range(1, 600)] = Field(
        default=10, description="Seconds per webhook request, 1..600."
    )
    retries: Annotated[int, Range(0, 20)] = Field(
        default=3, description="Retries of a failed webhook post, 0..20."
    )
    format: Annotated[AlertFormat, OneOf()] = Field(
        default="generic", description="The payload: generic (por-alert-v1), alertmanager or slack."
    )


class Stress(_Table):
    """[stress]: incident scenarios every stored run evaluates (docs/stress.md, "Scheduled")."""

    scenarios: Annotated[str, line(1000)] = Field(
        description="The scenario file (relative to this file), evaluated against each stored "
        "run's report and reserve statement."
    )
    sweep: bool = Field(
        default=False,
        description="Also rank each wallet's and vendor's largest loss absorbed in full; "
        "the run's stress summary names the weakest.",
    )
    alert: bool = Field(
        default=True,
        description="Alert when a scenario stops making every customer whole (stress) or "
        "the file cannot be evaluated (stress_error).",
    )


class EpochBlock(_Table):
    """The block an epoch's signatures name on one chain: they were made at or after it."""

    height: Annotated[int, Range(0, TOML_INT_MAX)] = Field(description="The block's height.")
    hash: BlockHash = Field(description="The block's hash: 64 hex digits (0x optional).")


class Epoch(_Table):
    """[[ownership.epochs]]: one signing round, whose signatures later runs reuse."""

    id: Annotated[
        str,
        Pattern(
            EPOCH_ID,
            "must be an epoch id: 1 to 64 letters, digits and . _ : + - (starting with a "
            "letter or digit)",
        ),
    ] = Field(description="The epoch's id (e.g. 2026-q4), named by proofs.")
    expires: UtcTime | None = Field(
        default=None, description="UTC time after which its signatures count no more (signed)."
    )
    bitcoin: EpochBlock | None = Field(default=None, description="The epoch's Bitcoin block.")
    ethereum: EpochBlock | None = Field(default=None, description="The epoch's Ethereum block.")

    @model_validator(mode="after")
    def _a_block(self) -> Epoch:
        if not _given(self, "bitcoin", "ethereum"):
            raise problem("name the epoch's block on at least one chain", field="bitcoin")
        return self


class MaxAgeBlocks(_Table):
    """The most blocks between an epoch block and the pinned block, per chain."""

    bitcoin: Annotated[int, Range(1, MAX_AGE_BLOCKS)] | None = Field(
        default=None, description="Bitcoin blocks."
    )
    ethereum: Annotated[int, Range(1, MAX_AGE_BLOCKS)] | None = Field(
        default=None, description="Ethereum blocks."
    )


class Ownership(_Table):
    """[ownership]: the epochs proofs may name, and how old a proof may be."""

    max_age_days: Annotated[int, Range(1, MAX_AGE_DAYS)] | None = Field(
        default=None, description="The oldest epoch a proof may sign, in days, 1..3660."
    )
    max_age_blocks: MaxAgeBlocks = Field(
        default_factory=MaxAgeBlocks, description="The oldest epoch, in blocks per chain."
    )
    epochs: list[Epoch] = Field(default_factory=list, description="The signing rounds.")


# ----------------------------------------------------------------------------- [vendors]


def _a_date(value: object) -> object:
    # a TOML date (2026-01-15), not a date-time: a notice is given on a day
    if not isinstance(value, date) or isinstance(value, datetime):
        raise problem("must be a TOML date such as 2026-01-15 (unquoted)", shown=value)
    return value


class Vendor(_Table):
    """[vendors.<id>]: a supplier of wallet software, custody, signing or key storage that
    wallets name by id (`vendor = "<id>"`)."""

    name: Annotated[str, line(200)] = Field(description="The vendor's name, as reports show it.")
    kind: Annotated[VendorKind, OneOf()] = Field(
        description="wallet-software, custody, signing, mpc, hsm or other."
    )
    notified: Annotated[date, BeforeValidator(_a_date)] | None = Field(
        default=None,
        description="The date the vendor was notified to the regulator (a TOML date); "
        "absent: not notified.",
    )
    registered: bool = Field(default=False, description="Registered with the regulator.")
    jurisdiction: Annotated[str, line(100)] | None = Field(
        default=None, description="Where the vendor is established, e.g. JP."
    )


# ----------------------------------------------------------------------------- the file


class PorToml(_Table):
    """por.toml: the exchange, its nodes and wallets, and the inputs of a reconciliation."""

    model_config = ConfigDict(title="por.toml")

    exchange: Exchange = Field(description="Who attests.")
    bitcoin: Bitcoin | None = Field(default=None, description="The Bitcoin node and wallets.")
    ethereum: Ethereum | None = Field(
        default=None, description="The Ethereum node, tokens and wallets."
    )
    liabilities: Liabilities = Field(default_factory=Liabilities)
    prices: Prices = Field(default_factory=Prices)
    reserve: Reserve = Field(default_factory=Reserve)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    attest: Attest = Field(default_factory=Attest)
    snapshot: Snapshot = Field(default_factory=Snapshot)
    database: Database = Field(default_factory=Database)
    alerts: Alerts = Field(default_factory=Alerts)
    stress: Stress | None = Field(
        default=None, description="Incident scenarios evaluated by every stored run."
    )
    ownership: Ownership = Field(default_factory=Ownership)
    vendors: dict[VendorRef, Vendor] = Field(
        default_factory=dict, description="Wallet vendors, by the id wallets name."
    )

    @model_validator(mode="after")
    def _a_chain(self) -> PorToml:
        if self.bitcoin is None and self.ethereum is None:
            raise problem("configure at least one of [bitcoin] and [ethereum]")
        return self


def json_schema() -> dict[str, Any]:
    """The JSON Schema of por.toml (draft 2020-12), as published in docs/spec/schemas."""
    generated = _no_null(PorToml.model_json_schema(by_alias=True))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **generated,
    }


def _no_null(node: Any) -> Any:
    """TOML has no null: an optional key is one left out, so `anyOf [X, null]` is X and a
    default of null is no default."""
    if isinstance(node, list):
        return [_no_null(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _no_null(v) for k, v in node.items() if not (k == "default" and v is None)}
    options = out.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options:
        rest = [o for o in options if o != {"type": "null"}]
        del out["anyOf"]
        if len(rest) == 1:
            out = {**rest[0], **out}
        else:
            out["anyOf"] = rest
    return out
