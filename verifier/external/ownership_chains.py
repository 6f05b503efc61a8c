"""The chain of an ownership row, from its coin name and address shape, and its signature check.

Where it sits: used by the ownership layouts (`verifier/external/ownership_htx.py`,
`ownership_okx.py`). Publishers name coins and tokens as they please (``USDT-TRC20``,
``USDT-SOL``, ``WBTC-ERC20``, ``HT-ETH``, ``stETH``): `chain_of` decides the chain from
tables that are easy to extend, and `check_on_chain` checks a row's signature with the chain's
verifier (Bitcoin in `chains/btc_*`, TRON, Solana, Algorand, Dogecoin and Litecoin in
`chains/tron_signatures.py`, `chains/ed25519_signatures.py`, `chains/altcoin_messages.py`).
EVM rows are checked by each layout, since each publisher signs another EVM digest. Pure.

The decision, in order:
  1. the coin's network suffix (``USDT-TRC20`` → TRC20 → tron), when `NETWORKS` knows it;
  2. the coin itself as a chain's native coin (``BTC``, ``TRX``), when the address has one of
     that chain's shapes;
  3. the address shape alone (``0x`` + 40 hex → an EVM chain, ``T…`` → tron, …);
  4. otherwise no chain: the row is reported unsupported.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from chains.altcoin_messages import verify_dogecoin, verify_litecoin
from chains.btc_address import AddressType
from chains.btc_bip137 import check_bip137
from chains.btc_multisig import check_p2wsh_multisig
from chains.btc_proof_checks import decode_address, hash160
from chains.ed25519_signatures import verify_algorand, verify_solana
from chains.tron_signatures import verify_tron
from verifier.base.errors import InvalidProof, PorError
from verifier.external.ownership_rows import Failed, Proven, Unsupported, run

_B58 = "[1-9A-HJ-NP-Za-km-z]"
_BECH32 = "[02-9ac-hj-np-z]"


@dataclass(frozen=True, slots=True)
class Chain:
    """A chain: its name as reported, the family of its signatures, its address shapes."""

    name: str
    family: str
    """"evm", "bitcoin", "tron", "solana", "algorand", "dogecoin", "litecoin", or a chain
    with no verifier here ("xrp", …)."""
    shapes: tuple[re.Pattern[str], ...]

    def fits(self, address: str) -> bool:
        return any(shape.fullmatch(address) for shape in self.shapes)


def _shapes(*patterns: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


_EVM = _shapes(r"0x[0-9a-fA-F]{40}")


def _evm(name: str) -> Chain:
    return Chain(name, "evm", _EVM)


BITCOIN = Chain(
    "bitcoin",
    "bitcoin",
    _shapes(
        rf"(bc1|tb1|bcrt1){_BECH32}{{8,87}}", r"(BC1|TB1|BCRT1)[02-9AC-HJ-NP-Z]{8,87}",
        rf"[13mn2]{_B58}{{25,34}}",
    ),
)  # fmt: skip
TRON = Chain("tron", "tron", _shapes(rf"T{_B58}{{33}}"))
SOLANA = Chain("solana", "solana", _shapes(rf"{_B58}{{32,44}}"))
ALGORAND = Chain("algorand", "algorand", _shapes(r"[A-Z2-7]{58}"))
DOGECOIN = Chain("dogecoin", "dogecoin", _shapes(rf"[DA9]{_B58}{{25,34}}"))
LITECOIN = Chain(
    "litecoin", "litecoin", _shapes(rf"[LM3]{_B58}{{25,34}}", rf"ltc1{_BECH32}{{8,87}}")
)
XRP = Chain("xrp", "xrp", _shapes(r"r[1-9A-HJ-NP-Za-km-z]{24,34}"))
ETHEREUM = _evm("ethereum")
EVM_UNNAMED = _evm("evm")
"""An EVM address under a coin that names no chain (``stETH``, ``HT``): which EVM chain the
file means is not stated, the signature scheme is the same on all."""

NETWORKS: dict[str, Chain] = {
    **dict.fromkeys(("BTC", "BITCOIN"), BITCOIN),
    **dict.fromkeys(("ETH", "ERC20", "ETHEREUM"), ETHEREUM),
    **dict.fromkeys(("TRX", "TRC20", "TRON"), TRON),
    **dict.fromkeys(("SOL", "SOLANA", "SPL"), SOLANA),
    **dict.fromkeys(("ALGO", "ALGORAND", "ASA"), ALGORAND),
    **dict.fromkeys(("DOGE", "DOGECOIN"), DOGECOIN),
    **dict.fromkeys(("LTC", "LITECOIN"), LITECOIN),
    **dict.fromkeys(("XRP", "RIPPLE"), XRP),
    **dict.fromkeys(("BSC", "BEP20", "BNB SMART CHAIN"), _evm("bsc")),
    **dict.fromkeys(("HECO", "HRC20"), _evm("heco")),
    **dict.fromkeys(("ARBITRUM", "ARBITRUM ONE", "ARB"), _evm("arbitrum")),
    **dict.fromkeys(("OPTIMISM", "OP"), _evm("optimism")),
    **dict.fromkeys(("AVALANCHE C-CHAIN", "AVAXC", "AVAX-C", "AVAX C-CHAIN"), _evm("avalanche-c")),
    **dict.fromkeys(("POLYGON", "MATIC", "POLY"), _evm("polygon")),
    **dict.fromkeys(("BTTC",), _evm("bttc")),
    **dict.fromkeys(("OKC", "OKTC"), _evm("okc")),
    **dict.fromkeys(("BASE",), _evm("base")),
    **dict.fromkeys(("LINEA",), _evm("linea")),
    **dict.fromkeys(("ZKSYNC", "ZKSYNC ERA"), _evm("zksync")),
    **dict.fromkeys(("MANTLE",), _evm("mantle")),
    **dict.fromkeys(("SCROLL",), _evm("scroll")),
    **dict.fromkeys(("FTM", "FANTOM"), _evm("fantom")),
    **dict.fromkeys(("CRONOS",), _evm("cronos")),
    **dict.fromkeys(("X LAYER", "XLAYER"), _evm("xlayer")),
    **dict.fromkeys(("ETHW",), _evm("ethw")),
    **dict.fromkeys(("ETF",), _evm("etf")),
}  # fmt: skip
"""Network names (upper case) as a coin's suffix (``USDT-TRC20``) or a network column."""

NATIVE: dict[str, Chain] = {
    "BTC": BITCOIN, "ETH": ETHEREUM, "TRX": TRON, "SOL": SOLANA, "ALGO": ALGORAND,
    "DOGE": DOGECOIN, "LTC": LITECOIN, "XRP": XRP, "BNB": NETWORKS["BSC"],
    "HT": NETWORKS["HECO"],
}  # fmt: skip
"""Coins that are a chain's own coin: the chain, when the address has its shape."""

BY_SHAPE: tuple[Chain, ...] = (EVM_UNNAMED, TRON, BITCOIN, DOGECOIN, LITECOIN, ALGORAND, XRP)
"""Rule 3, in order (Solana's shape is any base58 key, too wide to decide on alone)."""


def chain_of(coin: str, address: str, network: str = "") -> Chain | None:
    """The chain of a row: `network` (a column) or the coin's suffix, the native coin, the shape.

    >>> chain_of("USDT-TRC20", "TK86Qm97uM848dMk8G7xNbJB7zG1uW3h1n").name
    'tron'
    >>> chain_of("BTC", "143gLvWYUojXaWZRrxquRKpVNTkhmr415B").name
    'bitcoin'
    """
    address = address.strip()
    named = network.strip().upper()
    if not named and "-" in coin:
        named = coin.split("-", 1)[1].strip().upper()
    if named in NETWORKS:
        return NETWORKS[named]
    native = NATIVE.get(coin.strip().upper())
    if native is not None and native.fits(address):
        return native
    return next((chain for chain in BY_SHAPE if chain.fits(address)), None)


# ----------------------------------------------------------------------------- checks

_VERIFIERS: dict[str, Callable[[str, str, str], str]] = {
    "tron": verify_tron,
    "solana": verify_solana,
    "algorand": verify_algorand,
    "dogecoin": verify_dogecoin,
    "litecoin": verify_litecoin,
}
"""Chains whose verifier takes (address, message, signature) and returns the variant."""


def check_on_chain(chain: Chain, address: str, message: str, signatures: Sequence[str]) -> Proven:
    """Check a non-EVM row's signature(s) with its chain's verifier.

    Raises
    ------
    Failed
        The signature does not verify (the check and the reason).
    Unsupported
        The chain has no verifier here (reported, never failed).
    """
    if chain.family == "bitcoin":
        return check_bitcoin(address, signatures, message, "")
    verify = _VERIFIERS.get(chain.family)
    if verify is None:
        raise Unsupported(f"{chain.name} signatures are not supported by this tool")
    scheme = f"{chain.family}-message"
    if len(signatures) != 1:
        raise Failed(scheme, f"{len(signatures)} signatures for a single-key address")
    try:
        variant = verify(address, message, signatures[0])
    except InvalidProof as exc:
        raise Failed(scheme, exc.message, check=exc.check) from None
    except PorError as exc:  # pragma: no cover - the verifiers raise InvalidProof only
        raise Failed(scheme, exc.message) from None
    return Proven(scheme, f"{chain.name} signature over {message!r} ({variant})", variant)


def _bitcoin_network(address: str) -> str:
    lowered = address.lower()
    if lowered.startswith("bcrt1"):
        return "regtest"
    if lowered.startswith("tb1") or address[:1] in ("m", "n", "2"):
        return "test"
    return "main"


def check_bitcoin(
    address: str,
    signatures: Sequence[str],
    message: str,
    script: str,
    *,
    legacy_p2sh: bool = False,
) -> Proven:
    """BIP-137 for a single-key address; a witness script and one signature per cosigner for
    P2WSH (or P2SH with a script: P2SH-P2WSH, or with `legacy_p2sh` plain P2SH of the redeem
    script, OKX's rule, reported as scheme ``p2sh-multisig``)."""
    network = _bitcoin_network(address)
    try:
        decoded = decode_address(address, network)
    except InvalidProof as exc:
        raise Failed("bip137", exc.message, check=exc.check) from None
    kind = decoded.type
    if kind is AddressType.P2SH and legacy_p2sh and script:
        # OKX's verifier derives a 3… address as plain P2SH of the redeem script; a nested
        # P2SH-P2WSH multisig address binds its script just as well, so when the script is
        # not the plain redeem script it is checked as P2SH-P2WSH (the scheme says which)
        legacy_p2sh = _is_plain_p2sh(decoded.payload, script)
    if kind in (AddressType.P2WSH,) or (kind is AddressType.P2SH and script):
        scheme = "p2sh-multisig" if kind is AddressType.P2SH and legacy_p2sh else "p2wsh-multisig"
        if kind is AddressType.P2SH and not legacy_p2sh:
            scheme = "p2sh-p2wsh-multisig"
        if not script:
            raise Failed(scheme, "no signature: the row carries no witness script")
        return run(
            scheme,
            lambda: check_p2wsh_multisig(
                address, script, signatures, network, message, legacy_p2sh=legacy_p2sh
            ),
        )
    if kind in (AddressType.P2PKH, AddressType.P2SH, AddressType.P2WPKH):
        if len(signatures) != 1:
            raise Failed("bip137", f"{len(signatures)} signatures for a single-key address")
        return run("bip137", lambda: check_bip137(address, signatures[0], network, message))
    raise Unsupported(f"{kind} addresses are not supported by signed messages (BIP-137)")


def _is_plain_p2sh(payload: bytes, script: str) -> bool:
    """Whether `script` (hex) is the plain P2SH redeem script of an address with `payload`."""
    try:
        return hash160(bytes.fromhex(script)) == payload
    except ValueError:
        return True  # not hex: the script check names it under OKX's rule
