"""`por config check`'s logic: EVERY problem of a por.toml at once, offline.

Where it sits: before the first run; `por config check` (verifier/cli/config.py) prints what
`check_config` returns. Not the first problem, as `load_config` raises, but all of them: the
schema's (verifier/inputs/config_schema.py), the checks beyond it (verifier/inputs/config.py:
a wallet listed twice, epoch references, URLs), the files it names (each read by its own
checker: verifier/inputs/file_schemas.py for prices, reserve statement, assets and pack; the
root document; the signing key's form and mode; node URL and password files), what can be
checked of the wallets without a node (verifier/inputs/wallet_checks.py), and `por init`'s
placeholders first (verifier/inputs/placeholders.py); each problem that names a TOML key
gets its line (verifier/inputs/toml_lines.py).

The root document and built-in rule packs are read by code above this layer
(verifier/jobs/pipeline.py, verifier/reserve/): the caller passes those readers in
(`Readers`), so this module imports nothing above verifier/inputs.

No secret is ever shown: URLs are masked, files holding a URL or password are checked
without quoting their content, a private key is never echoed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chains.base import Chain
from verifier.base import safetoml
from verifier.base.errors import InputError, PorError
from verifier.base.redact import mask_text
from verifier.inputs.config import config_problems
from verifier.inputs.config_errors import unknown_key_help
from verifier.inputs.config_values import BitcoinConfig, EthereumConfig
from verifier.inputs.placeholders import placeholders_first
from verifier.inputs.problems import Problem, bare_message, fail, problem_of
from verifier.inputs.toml_lines import with_lines
from verifier.inputs.wallet_checks import bitcoin_problems, ethereum_problems


@dataclass(frozen=True)
class Readers:
    """The readers of the files whose code sits above verifier/inputs (docs/architecture.md):
    each raises a `PorError` for a file it refuses."""

    root: Callable[[Path], object]
    """Reads and checks a root document (verifier.jobs.pipeline.load_root)."""
    pack: Callable[[str], object]
    """Loads a rule pack by built-in id or path; raises `InputError` (load_pack)."""
    known_packs: Callable[[], Sequence[str]]
    """The built-in rule packs' ids (known_packs)."""


def check_config(path: Path, readers: Readers) -> list[Problem]:
    """Every problem of the config at `path`, offline; empty when there is none. `readers`
    read the root document and the rule pack (see `Readers`)."""
    try:
        raw = safetoml.load_path(path, what="config file")
    except InputError as exc:
        return [problem_of(exc)]
    checked = config_problems(path, raw)
    problems: list[Problem] = []
    for error, details in checked.problems:
        problem = problem_of(error)
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
        problems += bitcoin_problems(path, checked.network, btc)
    problems += ethereum_problems(
        path,
        checked.ethereum.tokens if checked.ethereum else (),
        [w for w in checked.wallets if w.chain is Chain.ETHEREUM],
    )
    problems += _file_problems(path, raw, readers)
    return with_lines(placeholders_first(path, raw, problems))


def config_notes(path: Path) -> list[str]:
    """What is worth knowing about a config but is no problem (exit 0 stays exit 0)."""
    try:
        raw = safetoml.load_path(path, what="config file")
    except InputError:
        return []
    note = attestation_id_note(raw)
    return ([note] if note is not None else []) + environment_notes(raw) + vendor_notes(raw)


def vendor_notes(raw: Any) -> list[str]:
    """A note (not a problem) for each ``[vendors.<id>]`` no wallet names: declared for
    nothing, it shows in no concentration figure and no limit, which is likely a slip
    (a wallet's ``vendor`` misspelt is a problem of its own, with a "did you mean")."""
    vendors = raw.get("vendors") if isinstance(raw, dict) else None
    if not isinstance(vendors, dict):
        return []
    named = set()
    for section in ("bitcoin", "ethereum"):
        table = raw.get(section)
        wallets = table.get("wallets") if isinstance(table, dict) else None
        for wallet in wallets if isinstance(wallets, list) else ():
            if isinstance(wallet, dict) and isinstance(wallet.get("vendor"), str):
                named.add(wallet["vendor"])
    return [
        f"vendors.{vendor}: declared but no wallet names it (vendor = {vendor!r})"
        for vendor in sorted(str(v) for v in vendors)
        if vendor not in named
    ]


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


def _node_file_problems(path: Path, node: BitcoinConfig | EthereumConfig) -> Iterator[Problem]:
    """A URL file is read and checked now (mode, one line, a usable URL; never quoted); so is
    a URL variable that is set here (an unset one is a note: `environment_notes`)."""
    if node.url_file is not None or (
        node.url_env is not None and os.environ.get(node.url_env, "").strip()
    ):
        try:
            node.node_url()
        except InputError as exc:
            yield problem_of(exc)


def _secret_file(path: Path, key: str, file: Path, what: str) -> Iterator[Problem]:
    from chains.rpc import read_secret_file

    try:
        read_secret_file(file, what)
    except InputError as exc:
        yield fail(path, key, bare_message(exc), str(file))


def _file_problems(path: Path, raw: Any, readers: Readers) -> list[Problem]:
    """Every file the config names: there, readable, and valid by its own checker."""
    from verifier.inputs import file_schemas
    from verifier.inputs.keys import load_signing_key

    problems: list[Problem] = []

    def named(section: str, name: str) -> Path | None:
        table = raw.get(section) if isinstance(raw, dict) else None
        value = table.get(name) if isinstance(table, dict) else None
        if not isinstance(value, str) or not value:
            return None
        file = Path(value)
        file = file if file.is_absolute() else path.parent / file
        if not file.exists():
            problems.append(fail(path, f"{section}.{name}", "no such file", str(file)))
            return None
        if not file.is_file() or not os.access(file, os.R_OK):
            problems.append(fail(path, f"{section}.{name}", "not a readable file", str(file)))
            return None
        return file

    for section, name, kind in (
        ("liabilities", "assets", "assets"),
        ("prices", "file", "prices"),
        ("reserve", "statement", "statement"),
        ("stress", "scenarios", "scenarios"),
    ):
        if (file := named(section, name)) is not None:
            found = [problem_of(e) for e in file_schemas.problems(kind, file)]
            if kind == "scenarios" and not found:
                found = scenario_selector_problems(raw, file)
            problems += found
    if (root := named("liabilities", "root")) is not None:
        try:
            readers.root(root)
        except PorError as exc:
            problems.append(problem_of(exc))
    named("liabilities", "file")  # read whole by each run; here: there and readable
    problems += _pack_problems(path, raw, readers)
    if isinstance(raw.get("attest"), dict) and isinstance(raw["attest"].get("key_file"), str):
        value = Path(raw["attest"]["key_file"])
        key_file = value if value.is_absolute() else path.parent / value
        try:
            load_signing_key(key_file)
        except InputError as exc:
            problems.append(fail(path, "attest.key_file", bare_message(exc), str(key_file)))
    return problems


_SELECTORS = ("wallet", "label", "vendor", "custodian")
"""The loss selectors that name something of por.toml (a wallet key, a wallet's label,
vendor or custodian): checked offline against the config."""


def _wallet_names(raw: Any) -> dict[str, set[str]]:
    """{selector: the values por.toml's wallets give it} (``wallet``: their keys)."""
    names: dict[str, set[str]] = {key: set() for key in _SELECTORS}
    for chain in ("bitcoin", "ethereum"):
        table = raw.get(chain) if isinstance(raw, dict) else None
        wallets = table.get("wallets") if isinstance(table, dict) else None
        for i, wallet in enumerate(wallets if isinstance(wallets, list) else ()):
            names["wallet"].add(f"{chain}.wallets[{i}]")
            for key in ("label", "vendor", "custodian"):
                value = wallet.get(key) if isinstance(wallet, dict) else None
                if isinstance(value, str):
                    names[key].add(value)
    return names


def scenario_selector_problems(raw: Any, file: Path) -> list[Problem]:
    """A problem for each loss shock of the ``[stress]`` scenario file that names a wallet,
    label, vendor or custodian no wallet of por.toml has: every scheduled run would store
    that scenario as an error ("selects no wallet"), so it is a problem now, not a note.
    (Selectors together — vendor and class — are checked by each run, against balances.)"""
    import difflib

    try:
        doc = safetoml.load_path(file, what="scenario file")
    except InputError:
        return []  # read and reported by the schema check
    names = _wallet_names(raw)
    out: list[Problem] = []
    scenarios = doc.get("scenarios")
    for i, scenario in enumerate(scenarios if isinstance(scenarios, list) else []):
        shocks = scenario.get("shocks") if isinstance(scenario, dict) else None
        for j, shock in enumerate(shocks if isinstance(shocks, list) else []):
            if not isinstance(shock, dict) or shock.get("kind") != "loss":
                continue
            for key in _SELECTORS:
                value = shock.get(key)
                if not isinstance(value, str) or value in names[key]:
                    continue
                known = ", ".join(sorted(names[key])) or "none"
                close = difflib.get_close_matches(value, sorted(names[key]), n=1, cutoff=0.6)
                out.append(
                    Problem(
                        str(file),
                        f"scenarios[{i}].shocks[{j}].{key}",
                        f"no wallet of por.toml has this {key} (known: {known})",
                        mask_text(value),
                        None,
                        close[0] if close else None,
                    )
                )
    return out


def _pack_problems(path: Path, raw: Any, readers: Readers) -> list[Problem]:
    """The rule pack: a built-in id, or a pack file checked by its own schema."""
    from verifier.inputs import file_schemas

    reserve = raw.get("reserve") if isinstance(raw, dict) else None
    pack = reserve.get("pack") if isinstance(reserve, dict) else None
    if not isinstance(pack, str) or not pack:
        return []
    if pack not in readers.known_packs() and Path(pack).is_file():
        return [problem_of(e) for e in file_schemas.problems("pack", Path(pack))]
    try:
        readers.pack(pack)
    except InputError as exc:
        return [fail(path, "reserve.pack", bare_message(exc), pack)]
    return []
