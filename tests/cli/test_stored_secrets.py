"""A node URL read from `url_file` or `url_env` never leaves the process in a stored run.

The review's repro: `[ethereum] url_file` holding ``http://127.0.0.1:1/rpc/Zq7mysecrettok``
(nothing listens on port 1), `por reconcile`, then `por reconcile --every 1h --json
--report-dir rep`. stderr and the one-shot `--json` masked the URL, but the stored run
error did not, so it came back through `por history` (text, --json, --html), the NDJSON
line, the --report-dir files and the alert payloads. Here every one of those outputs, the
metrics file and the database file itself are searched for the URL and its secret part,
for a key in the path, in the query and in the userinfo, read from a file and from the
environment. History is read as a new process would read it: with no secret registered.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from verifier.base import logs
from verifier.history import loop

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"

# (how the URL is given, the URL, the part of it that is the secret)
VARIANTS = {
    "file-path-key": ("file", "http://127.0.0.1:1/rpc/Zq7mysecrettok", "Zq7mysecrettok"),
    "file-query-key": ("file", "http://127.0.0.1:1/rpc?k=Qx9hiddenvalue&chain=1", "Qx9hiddenvalue"),
    "file-userinfo": ("file", "http://por:Pw5secretword@127.0.0.1:1/", "Pw5secretword"),
    "env-path-key": ("env", "http://127.0.0.1:1/v3/Zq7mysecrettok/", "Zq7mysecrettok"),
    "env-query-key": ("env", "http://127.0.0.1:1/?apikey=Wm4plainsecret", "Wm4plainsecret"),
}

PRICES = """currency = "JPY"
source = "test"
time = 2025-06-30T00:00:00Z

[prices]
BTC = "15000000"
ETH = "450000"
USDT = "150"
"""


class Receiver(BaseHTTPRequestHandler):
    """An alert webhook: keeps every body POSTed to it, answers 200."""

    bodies: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:  # http.server's name
        length = int(self.headers.get("Content-Length") or 0)
        Receiver.bodies.append(self.rfile.read(length))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Receiver.bodies = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()
        logs.configure(logging.WARNING, "text")  # the loop set INFO for the process


def write_config(work: Path, how: str, url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    (work / "keys").mkdir(parents=True)
    if how == "file":
        (work / "keys" / "eth.url").write_text(url + "\n")
        (work / "keys" / "eth.url").chmod(0o600)
        source = 'url_file = "keys/eth.url"'
    else:
        monkeypatch.setenv("POR_TEST_ETH_URL", url)
        source = 'url_env = "POR_TEST_ETH_URL"'
    for name in ("sample.csv", "assets.toml"):
        (work / name).write_bytes((FIXTURES / "liabilities" / name).read_bytes())
    (work / "reserve.toml").write_bytes(
        (FIXTURES / "reserve" / "jp-fsa-2026-worked.toml").read_bytes()
    )
    (work / "prices.toml").write_text(PRICES)
    config = work / "por.toml"
    config.write_text(
        f"""[exchange]
name = "Mask Test"
attestation_id = "mask-1"

[ethereum]
{source}
chain_id = 31337
timeout = 2

[[ethereum.wallets]]
label = "custodian"
class = "custodial"
address = "0x039F1Db6A9eFcE342239037B7F3107D13E095949"

[liabilities]
file = "sample.csv"
assets = "assets.toml"

[prices]
file = "prices.toml"

[reserve]
statement = "reserve.toml"
pack = "jp-fsa-2026"

[alerts]
timeout = 2
retries = 0
"""
    )
    return config


def run_loop_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--every` runs one run and returns (no signal handlers installed in pytest)."""
    real = loop.run_loop

    def once(run: Any, interval: int, stop: Any, **kwargs: Any) -> int:
        return real(run, interval, stop, **{**kwargs, "max_runs": 1})

    monkeypatch.setattr(loop, "run_loop", once)
    monkeypatch.setattr(loop.Stop, "install", lambda self: None)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_a_secret_node_url_is_in_no_stored_or_derived_output(
    por: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    webhook: str,
    variant: str,
) -> None:
    how, url, secret = VARIANTS[variant]
    config = write_config(tmp_path / "exch", how, url, monkeypatch)
    monkeypatch.setattr(logs, "_SECRETS", set())  # this "process" has read nothing yet
    rep, metrics = tmp_path / "rep", tmp_path / "metrics.prom"
    printed: list[str] = []

    # one-shot runs, one per alert payload shape, then the loop's NDJSON line
    for shape in ("generic", "alertmanager", "slack"):
        result = por(
            "reconcile", "--config", config, "--webhook", webhook, "--alert-format", shape,
            "--metrics-file", metrics, "--report-dir", rep, "--json",
        )  # fmt: skip
        assert result.rc == 4, result.err
        assert result.json()["error"] == "NodeUnavailable"
        printed += [result.out, result.err]
    run_loop_once(monkeypatch)
    loop = por(
        "reconcile", "--config", config, "--every", "1h", "--json", "--report-dir", rep,
        "--webhook", webhook,
    )  # fmt: skip
    assert loop.rc == 0, loop.err
    (line,) = loop.out.splitlines()
    ndjson = json.loads(line)
    assert ndjson["status"] == "failed" and ndjson["error"]["error"] == "NodeUnavailable"
    assert "***" in ndjson["error"]["message"]  # masked, not dropped: the node is named
    printed += [loop.out, loop.err]
    assert len(Receiver.bodies) == 4  # a failure alert per run, each delivered

    # history as a new process reads it: no secret registered, only what was stored
    monkeypatch.setattr(logs, "_SECRETS", set())
    text = por("history", "--config", config)
    as_json = por("history", "--config", config, "--json")
    page = tmp_path / "history.html"
    html = por("history", "--config", config, "--html", page)
    assert text.rc == as_json.rc == html.rc == 0
    runs = as_json.json()["runs"]
    assert [r["status"] for r in runs] == ["failed"] * 4
    assert all("ethereum node at " in r["error"] and "***" in r["error"] for r in runs)

    outputs: dict[str, bytes] = {
        "history text": text.out.encode(),
        "history json": as_json.out.encode(),
        "history html": page.read_bytes(),
        "metrics file": metrics.read_bytes(),
        "database": (tmp_path / "exch" / "por.db").read_bytes(),
        **{f"printed {n}": p.encode() for n, p in enumerate(printed)},
        **{f"webhook body {n}": body for n, body in enumerate(Receiver.bodies)},
        **{f"report-dir {f.name}": f.read_bytes() for f in sorted(rep.iterdir())},
    }
    assert len([name for name in outputs if name.startswith("report-dir")]) == 5
    for name, data in outputs.items():
        assert secret.encode() not in data, f"{variant}: the secret is in the {name}"
        assert url.rstrip("/").encode() not in data, f"{variant}: the URL is in the {name}"
