"""A throwaway PostgreSQL server for the catalogue tests: initdb + pg_ctl in a temporary
folder, listening on 127.0.0.1 at a free port, stopped and removed afterwards.

As root (CI), the server runs as the ``postgres`` system user (PostgreSQL refuses root).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

PG_BIN_DIRS = [Path("/usr/lib/postgresql/15/bin"), *sorted(
    Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)]


def find_binaries() -> tuple[Path, Path] | None:
    """(initdb, pg_ctl), or None when PostgreSQL is not installed."""
    for folder in PG_BIN_DIRS:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder / "initdb", folder / "pg_ctl"
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return Path(initdb), Path(pg_ctl)
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """One server; :meth:`new_database` gives each test its own empty database."""

    def __init__(self, initdb: Path, pg_ctl: Path) -> None:
        self.pg_ctl = pg_ctl
        self.root = Path(tempfile.mkdtemp(prefix="mirrorvr-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._as = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run([str(initdb), "-D", str(self.data), "-U", "mirrorvr", "--auth=trust",
                   "-E", "UTF8", "--no-sync"])
        self._run([str(pg_ctl), "-D", str(self.data), "-l", str(self.root / "server.log"),
                   "-w", "-t", "60", "-o",
                   f"-h 127.0.0.1 -p {self.port} -k {self.root} -F", "start"])
        self.url = f"postgresql+psycopg://mirrorvr@127.0.0.1:{self.port}"

    def _run(self, cmd: list[str]) -> None:
        out = subprocess.run(self._as + cmd, capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            log = self.root / "server.log"
            raise RuntimeError(f"{cmd[0]} failed ({out.returncode}): {out.stderr}\n"
                               + (log.read_text() if log.exists() else ""))

    def new_database(self) -> str:
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=mirrorvr dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"{self.url}/{name}"

    def stop(self) -> None:
        try:
            self._run([str(self.pg_ctl), "-D", str(self.data), "-m", "fast", "-w", "stop"])
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
