"""verifier/base/logs.py: levels, text and JSON lines, and secrets masked in every record."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from chains.rpc import auth_from_sources, read_secret_file
from verifier.base import logs
from verifier.inputs.config_values import NodeConfig

TEXT_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: "
)


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    yield
    logs.configure(logging.WARNING, "text")


def lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line]


@pytest.mark.parametrize(
    ("kwargs", "env", "expected"),
    [
        ({}, {}, logging.WARNING),
        ({"verbose": 1}, {}, logging.INFO),
        ({"verbose": 2}, {}, logging.DEBUG),
        ({"verbose": 5}, {}, logging.DEBUG),
        ({"quiet": True}, {}, logging.ERROR),
        ({"level": "debug"}, {"POR_LOG_LEVEL": "error"}, logging.DEBUG),
        ({}, {"POR_LOG_LEVEL": "Info"}, logging.INFO),
        ({}, {"POR_LOG_LEVEL": "warn"}, logging.WARNING),
        ({"quiet": True}, {"POR_LOG_LEVEL": "debug"}, logging.ERROR),
    ],
)
def test_level_from_flags_then_environment(
    kwargs: dict[str, object], env: dict[str, str], expected: int
) -> None:
    assert logs.resolve_level(env=env, **kwargs) == expected  # type: ignore[arg-type]


def test_unknown_level_or_format_is_named() -> None:
    with pytest.raises(ValueError, match="POR_LOG_LEVEL"):
        logs.resolve_level(env={"POR_LOG_LEVEL": "loud"})
    with pytest.raises(ValueError, match="POR_LOG_FORMAT"):
        logs.resolve_format(env={"POR_LOG_FORMAT": "xml"})
    assert logs.resolve_format(env={"POR_LOG_FORMAT": "JSON"}) == "json"
    assert logs.resolve_format("text", env={"POR_LOG_FORMAT": "json"}) == "text"


def test_levels_filter_records(capsys: pytest.CaptureFixture[str]) -> None:
    log = logging.getLogger("verifier.history.schedule")
    logs.configure(logging.WARNING, "text")
    log.debug("d1")
    log.info("i1")
    log.warning("w1")
    log.error("e1")
    assert [line.split(": ", 1)[1] for line in lines(capsys)] == ["w1", "e1"]
    logs.configure(logging.ERROR, "text")
    log.warning("w2")
    log.error("e2")
    assert [line.split(": ", 1)[1] for line in lines(capsys)] == ["e2"]
    logs.configure(logging.DEBUG, "text")
    log.debug("d3")
    assert lines(capsys)[0].endswith("d3")


def test_text_lines_have_utc_time_level_logger(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure(logging.INFO, "text")
    logging.getLogger("verifier.history.schedule").info("run %s ok", 5, extra={"run_id": 5})
    (line,) = lines(capsys)
    assert TEXT_LINE.match(line), line
    assert " INFO verifier.history.schedule: run 5 ok [run_id=5]" in line


def test_json_lines_parse_with_extra_fields(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure(logging.DEBUG, "json")
    log = logging.getLogger("chains.rpc")
    log.debug("first")
    log.warning("retry %d", 2, extra={"attempt": 2, "backoff_seconds": 0.4})  # float-ok: s
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("failed")
    docs = [json.loads(line) for line in lines(capsys)]
    assert [d["message"] for d in docs] == ["first", "retry 2", "failed"]
    for doc in docs:
        assert set(doc) >= {"time", "level", "logger", "message"}
        assert doc["logger"] == "chains.rpc"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", doc["time"])
    assert docs[1]["level"] == "WARNING" and docs[1]["attempt"] == 2
    assert "RuntimeError: boom" in docs[2]["exception"]


def test_configure_is_idempotent(capsys: pytest.CaptureFixture[str]) -> None:
    for _ in range(3):
        logs.configure(logging.INFO, "text")
    logging.getLogger("verifier").info("once")
    assert len(lines(capsys)) == 1


def test_libraries_stay_quiet_below_debug(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure(logging.INFO, "text")
    logging.getLogger("sqlalchemy.engine").info("SELECT secret FROM t")
    logging.getLogger("aiohttp.access").info("GET /")
    assert lines(capsys) == []


PASSWORD = "correct-horse-battery-9f3k"
API_KEY = "k3yV4lue0123456789abcdefXYZ"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_secrets_never_reach_a_log_record(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fmt: str,
) -> None:
    """A password from a file, a password from the environment, a URL (with its API key)
    from a file and from the environment: none appears in any record at DEBUG, whether in
    the message, its arguments, an extra field or an exception."""
    pw_file = tmp_path / "pass"
    pw_file.write_text(PASSWORD + "\n")
    pw_file.chmod(0o600)
    url_file = tmp_path / "url"
    url_file.write_text(f"https://node.example/rpc/{API_KEY}/x\n")
    url_file.chmod(0o600)
    env_password = "env-pass-Q7w8e9r0t"
    env_url = "https://gw.example/?apikey=ZmFrZS1rZXktZnJvbS1lbnY&chain=1"
    monkeypatch.setenv("POR_TEST_PW", env_password)
    monkeypatch.setenv("POR_TEST_URL", env_url)

    auth_from_sources(user="u", password_file=pw_file)
    auth_from_sources(user="u", password_env="POR_TEST_PW")
    node = NodeConfig(section="ethereum", file=tmp_path / "por.toml", url_file=url_file)
    from_file = node.node_url()
    node_env = NodeConfig(section="ethereum", file=tmp_path / "por.toml", url_env="POR_TEST_URL")
    from_env = node_env.node_url()
    assert read_secret_file(pw_file, "password file") == PASSWORD

    logs.configure(logging.DEBUG, fmt)
    log = logging.getLogger("chains.ethereum")
    log.debug("connecting to %s with %s", from_file, PASSWORD)
    log.debug(f"url {from_env} password {env_password}")
    log.info("request", extra={"url": from_file, "password": env_password})
    log.warning("header %s", auth_from_sources(user="u", password_file=pw_file))
    log.error("at https://admin:hunter2-pass@node.example:8332/ failed")
    try:
        raise ConnectionError(f"cannot reach {from_env} ({PASSWORD})")
    except ConnectionError:
        log.exception("failed")
    text = capsys.readouterr().err
    assert text.count("\n") >= 6
    for secret in (PASSWORD, API_KEY, env_password, "ZmFrZS1rZXktZnJvbS1lbnY", "hunter2-pass"):
        assert secret not in text
    import base64

    assert base64.b64encode(f"u:{PASSWORD}".encode()).decode() not in text
    assert "***" in text
    if fmt == "json":
        for line in text.splitlines():
            if line.startswith("{"):
                json.loads(line)


def test_short_values_are_not_registered(capsys: pytest.CaptureFixture[str]) -> None:
    logs.register_secret("abc")
    logs.register_secret(None)
    logs.configure(logging.INFO, "text")
    logging.getLogger("verifier").info("abc abc")
    assert lines(capsys)[0].endswith("abc abc")
