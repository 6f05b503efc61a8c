"""Bitcoin wallet specs -> what to scan: plain addresses, HD account keys, multisig scripts.

Where it sits: in `chains/`, between the wallet entries of the reserve config and the Bitcoin
adapters (Core `scantxoutset`, Esplora, bcoin). It is pure — no network, no files: it turns
a wallet spec into the addresses, output scripts and output descriptors an adapter reads,
and it walks an HD chain up to its gap limit with a callback the adapter supplies.

Three kinds of wallet, each a frozen value that validates itself on construction (a bad
address, extended key, public key or threshold raises `InputError` naming the field):

- `AddressWallet`: a list of addresses, checked against the network's prefixes.
- `XpubWallet`: an account-level extended public key (xpub/ypub/zpub on mainnet,
  tpub/upub/vpub on the test networks; SLIP-132) and its script type; receive addresses are
  `0/i` and change addresses `1/i` below it (BIP-44/49/84), and `descriptor(change)` gives
  the equivalent ranged output descriptor for Core (`wpkh(tpub.../0/*)#checksum`).
- `MultisigWallet`: m-of-n over compressed public keys, P2WSH or P2SH-P2WSH (BIP-141),
  `sortedmulti` (BIP-67 key order) or `multi` (the order given); it gives the address and
  the witness script, which ownership checks need.

Invariants:
  1. Every address this module hands out is encoded for the wallet's network (regtest
     bech32 uses the "bcrt" prefix, as Bitcoin Core does) and comes with its output script.
  2. Gap-limit discovery (`GapLimitScan`, `discover`) stops only after `gap_limit`
     consecutive indexes past the last used one were all checked and found unused.

It stays one module: the three wallet kinds and the gap-limit walk share the network
tables and the script and key helpers at the top, and the adapters use them together
(`Wallet`, `fixed_addresses`, `discover`).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field

from embit import base58, bip32, ec
from embit import script as escript
from embit.descriptor.checksum import add_checksum
from embit.networks import NETWORKS as EMBIT_NETWORKS

from chains.btc_address import AddressError, decode_address
from verifier.base.errors import InputError

BITCOIN_NETWORKS = ("main", "test", "testnet4", "signet", "regtest")
"""Network names as Bitcoin Core's `getblockchaininfo.chain` gives them."""

_EMBIT_NETWORK = {
    "main": "main",
    "test": "test",
    "testnet4": "test",
    "signet": "signet",
    "regtest": "regtest",
}
MAX_GAP_LIMIT = 1000
MAX_MULTISIG_KEYS = 15
"""P2SH-P2WSH and P2WSH multisig stay standard up to 15 keys with `OP_CHECKMULTISIG`."""

_PATH = re.compile(r"m(/[0-9]+['h]?)*")


class ScriptType(enum.StrEnum):
    """How an output script is built from a key (or from a multisig script)."""

    P2PKH = "p2pkh"
    """Legacy pay-to-pubkey-hash (BIP-44 accounts)."""
    P2SH_P2WPKH = "p2sh-p2wpkh"
    """Segwit v0 key hash nested in P2SH (BIP-49 accounts)."""
    P2WPKH = "p2wpkh"
    """Native segwit v0 key hash (BIP-84 accounts)."""
    P2WSH = "p2wsh"
    """Native segwit v0 script hash (multisig)."""
    P2SH_P2WSH = "p2sh-p2wsh"
    """Segwit v0 script hash nested in P2SH (multisig)."""


SINGLE_KEY_TYPES = (ScriptType.P2PKH, ScriptType.P2SH_P2WPKH, ScriptType.P2WPKH)
MULTISIG_TYPES = (ScriptType.P2WSH, ScriptType.P2SH_P2WSH)


# --------------------------------------------------------------------------- addresses


def _params(network: str, key: str = "network") -> dict[str, object]:
    if network not in _EMBIT_NETWORK:
        raise InputError(f"unknown Bitcoin network; use one of {BITCOIN_NETWORKS}", key=key)
    params: dict[str, object] = EMBIT_NETWORKS[_EMBIT_NETWORK[network]]
    return params


def script_pubkey(address: str, network: str, *, key: str = "address") -> bytes:
    """The output script an address stands for, checked against the network's prefixes.

    Parameters
    ----------
    address
        A base58check (P2PKH, P2SH) or bech32/bech32m (segwit v0, v1+) address.
    network
        One of `BITCOIN_NETWORKS`.
    key
        What to name in the error (e.g. "cold.addresses[2]").

    Returns
    -------
    bytes
        The scriptPubKey.

    Raises
    ------
    InputError
        Not an address, a bad checksum, or an address of another network.
    """
    _params(network)
    if not isinstance(address, str) or not address:
        raise InputError("an address must be a non-empty string", key=key)
    try:
        return decode_address(address, network).script_pubkey()
    except AddressError as exc:
        raise InputError(f"address {exc.reason}", key=key, value=address) from None


def address_of(script: bytes, network: str) -> str:
    """The address of an output script on `network` (inverse of `script_pubkey`).

    Parameters
    ----------
    script
        An output script (P2PKH, P2SH, or a segwit program).
    network
        One of `BITCOIN_NETWORKS`.

    Returns
    -------
    str
        The address (bech32 in lowercase).

    Raises
    ------
    InputError
        A script with no address form (bare multisig, OP_RETURN, ...).
    """
    try:
        return str(escript.Script(script).address(_params(network)))
    except ValueError:
        raise InputError("this output script has no address form", value=script.hex()) from None


@dataclass(frozen=True, slots=True)
class WatchedAddress:
    """One address a wallet owns: what an adapter reads and an ownership check verifies."""

    address: str
    """The address, encoded for the wallet's network."""
    script_pubkey: str
    """Its output script, lowercase hex (adapters match node replies on this, not on text)."""
    wallet: str
    """The wallet's name."""
    path: str | None = None
    """HD wallets: the derivation path, e.g. "m/84'/1'/0'/0/5" (or "0/5" with no account path)."""
    witness_script: str | None = None
    """P2WSH/P2SH-P2WSH: the witness script (BIP-141), lowercase hex."""
    redeem_script: str | None = None
    """P2SH-wrapped types: the redeem script, lowercase hex."""


def watch_addresses(addresses: Iterable[str], network: str) -> list[WatchedAddress]:
    """Addresses as an adapter reads them: checked, with their scripts, duplicates dropped.

    Parameters
    ----------
    addresses
        Addresses of `network`, in the order balances should come back.
    network
        One of `BITCOIN_NETWORKS`.

    Returns
    -------
    list[WatchedAddress]
        One per distinct address (a repeat of the same text is dropped).

    Raises
    ------
    InputError
        An invalid address, or two different texts for the same output script.
    """
    watched: list[WatchedAddress] = []
    seen: dict[str, str] = {}
    for n, address in enumerate(addresses):
        spk = script_pubkey(address, network, key=f"addresses[{n}]").hex()
        if spk in seen:
            if seen[spk] == address:
                continue
            raise InputError(
                f"the same output script as {seen[spk]}", key=f"addresses[{n}]", value=address
            )
        seen[spk] = address
        watched.append(WatchedAddress(address, spk, ""))
    return watched


# --------------------------------------------------------------------------- plain addresses


@dataclass(frozen=True, slots=True)
class AddressWallet:
    """A fixed list of addresses."""

    name: str
    network: str
    addresses: tuple[str, ...]
    watched: tuple[WatchedAddress, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _params(self.network, f"{self.name}.network")
        if not self.addresses:
            raise InputError("give at least one address", key=f"{self.name}.addresses")
        seen: set[bytes] = set()
        watched = []
        for n, address in enumerate(self.addresses):
            spk = script_pubkey(address, self.network, key=f"{self.name}.addresses[{n}]")
            if spk in seen:
                raise InputError(
                    "address listed twice", key=f"{self.name}.addresses[{n}]", value=address
                )
            seen.add(spk)
            watched.append(WatchedAddress(address, spk.hex(), self.name))
        object.__setattr__(self, "watched", tuple(watched))


# --------------------------------------------------------------------------- HD accounts

# SLIP-132 version bytes -> (network family, script type implied or None for xpub/tpub)
_PUB_VERSIONS: dict[bytes, tuple[str, ScriptType | None]] = {
    bytes.fromhex("0488b21e"): ("main", None),  # xpub
    bytes.fromhex("049d7cb2"): ("main", ScriptType.P2SH_P2WPKH),  # ypub
    bytes.fromhex("04b24746"): ("main", ScriptType.P2WPKH),  # zpub
    bytes.fromhex("043587cf"): ("test", None),  # tpub
    bytes.fromhex("044a5262"): ("test", ScriptType.P2SH_P2WPKH),  # upub
    bytes.fromhex("045f1cf6"): ("test", ScriptType.P2WPKH),  # vpub
}
_PRV_VERSIONS = {
    bytes.fromhex(v)
    for v in ("0488ade4", "049d7878", "04b2430c", "04358394", "044a4e28", "045f18bc")
}


def _family(network: str) -> str:
    return "main" if network == "main" else "test"


def _single_key_script(script_type: ScriptType, key: ec.PublicKey) -> tuple[bytes, bytes | None]:
    """(scriptPubKey, redeem script or None) for one public key."""
    if script_type is ScriptType.P2PKH:
        return escript.p2pkh(key).data, None
    if script_type is ScriptType.P2WPKH:
        return escript.p2wpkh(key).data, None
    inner = escript.p2wpkh(key)
    return escript.p2sh(inner).data, inner.data


@dataclass(frozen=True, slots=True)
class XpubWallet:
    """An HD account: an extended public key, its script type and its gap limit.

    Receive addresses are `<key>/0/i`, change addresses `<key>/1/i` (BIP-44 "change" level).
    """

    name: str
    network: str
    xpub: str
    """Account-level extended public key (BIP-32), in any SLIP-132 encoding of the network."""
    script_type: ScriptType | None = None
    """p2pkh (BIP-44), p2sh-p2wpkh (BIP-49) or p2wpkh (BIP-84); None = implied by ypub/zpub."""
    account_path: str = ""
    """Path of the account key from the master, e.g. "m/84'/1'/0'": for the record only."""
    gap_limit: int = 20
    """Stop after this many consecutive unused addresses (BIP-44 "address gap limit")."""
    key: bip32.HDKey = field(init=False, repr=False, compare=False)
    kind: ScriptType = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        where = f"{self.name}.xpub"
        _params(self.network, f"{self.name}.network")
        shown = self.xpub if isinstance(self.xpub, str) else repr(self.xpub)
        try:
            raw = base58.decode_check(self.xpub)
        except Exception:
            raise InputError("not a base58check extended key", key=where, value=shown) from None
        if len(raw) != 78:
            raise InputError("an extended key is 78 bytes", key=where, value=shown)
        version = raw[:4]
        if version in _PRV_VERSIONS:
            # never echo a private key into logs or error messages
            raise InputError("this is an extended PRIVATE key; give the public key", key=where)
        if version not in _PUB_VERSIONS:
            raise InputError("unknown extended public key version", key=where, value=shown)
        family, implied = _PUB_VERSIONS[version]
        if family != _family(self.network):
            raise InputError(
                f"extended key is for {'mainnet' if family == 'main' else 'a test network'}, "
                f"the wallet is on {self.network}",
                key=where,
                value=shown,
            )
        try:
            key = bip32.HDKey.parse(raw)
        except Exception as exc:
            raise InputError(f"invalid extended key ({exc})", key=where, value=shown) from None
        given = self.script_type
        if given is not None and not isinstance(given, ScriptType):
            try:
                given = ScriptType(given)
            except ValueError:
                raise InputError(
                    f"must be one of {', '.join(t.value for t in SINGLE_KEY_TYPES)}",
                    key=f"{self.name}.script_type",
                    value=str(given),
                ) from None
        if given is not None and given not in SINGLE_KEY_TYPES:
            raise InputError(
                "an extended key wallet is p2pkh, p2sh-p2wpkh or p2wpkh",
                key=f"{self.name}.script_type",
                value=given.value,
            )
        if given is not None and implied is not None and given is not implied:
            raise InputError(
                f"the key's SLIP-132 prefix means {implied.value}, not {given.value}",
                key=f"{self.name}.script_type",
                value=given.value,
            )
        kind = given or implied
        if kind is None:
            raise InputError(
                "give the script type (p2pkh, p2sh-p2wpkh or p2wpkh) for an xpub/tpub key",
                key=f"{self.name}.script_type",
            )
        if self.account_path:
            if not _PATH.fullmatch(self.account_path):
                raise InputError(
                    "not a derivation path like m/84'/0'/0'",
                    key=f"{self.name}.account_path",
                    value=self.account_path,
                )
            depth = self.account_path.count("/")
            if depth != key.depth:
                raise InputError(
                    f"the path has depth {depth} but the key has depth {key.depth}",
                    key=f"{self.name}.account_path",
                    value=self.account_path,
                )
        gap = self.gap_limit
        if not isinstance(gap, int) or isinstance(gap, bool) or not 1 <= gap <= MAX_GAP_LIMIT:
            raise InputError(
                f"must be 1..{MAX_GAP_LIMIT}", key=f"{self.name}.gap_limit", value=str(gap)
            )
        object.__setattr__(self, "script_type", kind)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "key", key)

    def derive(self, change: int, index: int) -> WatchedAddress:
        """The address at `change/index` below the account key.

        Parameters
        ----------
        change
            0 for receive addresses, 1 for change addresses.
        index
            Non-hardened child index, 0 <= index < 2**31.

        Returns
        -------
        WatchedAddress
            The address, its output script and its path.
        """
        return self.derive_range(change, index, index + 1)[0]

    def derive_range(self, change: int, start: int, stop: int) -> tuple[WatchedAddress, ...]:
        """The addresses at `change/start` .. `change/(stop - 1)`.

        Parameters
        ----------
        change
            0 (receive) or 1 (change).
        start, stop
            Half-open index range, within 0 .. 2**31.

        Returns
        -------
        tuple[WatchedAddress, ...]
            One per index, in index order.
        """
        if change not in (0, 1):
            raise InputError("change must be 0 (receive) or 1 (change)", value=str(change))
        if not 0 <= start <= stop <= 2**31:
            raise InputError(f"index range {start}..{stop} is outside 0..2**31")
        branch = self.key.child(change)
        params = _params(self.network)
        out = []
        for index in range(start, stop):
            child = branch.child(index).key
            spk, redeem = _single_key_script(self.kind, child)
            relative = f"{change}/{index}"
            out.append(
                WatchedAddress(
                    address=str(escript.Script(spk).address(params)),
                    script_pubkey=spk.hex(),
                    wallet=self.name,
                    path=f"{self.account_path}/{relative}" if self.account_path else relative,
                    redeem_script=None if redeem is None else redeem.hex(),
                )
            )
        return tuple(out)

    @property
    def canonical_xpub(self) -> str:
        """The key as xpub (mainnet) or tpub (test networks): the form descriptors accept."""
        version = _params(self.network)["xpub"]
        assert isinstance(version, bytes)
        return str(self.key.to_base58(version=version))

    def descriptor(self, change: int) -> str:
        """The ranged output descriptor for one chain, with its checksum (Core descriptors.md).

        Parameters
        ----------
        change
            0 (receive) or 1 (change).

        Returns
        -------
        str
            e.g. "wpkh(tpubD.../0/*)#abcd1234".
        """
        if change not in (0, 1):
            raise InputError("change must be 0 (receive) or 1 (change)", value=str(change))
        inner = f"{self.canonical_xpub}/{change}/*"
        body = {
            ScriptType.P2PKH: f"pkh({inner})",
            ScriptType.P2SH_P2WPKH: f"sh(wpkh({inner}))",
            ScriptType.P2WPKH: f"wpkh({inner})",
        }[self.kind]
        return str(add_checksum(body))


# --------------------------------------------------------------------------- multisig


@dataclass(frozen=True, slots=True)
class MultisigWallet:
    """An m-of-n multisig address over fixed compressed public keys."""

    name: str
    network: str
    threshold: int
    """m: signatures needed."""
    pubkeys: tuple[str, ...]
    """n compressed SEC public keys, hex (segwit requires compressed keys, BIP-143)."""
    script_type: ScriptType = ScriptType.P2WSH
    """p2wsh or p2sh-p2wsh."""
    sorted_keys: bool = True
    """True: `sortedmulti` (keys in BIP-67 order); False: `multi` (keys in the order given)."""
    witness_script: bytes = field(init=False, repr=False, compare=False)
    watched: WatchedAddress = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _params(self.network, f"{self.name}.network")
        try:
            kind = ScriptType(self.script_type)
        except ValueError:
            kind = None
        if kind not in MULTISIG_TYPES:
            raise InputError(
                "a multisig wallet is p2wsh or p2sh-p2wsh",
                key=f"{self.name}.script_type",
                value=str(self.script_type),
            )
        n = len(self.pubkeys)
        if not 1 <= n <= MAX_MULTISIG_KEYS:
            raise InputError(
                f"give 1..{MAX_MULTISIG_KEYS} public keys, not {n}", key=f"{self.name}.pubkeys"
            )
        m = self.threshold
        if not isinstance(m, int) or isinstance(m, bool) or not 1 <= m <= n:
            raise InputError(
                f"threshold m must be 1..{n} (m > n can never be met)",
                key=f"{self.name}.threshold",
                value=str(m),
            )
        keys = []
        for i, text in enumerate(self.pubkeys):
            where = f"{self.name}.pubkeys[{i}]"
            try:
                sec = bytes.fromhex(text)
            except (TypeError, ValueError):
                raise InputError("not hex", key=where, value=str(text)) from None
            if len(sec) != 33 or sec[0] not in (2, 3):
                raise InputError("not a 33-byte compressed public key", key=where, value=text)
            try:
                keys.append(ec.PublicKey.parse(sec))
            except Exception:
                raise InputError("not a point on secp256k1", key=where, value=text) from None
        if len({k.sec() for k in keys}) != n:
            raise InputError("the same public key is listed twice", key=f"{self.name}.pubkeys")
        if self.sorted_keys:
            keys.sort(key=lambda k: k.sec())
        witness = escript.multisig(m, keys)
        wsh = escript.p2wsh(witness)
        if kind is ScriptType.P2WSH:
            spk, redeem = wsh.data, None
        else:
            spk, redeem = escript.p2sh(wsh).data, wsh.data
        params = _params(self.network)
        object.__setattr__(self, "script_type", kind)
        object.__setattr__(self, "witness_script", witness.data)
        object.__setattr__(
            self,
            "watched",
            WatchedAddress(
                address=str(escript.Script(spk).address(params)),
                script_pubkey=spk.hex(),
                wallet=self.name,
                witness_script=witness.data.hex(),
                redeem_script=None if redeem is None else redeem.hex(),
            ),
        )

    @property
    def address(self) -> str:
        """The multisig address on the wallet's network."""
        return self.watched.address

    @property
    def descriptor(self) -> str:
        """The output descriptor with checksum, e.g. "wsh(sortedmulti(2,02..,03..,02..))#..."."""
        func = "sortedmulti" if self.sorted_keys else "multi"
        inner = f"{func}({self.threshold},{','.join(k.lower() for k in self.pubkeys)})"
        body = f"wsh({inner})" if self.script_type is ScriptType.P2WSH else f"sh(wsh({inner}))"
        return str(add_checksum(body))


Wallet = AddressWallet | XpubWallet | MultisigWallet


def fixed_addresses(wallet: Wallet) -> tuple[WatchedAddress, ...]:
    """The addresses known without discovery: all of a list, the one multisig, none of an xpub.

    Parameters
    ----------
    wallet
        Any wallet.

    Returns
    -------
    tuple[WatchedAddress, ...]
        Empty for an `XpubWallet` (its addresses come from `discover`).
    """
    if isinstance(wallet, AddressWallet):
        return wallet.watched
    if isinstance(wallet, MultisigWallet):
        return (wallet.watched,)
    return ()


def xpub_addresses(
    xpub: str, *, script: str, network: str, count: int, name: str = "wallet"
) -> list[str]:
    """The first `count` receive addresses and the first `count` change addresses of an xpub.

    A fixed expansion for callers that cannot walk the gap limit; adapters that can should
    use their `wallet_holdings`, which discovers used addresses past the first `count`.

    Parameters
    ----------
    xpub
        Account-level extended public key (any SLIP-132 encoding of `network`).
    script
        "p2pkh", "p2sh-p2wpkh" or "p2wpkh".
    network
        One of `BITCOIN_NETWORKS`.
    count
        Addresses per chain (typically the gap limit).
    name
        The wallet's name, for error messages.

    Returns
    -------
    list[str]
        Receive 0/0 .. 0/(count-1), then change 1/0 .. 1/(count-1).
    """
    try:
        kind = ScriptType(script)
    except ValueError:
        raise InputError(
            "must be p2pkh, p2sh-p2wpkh or p2wpkh", key=f"{name}.script", value=script
        ) from None
    wallet = XpubWallet(name, network, xpub, kind, gap_limit=max(1, min(count, MAX_GAP_LIMIT)))
    return [w.address for change in (0, 1) for w in wallet.derive_range(change, 0, count)]


def multisig_address(
    m: int,
    keys: Sequence[str],
    *,
    script: str,
    network: str,
    sort: bool = True,
    name: str = "wallet",
) -> str:
    """The address of an m-of-n multisig over `keys` (see `MultisigWallet`).

    Parameters
    ----------
    m
        Signatures needed.
    keys
        Compressed public keys, hex.
    script
        "p2wsh" or "p2sh-p2wsh".
    network
        One of `BITCOIN_NETWORKS`.
    sort
        True: `sortedmulti` (BIP-67); False: keys in the order given.
    name
        The wallet's name, for error messages.

    Returns
    -------
    str
        The multisig address.
    """
    try:
        kind = ScriptType(script)
    except ValueError:
        raise InputError(
            "must be p2wsh or p2sh-p2wsh", key=f"{name}.script", value=script
        ) from None
    return MultisigWallet(name, network, m, tuple(keys), kind, sort).address


# --------------------------------------------------------------------------- gap limit


class GapLimitScan:
    """Sans-I/O walk of one HD chain (0/i or 1/i) up to its gap limit.

    The caller asks `next_batch()` which indexes to check, checks them (however its node
    can), and reports the used ones with `feed()`; it repeats until `next_batch()` is None.
    Done means: the `gap_limit` indexes after the last used one were all checked and unused.
    """

    def __init__(self, gap_limit: int, batch_size: int | None = None) -> None:
        if not 1 <= gap_limit <= MAX_GAP_LIMIT:
            raise InputError(f"gap limit must be 1..{MAX_GAP_LIMIT}", value=str(gap_limit))
        self.gap_limit = gap_limit
        self.batch_size = batch_size or gap_limit
        if self.batch_size < 1:
            raise InputError("batch size must be positive", value=str(batch_size))
        self._end = 0
        self._last_used = -1
        self._used: list[int] = []
        self._pending: range | None = None

    @property
    def done(self) -> bool:
        """True once `gap_limit` unused indexes follow the last used one."""
        return self._end - (self._last_used + 1) >= self.gap_limit

    @property
    def used(self) -> tuple[int, ...]:
        """Indexes reported used, ascending."""
        return tuple(sorted(self._used))

    @property
    def checked(self) -> int:
        """Indexes 0 .. checked-1 have been checked."""
        return self._end

    def next_batch(self) -> range | None:
        """The next indexes to check.

        Returns
        -------
        range | None
            `batch_size` indexes after those already checked (the same range again until
            `feed` answers it), or None once the walk is done.
        """
        if self._pending is not None:
            return self._pending
        if self.done:
            return None
        self._pending = range(self._end, self._end + self.batch_size)
        return self._pending

    def feed(self, used: Iterable[int]) -> None:
        """Report which indexes of the batch from `next_batch()` have history.

        Parameters
        ----------
        used
            The indexes of that batch found used (any order; the others are unused).
        """
        batch = self._pending
        if batch is None:
            raise RuntimeError("feed() without a batch from next_batch()")
        for index in used:
            if index not in batch:
                raise ValueError(f"index {index} is not in the batch {batch}")
            self._used.append(index)
            self._last_used = max(self._last_used, index)
        self._end = batch.stop
        self._pending = None


@dataclass(frozen=True, slots=True)
class Discovery:
    """What a gap-limit walk found on one chain of one HD wallet."""

    change: int
    used: tuple[WatchedAddress, ...]
    """Addresses with history, in index order."""
    checked: int
    """Indexes 0 .. checked-1 were checked."""


HasHistory = Callable[[tuple[WatchedAddress, ...]], Awaitable[Collection[str]]]
"""Given a batch of addresses, return the subset (by address) that has any history."""


async def discover(
    wallet: XpubWallet, change: int, has_history: HasHistory, *, batch_size: int | None = None
) -> Discovery:
    """Walk one chain of an HD wallet to its gap limit, asking `has_history` batch by batch.

    Pure apart from the callback: the adapter decides what "history" means (any transaction
    for an address-history backend; a UTXO for a UTXO-set scan) and how to batch requests.

    Parameters
    ----------
    wallet
        The HD wallet; its `gap_limit` applies.
    change
        0 (receive) or 1 (change).
    has_history
        Async callback: a batch of addresses -> those among them that have been used.
    batch_size
        Addresses per callback (default: the gap limit).

    Returns
    -------
    Discovery
        The used addresses and how far the walk checked.
    """
    scan = GapLimitScan(wallet.gap_limit, batch_size)
    found: list[WatchedAddress] = []
    while (batch := scan.next_batch()) is not None:
        watched = wallet.derive_range(change, batch.start, batch.stop)
        used = set(await has_history(watched))
        hits = [w for w in watched if w.address in used]
        found.extend(hits)
        scan.feed(batch.start + watched.index(w) for w in hits)
    return Discovery(change, tuple(found), scan.checked)
