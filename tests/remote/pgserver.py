"""A throwaway PostgreSQL server for tests (the same steps as scripts/ci_postgres.sh)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
from pathlib import Path


def find_bin(name: str) -> str | None:
    """``name`` on PATH, or the newest /usr/lib/postgresql/<version>/bin/<name> (Debian)."""
    p = shutil.which(name)
    if p:
        return p
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                   key=lambda s: [int(x) if x.isdigit() else 0 for x in s.split("/")[4].split(".")])
    return found[-1] if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """``start()``, ``stop()`` (``pg_ctl stop -m fast``), ``url(db)``, ``create_db``, ``destroy``."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.data = self.root / "data"
        self.port = free_port()
        self.controllable = True
        self.as_root = os.geteuid() == 0
        self.user = "postgres" if self.as_root else _whoami()
        self._base_url: str | None = None

    @classmethod
    def external(cls, url: str) -> "PgServer":
        s = cls.__new__(cls)
        s.controllable = False
        s._base_url = url
        return s

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = list(args)
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        if not self.data.exists():
            if self.as_root:
                shutil.chown(self.root, "postgres", "postgres")
            os.chmod(self.root, 0o700)
            self._run(find_bin("initdb"), "-D", str(self.data), "-U", self.user, "--auth=trust",
                      "--encoding=UTF8", "--no-locale", "-N")
        r = self._run(find_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"), "-w",
                      "-t", "60", "-o", f"-c listen_addresses=127.0.0.1 -p {self.port} "
                      f"-c unix_socket_directories={self.root} -c fsync=off -c max_connections=100",
                      "start", check=False)
        if r.returncode != 0:
            log = (self.root / "server.log").read_text() if (self.root / "server.log").exists() else ""
            raise RuntimeError(f"PostgreSQL did not start: {r.stdout}{r.stderr}\n{log[-2000:]}")

    def stop(self, mode: str = "fast") -> None:
        self._run(find_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        self._run(find_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)

    def url(self, db: str = "postgres") -> str:
        if self._base_url is not None:
            return self._base_url.rsplit("/", 1)[0] + "/" + db
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{db}"

    def _admin(self, statement: str) -> None:
        import psycopg
        admin_db = "postgres" if self._base_url is None else self._base_url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(admin_db), autocommit=True) as conn:
            conn.execute(statement)

    def create_db(self, name: str) -> None:
        self._admin(f'CREATE DATABASE "{name}"')

    def drop_db(self, name: str) -> None:
        try:
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except Exception:
            pass   # the server may be down after a failed test; the session's teardown removes it all


def _whoami() -> str:
    import pwd
    return pwd.getpwuid(os.geteuid()).pw_name
