"""A throwaway PostgreSQL server for the persistence tests, started by the tests themselves.

`initdb` in a temp dir, `pg_ctl start` on a free port with the unix socket in that dir,
trust auth on loopback, one fresh database per test. As root (CI), initdb and postgres
refuse to run, so they run as the `postgres` system user (Debian's package creates it;
created here if missing) via `runuser`. Outside CI, missing binaries skip the test with a
reason; under CI (`CI=true`) they fail it.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

_counter = itertools.count()


def _bindir() -> Path | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="por-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_root = os.geteuid() == 0
        self.started = False

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    def start(self) -> PostgresServer:
        if self.as_root:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)
            shutil.chown(self.root, "postgres")
        result = self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "por",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )
        if result.returncode:
            raise RuntimeError(f"initdb failed: {result.stderr}")
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        result = self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        if result.returncode:
            log = (self.root / "log").read_text() if (self.root / "log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {result.stderr} {log}")
        self.started = True
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://por@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        import psycopg

        name = f"por_{os.getpid()}_{next(_counter)}"
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=por dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self.started:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres() -> PostgresServer:
    bindir = _bindir()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL server binaries (initdb, pg_ctl) are required under CI")
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    server = PostgresServer(bindir)
    try:
        return server.start()
    except Exception:
        server.stop()
        raise


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database: a SQLite file, or a new database on the test server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'por.db'}"
    server: PostgresServer = request.getfixturevalue("pg_server")
    return server.create_database()


def wait_for(condition: object, timeout: float = 30.0) -> None:  # float-ok: seconds
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if callable(condition) and condition():
                return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


# ----------------------------------------------------------------------------- shared helpers
# (used by the history tests in tests/integration and tests/unit)


def sample_report(
    *, btc_ratio: str = "1.01", eth_units: int = 3 * 10**24, exit_code: int = 0
) -> dict[str, object]:
    """A por-report-v1 shaped document with the fields the store maps (not a real run)."""
    covered = exit_code == 0

    def amount(units: int) -> dict[str, str]:
        return {"base_units": str(units), "amount": str(units), "value": "0"}

    return {
        "report": "por-report-v1",
        "report_id": f"sha256:{btc_ratio}-{eth_units}",
        "currency": "JPY",
        "chains": [
            {"chain": "bitcoin", "network": "regtest", "height": 501, "block_hash": "ab" * 32},
            {"chain": "ethereum", "network": "31337", "height": 5, "block_hash": "cd" * 32},
        ],
        "wallets": [
            {
                "chain": "ethereum",
                "label": "cold",
                "wallet": "ethereum.wallets[0]",
                "class": "cold",
                "attribution": "customer",
                "address": "0x" + "11" * 20,
                "balances": {"ETH": {"base_units": str(eth_units), "amount": "x"}},
                "ownership": {"status": "proven", "scheme": "eip191", "reason": ""},
            }
        ],
        "assets": [
            {
                "code": "BTC",
                "decimals": 8,
                "liabilities": amount(100_000_000),
                "holdings": amount(101_000_000),
                "shortfall": amount(0),
                "surplus": amount(1_000_000),
                "coverage_ratio": btc_ratio,
                "threshold": "1",
                "covered": covered,
            },
            {
                "code": "ETH",
                "decimals": 18,
                "liabilities": amount(eth_units - 1),
                "holdings": amount(eth_units),
                "shortfall": amount(0),
                "surplus": amount(1),
                "coverage_ratio": "1.000000000000000000000000333",
                "threshold": "1",
                "covered": True,
            },
        ],
        "combined": {"ratio": "1.02", "met": True},
        "reserve": {
            "currency": "JPY",
            "required": {"amount": "5520453201.8964376"},
            "eligible": {
                "total": "6260226600.9482188",
                "components": [
                    {
                        "kind": "cash",
                        "name": "trust",
                        "amount": "3500000000",
                        "eligible": "3500000000",
                    },
                    {
                        "kind": "insurance",
                        "name": "crime",
                        "amount": "4000000000",
                        "eligible": "2760226600.9482188",
                    },
                ],
            },
            "met": covered,
        },
        "verdict": {
            "covered": covered,
            "reserve_met": covered,
            "exit_code": exit_code,
            "breaches": []
            if covered
            else [{"kind": "asset", "subject": "BTC", "message": "BTC is under-covered"}],
        },
    }


class WebhookReceiver:
    """An aiohttp server in a thread that records POSTed JSON; answers `statuses` in turn
    (then 200)."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        import asyncio
        import threading

        self.statuses = list(statuses or [])
        self.received: list[object] = []
        self.attempts = 0
        self.loop = asyncio.new_event_loop()
        self.port = _free_port()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def _serve(self) -> None:
        import asyncio

        from aiohttp import web

        async def hook(request: web.Request) -> web.Response:
            self.attempts += 1
            status = self.statuses.pop(0) if self.statuses else 200
            if status == 200:
                self.received.append(await request.json())
            return web.json_response({"ok": status == 200}, status=status)

        async def start() -> web.AppRunner:
            app = web.Application()
            app.router.add_post("/hook", hook)
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", self.port).start()
            return runner

        asyncio.set_event_loop(self.loop)
        self.runner = self.loop.run_until_complete(start())
        self._ready.set()
        self.loop.run_forever()

    def close(self) -> None:
        import asyncio

        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
