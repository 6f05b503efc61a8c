"""The root log options of `por` end to end: a node that keeps answering 503 is retried (log
records with the backoff), the run fails with its one message, and neither the password
(from a file) nor the node URL's API key (from the environment) appears anywhere at DEBUG."""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from verifier.base import logs

PASSWORD = "pw-Secret-7e1b0c9d2a"
API_KEY = "apikey0123456789abcdefABC"


class Busy(BaseHTTPRequestHandler):
    """Every request: HTTP 503 (a transient failure, retried)."""

    seen: ClassVar[list[str]] = []

    def _reply(self) -> None:
        Busy.seen.append(self.headers.get("Authorization", ""))
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = _reply  # noqa: N815 - http.server's names
    do_POST = _reply  # noqa: N815

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def busy_node() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Busy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Busy.seen = []
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        logs.configure(logging.WARNING, "text")


@pytest.fixture
def config(tmp_path: Path, busy_node: int, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pass").write_text(PASSWORD + "\n")
    (tmp_path / "pass").chmod(0o600)
    monkeypatch.setenv("POR_TEST_BTC_URL", f"http://127.0.0.1:{busy_node}/{API_KEY}/")
    path = tmp_path / "por.toml"
    path.write_text(
        """
[exchange]
name = "Log Test"
attestation_id = "log-1"

[bitcoin]
backend = "bcoin"
url_env = "POR_TEST_BTC_URL"
network = "regtest"
user = "por"
password_file = "pass"
timeout = 5

[[bitcoin.wallets]]
label = "custodian"
class = "custodial"
attribution = "customer"
address = "bcrt1qaj0fx3ptf7tq9j37swgn69dfvqmdrav00vazdt"
"""
    )
    return path


def secrets_absent(text: str) -> None:
    header = base64.b64encode(f"por:{PASSWORD}".encode()).decode()
    for secret in (PASSWORD, API_KEY, header):
        assert secret not in text


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_debug_logs_show_retries_and_no_secret(por, config: Path, fmt: str) -> None:
    result = por("-vv", "--log-format", fmt, "snapshot", "--config", config, "--json")
    assert result.rc == 4, result.err
    assert Busy.seen and Busy.seen[0].startswith("Basic ")  # the password was read and sent
    doc = result.json()  # stdout: exactly the one error document
    assert doc["format"] == "por-error-v1" and doc["exit_code"] == 4
    secrets_absent(result.out + result.err)
    records = [line for line in result.err.splitlines() if not line.startswith("por: ")]
    if fmt == "json":
        parsed = [json.loads(line) for line in records]
        retries = [r for r in parsed if r["logger"] == "chains.rpc"]
        assert [r["attempt"] for r in retries] == [1, 2, 3]
        assert all(r["level"] == "WARNING" and "HTTP 503" in r["message"] for r in retries)
        assert all(r["backoff_seconds"] > 0 for r in retries)
    else:
        assert sum("WARNING chains.rpc:" in line and "retry" in line for line in records) == 3
    # the command's result stays one plain line on stderr, after the log records
    assert result.err.splitlines()[-1].startswith("por: error: ")


def test_quiet_keeps_only_the_result_line(por, config: Path) -> None:
    result = por("-q", "snapshot", "--config", config)
    assert result.rc == 4
    assert [line for line in result.err.splitlines() if line] == [result.err.strip()]
    assert result.err.startswith("por: error: ")
    secrets_absent(result.out + result.err)


def test_environment_sets_level_and_format(por, config: Path, monkeypatch) -> None:
    monkeypatch.setenv("POR_LOG_LEVEL", "warning")
    monkeypatch.setenv("POR_LOG_FORMAT", "json")
    result = por("snapshot", "--config", config)
    assert result.rc == 4
    records = [json.loads(line) for line in result.err.splitlines() if line.startswith("{")]
    assert len(records) == 3 and {r["level"] for r in records} == {"WARNING"}
    secrets_absent(result.out + result.err)


@pytest.mark.parametrize(
    ("args", "env", "fragment"),
    [
        (["--log-level", "loud"], {}, "--log-level"),
        (["--log-format", "xml"], {}, "--log-format"),
        (["-v", "-q"], {}, "-v and -q"),
        ([], {"POR_LOG_LEVEL": "loud"}, "POR_LOG_LEVEL"),
        ([], {"POR_LOG_FORMAT": "xml"}, "POR_LOG_FORMAT"),
    ],
)
def test_bad_log_options_are_usage_errors(por, monkeypatch, args, env, fragment) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = por(*args, "liabilities", "sample", "--help")
    assert result.rc == 2, result.err
    assert fragment in result.err and "Traceback" not in result.err
