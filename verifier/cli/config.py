"""`por config check` and `por config schema`: check a por.toml offline, publish its schema.

Where it sits: before the first run. `check_config` lists EVERY problem of a config at once
(not the first, as `load_config` raises): the schema's (verifier/inputs/config_schema.py), the
checks beyond it (verifier/inputs/config.py: a wallet listed twice, epoch references, URLs), the
files it names (each read by its own checker: verifier/inputs/file_schemas.py for prices, reserve
statement, assets and pack; the root document; the signing key's form and mode; node URL
and password files), and what can be checked without a node: every address, xpub and
multisig key for its network, EIP-55 checksums, and that every signature decodes (base64 or
hex, of the right length) — not that it verifies, which needs the pinned block. Every value
`por init` left as a placeholder ("REPLACE: …", in por.toml and the TOML files it names; the
example rows of its liabilities.csv) is named by its key as "placeholder not filled in",
instead of whatever else that value's check would say.

No secret is ever shown: URLs are masked, files holding a URL or password are checked
without quoting their content, a private key is never echoed.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from chains.base import Chain
from verifier.base import safetoml
from verifier.base.console import plural
from verifier.base.errors import EXIT_INVALID, EXIT_OK, InputError, PorError, UsageError
from verifier.base.redact import mask_text
from verifier.inputs.config import (
    BitcoinConfig,
    EthereumConfig,
    TokenConfig,
    WalletConfig,
    config_problems,
    unknown_key_help,
)

FORMAT = "por-config-check-v1"
SCHEMA_FILE = Path("docs/spec/schemas/por-config.schema.json")
"""Where the published schema lives in the repository."""
_MAX_LINE_SCAN_BYTES = 4 << 20
"""Line numbers are looked up in TOML files up to this size (the config, prices, ...)."""
PLACEHOLDER = "REPLACE:"
"""How `por init`'s templates mark every value to fill in (verifier/inputs/templates)."""
EXAMPLE_ACCOUNT = "REPLACE-"
"""The example rows of `por init`'s liabilities.csv start with this account id."""
_MAX_EXAMPLE_SCAN_BYTES = 64 << 10
"""The example rows are looked for in the first 64 KiB of the liabilities file."""


@dataclass(frozen=True)
class Problem:
    """One problem: where (file, key, line), what, the value (masked) and a suggestion."""

    file: str | None
    key: str | None
    message: str
    value: str | None = None
    line: int | None = None
    suggestion: str | None = None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"file": self.file, "key": self.key, "message": self.message}
        for name in ("line", "value", "suggestion"):
            if getattr(self, name) is not None:
                doc[name] = getattr(self, name)
        return doc

    def text(self) -> str:
        where = self.file or "?"
        if self.line is not None:
            where += f":{self.line}"
        if self.key:
            where += f": {self.key}"
        out = f"{where}: {self.message}"
        if self.value is not None:
            out += f" ({self.value!r})"
        if self.suggestion is not None:
            out += f" — did you mean {self.suggestion!r}?"
        return out


def bare_message(exc: InputError) -> str:
    """An InputError's message without the "file: line N: key 'k': " prefix and the
    ": 'value'" suffix its constructor adds."""
    text = exc.message
    where = []
    if exc.file is not None:
        where.append(str(exc.file))
    if exc.line is not None:
        where.append(f"line {exc.line}")
    if exc.key is not None:
        where.append(f"key {exc.key!r}")
    prefix = ": ".join(where) + ": " if where else ""
    text = text.removeprefix(prefix)
    if exc.value is not None:
        shown = exc.value if len(exc.value) <= 80 else exc.value[:77] + "..."
        text = text.removesuffix(f": {shown!r}")
    return text


def _problem(exc: PorError, *, key: str | None = None, suggestion: str | None = None) -> Problem:
    if isinstance(exc, InputError):
        value = None if exc.value is None else mask_text(exc.value)
        return Problem(
            exc.file, key or exc.key, mask_text(bare_message(exc)), value, exc.line, suggestion
        )
    return Problem(None, key, mask_text(exc.message))


# ----------------------------------------------------------------------------- line numbers


_HEADER = re.compile(r"\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(
    r"""\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*="""
)
_INLINE_KEY = re.compile(r"""[{,]\s*([A-Za-z0-9_-]+|"[^"]*")\s*=""")


def _parts(dotted: str) -> list[str]:
    return [
        p.strip().strip("\"'")
        for p in re.split(r"\.(?=(?:[^\"']*[\"'][^\"']*[\"'])*[^\"']*$)", dotted)
    ]


def key_lines(text: str) -> dict[str, int]:
    """Best effort: the line (1-based) of every table header and key of a TOML text, by
    the key names messages use ("bitcoin.wallets[2].address"). Inline tables are mapped
    one level deep; keys inside multi-line strings may be missed."""
    lines: dict[str, int] = {}
    arrays: dict[str, int] = {}
    header = ""
    in_string = False
    for number, line in enumerate(text.splitlines(), 1):
        if in_string:
            in_string = (line.count('"""') + line.count("'''")) % 2 == 0
            continue
        match = _HEADER.match(line)
        if match and "=" not in line.split("]")[0]:
            names, path = _parts(match.group(2)), ""
            for i, name in enumerate(names):
                path = f"{path}.{name}" if path else name
                if i < len(names) - 1 and path in arrays:
                    path += f"[{arrays[path]}]"
            if match.group(1) == "[[":
                arrays[path] = arrays.get(path, -1) + 1
                path += f"[{arrays[path]}]"
            header = path
            lines.setdefault(header, number)
            continue
        match = _KEY.match(line)
        if match is None:
            continue
        key = (
            ".".join([header, *_parts(match.group(1))])
            if header
            else ".".join(_parts(match.group(1)))
        )
        lines.setdefault(key, number)
        rest = line[match.end() :]
        if rest.lstrip().startswith("{"):
            for inner in _INLINE_KEY.finditer(rest):
                lines.setdefault(f"{key}.{inner.group(1).strip(chr(34))}", number)
        if (rest.count('"""') + rest.count("'''")) % 2 == 1:
            in_string = True
    return lines


def line_of(lines: dict[str, int], key: str | None) -> int | None:
    """The line of `key`, or of the nearest enclosing key that has one."""
    while key:
        if key in lines:
            return lines[key]
        cut = max(key.rfind("."), key.rfind("["))
        key = key[:cut] if cut > 0 else ""
    return None


def _with_lines(problems: list[Problem]) -> list[Problem]:
    cache: dict[str, dict[str, int]] = {}
    out = []
    for problem in problems:
        p = problem
        if p.file is not None and p.line is None and p.key:
            if p.file not in cache:
                cache[p.file] = {}
                try:
                    path = Path(p.file)
                    if path.is_file() and path.stat().st_size <= _MAX_LINE_SCAN_BYTES:
                        cache[p.file] = key_lines(path.read_text(encoding="utf-8"))
                except (OSError, UnicodeDecodeError):
                    pass
            p = Problem(
                p.file, p.key, p.message, p.value, line_of(cache[p.file], p.key), p.suggestion
            )
        out.append(p)
    return out


# ----------------------------------------------------------------------------- the check


def check_config(path: Path) -> list[Problem]:
    """Every problem of the config at `path`, offline; empty when there is none."""
    try:
        raw = safetoml.load_path(path, what="config file")
    except InputError as exc:
        return [_problem(exc)]
    checked = config_problems(path, raw)
    problems: list[Problem] = []
    for error, details in checked.problems:
        problem = _problem(error)
        if details is not None and details["type"] == "extra_forbidden":
            known, close = unknown_key_help(details["loc"])
            message = f"unknown key (known: {', '.join(known)})" if known else "unknown key"
            problem = Problem(problem.file, problem.key, message, suggestion=close)
        problems.append(problem)
    for node in (checked.bitcoin, checked.ethereum):
        if node is not None:
            problems += _node_file_problems(path, node)
    if checked.bitcoin is not None and checked.bitcoin.password_file is not None:
        problems += _secret_file(
            path, "bitcoin.password_file", checked.bitcoin.password_file, "password file"
        )
    if checked.network is not None:
        btc = [w for w in checked.wallets if w.chain is Chain.BITCOIN]
        problems += _bitcoin_problems(path, checked.network, btc)
    problems += _ethereum_problems(
        path,
        checked.ethereum.tokens if checked.ethereum else (),
        [w for w in checked.wallets if w.chain is Chain.ETHEREUM],
    )
    problems += _file_problems(path, raw)
    return _with_lines(_placeholders_first(path, raw, problems))


def config_notes(path: Path) -> list[str]:
    """What is worth knowing about a config but is no problem (exit 0 stays exit 0)."""
    try:
        raw = safetoml.load_path(path, what="config file")
    except InputError:
        return []
    note = attestation_id_note(raw)
    return ([note] if note is not None else []) + environment_notes(raw)


_ENV_KEYS = (("bitcoin", "url_env"), ("bitcoin", "password_env"), ("ethereum", "url_env"))
"""The keys that name an environment variable holding a node's URL or password."""


def environment_notes(raw: Any) -> list[str]:
    """A note (not a problem) for each variable a node key names that is not set here: the
    variable may well be set only where the job runs (a systemd unit, a Kubernetes secret),
    but a run in this environment fails on it (exit 3). Only the name is shown, never a
    value."""
    notes = []
    for section, name in _ENV_KEYS:
        table = raw.get(section) if isinstance(raw, dict) else None
        variable = table.get(name) if isinstance(table, dict) else None
        if isinstance(variable, str) and variable and not os.environ.get(variable, "").strip():
            notes.append(
                f"{section}.{name}: {variable} is not set in this environment (set it where "
                "por runs: a run here fails naming it)"
            )
    return notes


def attestation_id_note(raw: Any) -> str | None:
    """A note (not a problem) for a config without ``[exchange] attestation_id``: fine for
    an auditor's `por verify --config`, refused by the commands that need one."""
    exchange = raw.get("exchange") if isinstance(raw, dict) else None
    if isinstance(exchange, dict) and "attestation_id" not in exchange:
        return (
            "no [exchange] attestation_id: fine for an auditor's `por verify --config`; "
            "por snapshot, reconcile, attest and a point-in-time por challenge need one"
        )
    return None


def _placeholders(value: Any, key: str) -> Iterator[tuple[str, str]]:
    """(key, value) of every string under `value` that is still a placeholder."""
    if isinstance(value, str):
        if value.startswith(PLACEHOLDER):
            yield key, value
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from _placeholders(item, f"{key}.{name}" if key else str(name))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _placeholders(item, f"{key}[{i}]")


def _named_file(path: Path, raw: Any, section: str, name: str) -> Path | None:
    table = raw.get(section) if isinstance(raw, dict) else None
    value = table.get(name) if isinstance(table, dict) else None
    if not isinstance(value, str) or not value:
        return None
    file = Path(value)
    return file if file.is_absolute() else path.parent / file


def placeholder_problems(path: Path, raw: Any) -> list[Problem]:
    """Every value still a placeholder: in por.toml, in the TOML files it names (prices,
    reserve statement, assets), and the example rows of the liabilities file."""
    found = [
        Problem(str(path), key, "placeholder not filled in", mask_text(value))
        for key, value in _placeholders(raw, "")
    ]
    for section, name in (("prices", "file"), ("reserve", "statement"), ("liabilities", "assets")):
        file = _named_file(path, raw, section, name)
        if file is None or not file.is_file():
            continue
        try:
            data = safetoml.load_path(file, what=f"{section}.{name}")
        except InputError:
            continue  # its own checker names what is wrong with it
        found += [
            Problem(str(file), key, "placeholder not filled in", mask_text(value))
            for key, value in _placeholders(data, "")
        ]
    found += _example_rows(path, raw)
    return found


def _example_rows(path: Path, raw: Any) -> list[Problem]:
    """`por init`'s example customers still in the liabilities file (they would be
    reconciled as real liabilities)."""
    file = _named_file(path, raw, "liabilities", "file")
    if file is None or not file.is_file():
        return []
    try:
        with file.open("rb") as handle:
            head = handle.read(_MAX_EXAMPLE_SCAN_BYTES)
    except OSError:
        return []
    return [
        Problem(
            str(file),
            "account_id",
            "placeholder not filled in: an example row of `por init`; replace the file with "
            "your customer balances",
            line.decode("utf-8", "replace").split(",", 1)[0],
            number,
        )
        for number, line in enumerate(head.splitlines(), 1)
        if line.startswith(EXAMPLE_ACCOUNT.encode())
        or line.startswith(b'{"account_id": "' + EXAMPLE_ACCOUNT.encode())
    ]


def _placeholders_first(path: Path, raw: Any, problems: list[Problem]) -> list[Problem]:
    """The placeholders, then every other problem except those about a placeholder's key
    (an address that is still "REPLACE: …" is a placeholder, not a bad address)."""
    found = placeholder_problems(path, raw)
    keys = {p.key for p in found if p.key}

    def about_placeholder(problem: Problem) -> bool:
        key = problem.key or ""
        return any(key == k or key.startswith((f"{k}.", f"{k}[")) for k in keys) or (
            # an epoch reference to a placeholder id names the reference, not the id
            key.endswith(".ownership") and any(k.startswith(f"{key}.") for k in keys)
        )

    return found + [p for p in problems if not about_placeholder(p)]


def _fail(path: Path, key: str, message: str, value: str | None = None) -> Problem:
    return Problem(str(path), key, message, None if value is None else mask_text(value))


def _bitcoin_problems(
    path: Path, network: str, wallets: Sequence[WalletConfig]
) -> Iterator[Problem]:
    from chains.btc_wallets import XpubWallet, script_pubkey

    for wallet in wallets:
        if wallet.address is not None:
            yield from _guard(
                lambda w=wallet: script_pubkey(w.address, network), wallet, "address", path
            )
        elif wallet.xpub is not None:
            yield from _guard(
                lambda w=wallet: XpubWallet(
                    name=w.key,
                    network=network,
                    xpub=w.xpub,
                    script_type=w.script,
                    account_path=w.path or "",
                    gap_limit=w.gap_limit,
                ),
                wallet,
                "xpub",
                path,
            )
        else:
            yield from _multisig_keys(path, wallet)
        yield from _proof_problems(path, wallet, network)


def _guard(check: Any, wallet: WalletConfig, name: str, path: Path) -> Iterator[Problem]:
    """Run a chains/ check that raises InputError; name the wallet's key in our terms."""
    try:
        check()
    except InputError as exc:
        key = exc.key or f"{wallet.key}.{name}"
        # the wallet classes name their own fields: map them to por.toml's keys
        key = key.replace(".script_type", ".script").replace(".account_path", ".path")
        if not key.startswith(wallet.key):
            key = f"{wallet.key}.{name}"
        problem = _problem(exc, key=key)
        if problem.file is None:  # the wallet classes know no file: the key is por.toml's
            problem = Problem(str(path), key, problem.message, problem.value)
        yield problem


def _multisig_keys(path: Path, wallet: WalletConfig) -> Iterator[Problem]:
    import coincurve

    seen: set[bytes] = set()
    for i, text in enumerate(wallet.multisig_keys):
        key = f"{wallet.key}.multisig.keys[{i}]"
        try:
            sec = bytes.fromhex(text)
        except ValueError:
            yield _fail(path, key, "not hex", text)
            continue
        if len(sec) != 33 or sec[0] not in (2, 3):
            yield _fail(path, key, "not a 33-byte compressed public key (02… or 03…)", text)
            continue
        try:
            coincurve.PublicKey(sec)
        except ValueError:
            yield _fail(path, key, "not a point on secp256k1", text)
            continue
        if sec in seen:
            yield _fail(path, key, "the same public key is listed twice", text)
        seen.add(sec)


_BTC_SCHEMES = ("bip137", "bip322-simple", "p2wsh-multisig")
_ETH_SCHEMES = ("eip191", "eip1271")


def _base64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _bip137(path: Path, key: str, signature: str) -> Iterator[Problem]:
    raw = _base64(signature.strip())
    if raw is None:
        yield _fail(path, key, "not base64", signature)
    elif len(raw) != 65 or not 27 <= raw[0] <= 42:
        yield _fail(path, key, "not a signmessage signature (65 bytes, header 27..42)", signature)


def _proof_problems(path: Path, wallet: WalletConfig, network: str) -> Iterator[Problem]:
    """The proof's form: the scheme fits the chain and the wallet, and signatures decode."""
    from chains.btc_wallets import script_pubkey

    proof = wallet.ownership
    if proof is None:
        return
    where = f"{wallet.key}.ownership"
    scheme = str(proof["scheme"])
    if scheme in _ETH_SCHEMES:
        yield _fail(path, f"{where}.scheme", "an Ethereum scheme on a Bitcoin wallet", scheme)
        return
    if scheme == "p2wsh-multisig":
        if wallet.kind == "xpub":
            yield _fail(path, f"{where}.scheme", "p2wsh-multisig proves no xpub wallet", scheme)
        elif wallet.kind == "address" and proof.get("witness_script") is None:
            yield _fail(
                path,
                f"{where}.witness_script",
                "missing: a multisig address needs its witness script (or give the wallet "
                "as multisig = { m, keys })",
            )
        signatures = proof.get("signatures") or []
        if not signatures:
            yield _fail(path, f"{where}.signatures", "missing: one signature per cosigner")
        for i, signature in enumerate(signatures):
            yield from _bip137(path, f"{where}.signatures[{i}]", signature)
        if wallet.multisig_m is not None and 0 < len(signatures) < wallet.multisig_m:
            yield _fail(
                path,
                f"{where}.signatures",
                f"{plural(len(signatures), 'signature')}, fewer than m = {wallet.multisig_m}",
            )
        script = proof.get("witness_script")
        if script is not None and (
            len(script) % 2 or re.fullmatch(r"[0-9a-fA-F]*", script) is None
        ):
            yield _fail(path, f"{where}.witness_script", "not hex", script)
        return
    by_address = proof.get("addresses") or {}
    signature = proof.get("signature")
    if signature is None and not by_address:
        yield _fail(path, f"{where}.signature", "missing: the wallet would be unproven")
    pairs = [(f"{where}.signature", signature)] if signature is not None else []
    pairs += [(f"{where}.addresses.{a}", s) for a, s in by_address.items()]
    for address in by_address:
        try:
            script_pubkey(address, network)
        except InputError as exc:
            yield _fail(path, f"{where}.addresses.{address}", bare_message(exc), address)
    for key, text in pairs:
        if scheme == "bip137":
            yield from _bip137(path, key, text)
        elif _base64(text.strip().removeprefix("smp")) is None:
            yield _fail(path, key, "not base64 (a BIP-322 simple signature)", text)


def _ethereum_problems(
    path: Path, tokens: Sequence[TokenConfig], wallets: Sequence[WalletConfig]
) -> Iterator[Problem]:
    from eth_utils.address import is_checksum_address

    for i, token in enumerate(tokens):
        if _mixed_case(token.contract) and not is_checksum_address(token.contract):
            yield _fail(
                path,
                f"ethereum.tokens[{i}].contract",
                "the EIP-55 checksum (the letters' case) does not match: a typo?",
                token.contract,
            )
    for wallet in wallets:
        assert wallet.address is not None  # Ethereum wallets are given by address
        if _mixed_case(wallet.address) and not is_checksum_address(wallet.address):
            yield _fail(
                path,
                f"{wallet.key}.address",
                "the EIP-55 checksum (the letters' case) does not match: a typo?",
                wallet.address,
            )
        proof = wallet.ownership
        if proof is None:
            continue
        where = f"{wallet.key}.ownership"
        scheme = str(proof["scheme"])
        if scheme in _BTC_SCHEMES:
            yield _fail(path, f"{where}.scheme", "a Bitcoin scheme on an Ethereum wallet", scheme)
            continue
        signature = proof.get("signature")
        if signature is None:
            yield _fail(path, f"{where}.signature", "missing: the wallet would be unproven")
            continue
        digits = signature.removeprefix("0x")
        if len(digits) % 2 or not digits or re.fullmatch(r"[0-9a-fA-F]*", digits) is None:
            yield _fail(path, f"{where}.signature", "not 0x-hex", signature)
        elif scheme == "eip191" and len(digits) != 130:
            yield _fail(path, f"{where}.signature", "an EIP-191 signature is 65 bytes", signature)


def _mixed_case(address: str) -> bool:
    letters = address[2:]
    return letters != letters.lower() and letters != letters.upper()


def _node_file_problems(path: Path, node: BitcoinConfig | EthereumConfig) -> Iterator[Problem]:
    """A URL file is read and checked now (mode, one line, a usable URL; never quoted); so is
    a URL variable that is set here (an unset one is a note: `environment_notes`)."""
    if node.url_file is not None or (
        node.url_env is not None and os.environ.get(node.url_env, "").strip()
    ):
        try:
            node.node_url()
        except InputError as exc:
            yield _problem(exc)


def _secret_file(path: Path, key: str, file: Path, what: str) -> Iterator[Problem]:
    from chains.rpc import read_secret_file

    try:
        read_secret_file(file, what)
    except InputError as exc:
        yield _fail(path, key, bare_message(exc), str(file))


def _file_problems(path: Path, raw: Any) -> list[Problem]:
    """Every file the config names: there, readable, and valid by its own checker."""
    from verifier.inputs import file_schemas
    from verifier.inputs.keys import load_signing_key
    from verifier.jobs.pipeline import load_root

    problems: list[Problem] = []

    def named(section: str, name: str) -> Path | None:
        table = raw.get(section) if isinstance(raw, dict) else None
        value = table.get(name) if isinstance(table, dict) else None
        if not isinstance(value, str) or not value:
            return None
        file = Path(value)
        file = file if file.is_absolute() else path.parent / file
        if not file.exists():
            problems.append(_fail(path, f"{section}.{name}", "no such file", str(file)))
            return None
        if not file.is_file() or not os.access(file, os.R_OK):
            problems.append(_fail(path, f"{section}.{name}", "not a readable file", str(file)))
            return None
        return file

    for section, name, kind in (
        ("liabilities", "assets", "assets"),
        ("prices", "file", "prices"),
        ("reserve", "statement", "statement"),
    ):
        if (file := named(section, name)) is not None:
            problems += [_problem(e) for e in file_schemas.problems(kind, file)]
    if (root := named("liabilities", "root")) is not None:
        try:
            load_root(root)
        except PorError as exc:
            problems.append(_problem(exc))
    named("liabilities", "file")  # read whole by each run; here: there and readable
    problems += _pack_problems(path, raw)
    if isinstance(raw.get("attest"), dict) and isinstance(raw["attest"].get("key_file"), str):
        value = Path(raw["attest"]["key_file"])
        key_file = value if value.is_absolute() else path.parent / value
        try:
            load_signing_key(key_file)
        except InputError as exc:
            problems.append(_fail(path, "attest.key_file", bare_message(exc), str(key_file)))
    return problems


def _pack_problems(path: Path, raw: Any) -> list[Problem]:
    from verifier.inputs import file_schemas
    from verifier.reserve.pack_file import known_packs, load_pack

    reserve = raw.get("reserve") if isinstance(raw, dict) else None
    pack = reserve.get("pack") if isinstance(reserve, dict) else None
    if not isinstance(pack, str) or not pack:
        return []
    if pack not in known_packs() and Path(pack).is_file():
        return [_problem(e) for e in file_schemas.problems("pack", Path(pack))]
    try:
        load_pack(pack)
    except InputError as exc:
        return [_fail(path, "reserve.pack", bare_message(exc), pack)]
    return []


# ----------------------------------------------------------------------------- commands


def _config_option() -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    from verifier.cli.options import CONFIG_OPTION

    return CONFIG_OPTION


@click.group("config")
def config_group() -> None:
    """Check a por.toml offline, or print its JSON Schema."""


@config_group.command("check")
@_config_option()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def check_cmd(config_file: Path, as_json: bool) -> int:
    """List every problem of a config at once, offline: schema, duplicates, epochs, the files
    it names, addresses, xpubs, keys and signature encodings. Exit 0 if none, 3 if any."""
    from verifier.base.console import out, print_json

    problems = check_config(config_file)
    notes = config_notes(config_file)
    if as_json:
        print_json(
            {
                "format": FORMAT,
                "config": str(config_file),
                "ok": not problems,
                "problems": [p.to_json() for p in problems],
                "notes": notes,
            }
        )
    else:
        for problem in problems:
            out.print(problem.text(), markup=False, highlight=False, soft_wrap=True)
        for note in notes:
            out.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)
        count = len(problems)
        out.print(
            f"{count} problem{'s' if count != 1 else ''}" if problems else "config OK",
            markup=False,
            highlight=False,
        )
    return EXIT_INVALID if problems else EXIT_OK


@config_group.command("schema")
@click.option(
    "--out",
    "out_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help=f"Write it to this file (the repository's copy: {SCHEMA_FILE}).",
)
@click.option(
    "--markdown",
    is_flag=True,
    help="The table of every key instead (docs/snapshot.md), printed or written to --out; "
    "not with --json.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def schema_cmd(out_file: Path | None, markdown: bool, as_json: bool) -> int:
    """Print (or write) the JSON Schema of por.toml, for editors (Taplo / Even Better TOML)."""
    from verifier.base.console import err, print_json
    from verifier.base.atomic import write_atomic

    if markdown and as_json:
        # two different documents: one on stdout would silently drop the other
        raise UsageError(
            "give one of --markdown or --json: --markdown prints the keys as a Markdown "
            "table, --json the schema as one JSON document"
        )
    doc = schema()
    if markdown and out_file is None:
        click.echo(reference_table(), nl=False)
        return EXIT_OK
    if out_file is None:
        if as_json:
            print_json(doc)
        else:
            click.echo(schema_text(doc), nl=False)
        return EXIT_OK
    if not str(out_file) or not out_file.name or out_file.is_dir():
        raise UsageError(f"--out must name a file, not a directory: {str(out_file)!r}")
    write_atomic(out_file, (reference_table() if markdown else schema_text(doc)).encode("utf-8"))
    if as_json:
        print_json({"format": "por-config-schema-v1", "written": str(out_file)})
    else:
        err.print(f"wrote {out_file}", markup=False)
    return EXIT_OK


def schema() -> dict[str, Any]:
    from verifier.inputs.config_schema import json_schema

    return json_schema()


def schema_text(doc: dict[str, Any]) -> str:
    """The schema as committed: sorted keys, two-space indents, a final newline."""
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# ----------------------------------------------------------------------------- the reference


TABLE_BEGIN = "<!-- por-config-keys: begin (generated by `por config schema --markdown`) -->"
TABLE_END = "<!-- por-config-keys: end -->"


def reference_table() -> str:
    """Every key of por.toml as a Markdown table (key, type, default, meaning), from the
    schema's own descriptions: docs/snapshot.md holds it between TABLE_BEGIN and TABLE_END
    and a test keeps the two equal."""
    doc = schema()
    defs = doc["$defs"]
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]

    def kind(spec: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
        if "$ref" in spec:
            return "table", defs[spec["$ref"].rsplit("/", 1)[-1]]
        if spec.get("type") == "array":
            items = spec.get("items", {})
            if "$ref" in items:
                return "array of tables", defs[items["$ref"].rsplit("/", 1)[-1]]
            return f"array of {items.get('type', 'values')}", None
        if "enum" in spec:
            return " \\| ".join(f"`{v}`" for v in spec["enum"]), None
        text = str(spec.get("type", "table" if "additionalProperties" in spec else "value"))
        if "minimum" in spec:
            text += f" {spec['minimum']}..{spec['maximum']}"
        return text, None

    def walk(table: dict[str, Any], prefix: str) -> None:
        for name, spec in table.get("properties", {}).items():
            key = f"{prefix}{name}"
            text, inner = kind(spec)
            if inner is None and spec.get("type") == "object":
                text = "table"
            default = spec.get("default")
            shown = (
                ""
                if default is None or isinstance(default, (dict, list))
                else f"`{json.dumps(default)}`"
            )
            if name in table.get("required", []):
                shown = "required"
            meaning = str(spec.get("description") or (inner or {}).get("description", ""))
            meaning = meaning.replace("|", "\\|")
            rows.append(f"| `{key}` | {text} | {shown} | {meaning} |")
            if inner is not None:
                suffix = "[]." if text == "array of tables" else "."
                walk(inner, f"{key}{suffix}")

    walk(doc, "")
    return "\n".join(rows) + "\n"
