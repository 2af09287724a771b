"""A throwaway PostgreSQL cluster for the tests: initdb in a temporary directory, listening on
127.0.0.1 on a free port only, stopped and deleted afterwards.

PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` system user
(Debian's package creates it). The tests connect as `sessionbot`, a role that may create
databases but is no superuser: the store's migrations must need no more than an owner's rights.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import pytest

from storage import PostgresStore

NO_POSTGRES = (
    "PostgreSQL is not installed here (no initdb) and SESSIONBOT_TEST_POSTGRES is not set; "
    "install Debian's postgresql package to run this half too"
)
TEMPLATE = "sessionbot_template"
SUPERUSER = "postgres"
ROLE = "sessionbot"
# Characters that must be URL-escaped in a DSN, so the tests prove escaped passwords work.
ROLE_PASSWORD = "p@ss:w/rd%?#"
_SUPERUSER_PASSWORD = "cluster-superuser-password"


def find_bin() -> Path | None:
    """The directory holding initdb and pg_ctl, if PostgreSQL is installed."""
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(found[0]).parent if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Cluster:
    """A running cluster; `dsn(db)` connects as the unprivileged role."""

    bin_dir: Path
    data_dir: Path
    port: int
    _run_as: list[str]

    def dsn(self, database: str, *, superuser: bool = False) -> str:
        user, password = (SUPERUSER, _SUPERUSER_PASSWORD) if superuser else (ROLE, ROLE_PASSWORD)
        return f"postgresql://{user}:{quote(password, safe='')}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        subprocess.run(
            [*self._run_as, str(self.bin_dir / "pg_ctl"), "stop", "-D", str(self.data_dir),
             "-m", "immediate", "-w"],
            check=False, capture_output=True,
        )  # fmt: skip
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)


def start(bin_dir: Path) -> Cluster:
    """initdb, start and return a cluster; raise RuntimeError (with PostgreSQL's words) if not."""
    # .ci/run names a directory of its own, so that it can clean up after a killed run.
    parent = os.environ.get("SESSIONBOT_TEST_POSTGRES_DIR") or None
    root = Path(tempfile.mkdtemp(prefix="sessionbot-pg-", dir=parent))
    data_dir = root / "data"
    run_as: list[str] = []
    if os.geteuid() == 0:
        account = pwd.getpwnam(SUPERUSER)
        os.chown(root, account.pw_uid, account.pw_gid)
        run_as = ["runuser", "-u", SUPERUSER, "--"]
    password_file = root / "pwfile"
    password_file.write_text(_SUPERUSER_PASSWORD + "\n")
    if run_as:
        os.chown(password_file, account.pw_uid, account.pw_gid)
    port = _free_port()
    cluster = Cluster(bin_dir=bin_dir, data_dir=data_dir, port=port, _run_as=run_as)
    try:
        _run([*run_as, str(bin_dir / "initdb"), "-D", str(data_dir), "-U", SUPERUSER,
              "--pwfile", str(password_file), "--auth=scram-sha-256", "-E", "UTF8",
              "--locale=C.UTF-8", "--no-sync"])  # fmt: skip
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories='' "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200 "
            # An autovacuum worker in a test's database would make its DROP DATABASE ... WITH
            # (FORCE) fail: the tests' role may not terminate it (no pg_signal_backend).
            "-c autovacuum=off"
        )
        _run([*run_as, str(bin_dir / "pg_ctl"), "start", "-D", str(data_dir), "-w",
              "-t", "60", "-l", str(root / "server.log"), "-o", options])  # fmt: skip
    except RuntimeError:
        log_file = root / "server.log"
        tail = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
        cluster.stop()
        raise RuntimeError(f"PostgreSQL did not start: {tail}") from None
    return cluster


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{command[-1]}: {done.stderr.strip() or done.stdout.strip()}")


@dataclass
class PostgresServer:
    """Where the tests make their databases: `admin_url` is a role that may create them."""

    admin_url: str
    _numbers: Iterator[int] = field(default_factory=itertools.count)

    def url(self, database: str) -> str:
        return urlunsplit(urlsplit(self.admin_url)._replace(path=f"/{database}"))

    async def prepare(self) -> None:
        """A migrated template database, copied by every `fresh_database`."""
        conn = await asyncpg.connect(self.admin_url)
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
            await conn.execute(f"CREATE DATABASE {TEMPLATE}")
        finally:
            await conn.close()
        async with PostgresStore.open(self.url(TEMPLATE)):
            pass

    def new_name(self) -> str:
        return f"sessionbot_test_{os.getpid()}_{next(self._numbers)}"

    @contextlib.asynccontextmanager
    async def fresh_database(self, *, migrated: bool = True) -> AsyncIterator[str]:
        """The URL of a new database (a copy of the migrated template, or empty), dropped after."""
        name = self.new_name()
        conn = await asyncpg.connect(self.admin_url)
        try:
            template = f" TEMPLATE {TEMPLATE}" if migrated else ""
            if migrated and conn.get_server_version().major >= 15:
                template += " STRATEGY FILE_COPY"  # for a small database, 5 times faster
            await conn.execute(f"CREATE DATABASE {name}{template}")
            try:
                yield self.url(name)
            finally:
                await conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
        finally:
            await conn.close()


def _required() -> bool:
    return os.environ.get("CI", "").lower() == "true" or bool(
        os.environ.get("SESSIONBOT_REQUIRE_POSTGRES")
    )


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer | None]:
    """The server at SESSIONBOT_TEST_POSTGRES, or a throwaway cluster, or None (outside CI)."""
    given = os.environ.get("SESSIONBOT_TEST_POSTGRES")
    if given:
        server = PostgresServer(given)
        asyncio.run(server.prepare())
        yield server
        return
    bin_dir = find_bin()
    if bin_dir is None:
        if _required():
            pytest.fail(f"CI needs PostgreSQL: {NO_POSTGRES}", pytrace=False)
        yield None
        return
    try:
        cluster = start(bin_dir)
    except RuntimeError as exc:
        if _required():
            pytest.fail(str(exc), pytrace=False)
        raise
    try:
        asyncio.run(_create_role(cluster))
        server = PostgresServer(cluster.dsn("postgres"))
        asyncio.run(server.prepare())
        yield server
    finally:
        cluster.stop()


async def _create_role(cluster: Cluster) -> None:
    conn = await asyncpg.connect(cluster.dsn("postgres", superuser=True))
    try:
        await conn.execute(
            f"CREATE ROLE {ROLE} LOGIN CREATEDB PASSWORD '{ROLE_PASSWORD}'"  # a test constant
        )
    finally:
        await conn.close()
