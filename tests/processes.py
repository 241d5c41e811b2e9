"""Real processes for tests: `manage.py` commands and a Celery worker, with a clean environment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What the test process sets for itself and a child must not inherit unless asked.
_OWN = {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _OWN}
    env.update(extra)
    return env


def run_manage(*args: str, env: dict[str, str], timeout: int = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@contextmanager
def celery_worker(**env: str) -> Iterator[str]:
    """A real worker process consuming a private queue (its name is yielded), stopped after."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "fairlabel",
            "worker",
            "-Q",
            queue,
            "--concurrency=1",
            "--pool=solo",
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env=clean_env(DJANGO_SETTINGS_MODULE="fairlabel.settings.base", **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield queue
    finally:
        worker.terminate()
        worker.wait(timeout=30)


@contextmanager
def celery_process(*args: str, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """`celery -A fairlabel ARGS...` in its own process group (so a test can SIGKILL all of it),
    its log in `log`; stopped (and its children) after."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "fairlabel", *args],
            cwd=ROOT,
            env=clean_env(DJANGO_SETTINGS_MODULE="fairlabel.settings.base", **env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen) -> None:
    """SIGTERM the process group of a process started with start_new_session, then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            # The group may outlive its leader (pool children): make sure it is gone.
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def children_of(pid: int) -> list[int]:
    """Live child processes of `pid` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


class HeldLock:
    """Another connection holds a lock on `table` (in `mode`), so that a process under test
    stops at the statement that needs it, inside its transaction; `waiting()` says when a
    statement starting like `statement` waits there. `release()` lets it go on."""

    def __init__(self, table: str, mode: str, statement: str) -> None:
        self.table, self.mode, self.statement = table, mode, statement

    def __enter__(self):
        from django.db import connections

        self.conn = connections.create_connection("default")
        self.conn.set_autocommit(False)
        with self.conn.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {self.table} IN {self.mode} MODE")
        return self

    def waiting(self) -> bool:
        with self.conn.cursor() as cursor:
            # Inside a transaction the activity view is a snapshot taken once: refresh it.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query ILIKE %s",
                [self.statement + "%"],
            )
            return cursor.fetchone()[0] == 1

    def release(self) -> None:
        self.conn.rollback()

    def __exit__(self, *exc):
        self.conn.close()
