"""Jobs against real processes: a Celery worker (prefork) and beat on Redis, PostgreSQL, the web
server; the worker's pool child and the whole worker killed with SIGKILL; the broker down.

The lease and the sweep are seconds long here (FAIRLABEL_JOB_LEASE_SECONDS=2, sweep every
second) so that recovery shows in seconds; production defaults are 60 s and 30 s."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection

from labeling.models import ExportJob, ImportJob
from tests.factories import project_factory
from tests.processes import ROOT, HeldLock, celery_process, children_of, clean_env, stop_group

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

ROWS = 60_000  # enough for a progress report and the ANALYZE the test holds the import at
LEASE = "2"


def _database_url() -> str:
    db = connection.settings_dict
    return (
        f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )


def _env(queue: str, redis_url: str, lease: str = LEASE) -> dict[str, str]:
    return {
        "DATABASE_URL": _database_url(),
        "REDIS_URL": redis_url,
        "FAIRLABEL_VAR_DIR": str(settings.VAR_DIR),  # where the test stored the upload
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "FAIRLABEL_JOB_LEASE_SECONDS": lease,
        "FAIRLABEL_JOB_SWEEP_SECONDS": "1",
    }


@contextmanager
def _worker(queue: str, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    args = ["worker", "-Q", queue, "-n", f"{queue}-{uuid.uuid4().hex[:4]}@%h"]
    args += ["--pool=prefork", "--concurrency=1", "--loglevel=INFO", "--without-mingle"]
    args += ["--without-gossip"]
    with celery_process(*args, env=env, log=log) as process:
        yield process


@contextmanager
def _beat(env: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen]:
    schedule = str(tmp_path / "beat-schedule")
    with celery_process(
        "beat", "--schedule", schedule, "--loglevel=INFO", env=env, log=tmp_path / "beat.log"
    ) as process:
        yield process


def _until(check: Callable[[], object], timeout: float, what: str, logs: Path) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    tails = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(logs.glob("*.log")))
    pytest.fail(f"timed out waiting for {what}\n{tails}")


def _import_job(owner) -> ImportJob:
    """A committed, pending import job that no one has published: the beat sweep will."""
    project = project_factory(owner)
    content = b"\n".join(orjson.dumps({"text": f"row {n}"}) for n in range(ROWS))
    return ImportJob.objects.create(
        project=project,
        created_by=owner,
        format="jsonl",
        file=ContentFile(content, name="big.jsonl"),
        size_bytes=len(content),
    )


class _HeldAtAnalyze(HeldLock):
    """Hold SHARE UPDATE EXCLUSIVE on the task table from another connection: the import COPYs
    every row, then waits at its ANALYZE, still inside its transaction. There it is killed."""

    def __init__(self) -> None:
        super().__init__("labeling_task", "SHARE UPDATE EXCLUSIVE", "ANALYZE")

    def peek(self, job_id: int, project_id: int) -> tuple:
        """The job row and the task count as any other client sees them now."""
        with self.conn.cursor() as cursor:
            cursor.execute(
                "SELECT status, total, imported FROM labeling_importjob WHERE id = %s", [job_id]
            )
            row = cursor.fetchone()
            cursor.execute("SELECT count(*) FROM labeling_task WHERE project_id = %s", [project_id])
            return (*row, cursor.fetchone()[0])


@contextmanager
def _queue_dropped_after(queue: str) -> Iterator[None]:
    """Leave nothing in the shared Redis: beat keeps sending to the private queue to the end."""
    try:
        yield
    finally:
        import redis

        client = redis.Redis.from_url(os.environ["REDIS_URL"])
        keys = list(client.scan_iter(match=f"*{queue}*"))
        if keys:
            client.delete(*keys)
        client.close()


def _fresh(job):
    job.refresh_from_db()
    return job


def _killed_at_analyze(
    owner, tmp_path, kill: Callable[[subprocess.Popen], None], *, restart: bool, lease: str
):
    """Run an import on a real worker, SIGKILL it (`kill`) while the import's transaction holds
    every row, and return (job, seconds from the kill to the job done)."""
    queue = f"test-jobs-{uuid.uuid4().hex[:8]}"
    env = _env(queue, os.environ["REDIS_URL"], lease)
    job = _import_job(owner)
    with _queue_dropped_after(queue), _HeldAtAnalyze() as held, _beat(env, tmp_path):
        with _worker(queue, env, tmp_path / "worker-1.log") as worker:
            _until(held.waiting, 90, "the import to reach its ANALYZE", tmp_path)
            status, total, imported, visible = held.peek(job.pk, job.project_id)
            # Every row is written, none committed, and the job says so.
            assert (status, imported, visible) == ("running", 0, 0)
            assert total >= 50_000  # progress was saved while the rows went in
            kill(worker)
            killed = time.monotonic()
            held.release()
            if not restart:
                _until(lambda: _fresh(job).status == "done", 60, "the job to finish", tmp_path)
                done = time.monotonic()
        if restart:
            with _worker(queue, env, tmp_path / "worker-2.log"):
                _until(lambda: _fresh(job).status == "done", 60, "the job to finish", tmp_path)
                done = time.monotonic()
    return _fresh(job), done - killed


def _kill_child(worker: subprocess.Popen) -> None:
    (child,) = children_of(worker.pid)
    os.kill(child, signal.SIGKILL)


def _kill_all(worker: subprocess.Popen) -> None:
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)


def test_an_import_whose_pool_child_was_killed_finishes_once(owner, tmp_path):
    """Celery gives the message back; the next child sees the lease's holder is gone and takes
    over at once: well before the 30 s lease lapses, nowhere near the broker's 4 h."""
    job, seconds = _killed_at_analyze(owner, tmp_path, _kill_child, restart=False, lease="30")
    print(f"\npool child SIGKILLed: the import was done {seconds:.1f} s later")
    assert (job.status, job.imported, job.total, job.error_count) == ("done", ROWS, ROWS, 0)
    assert job.attempts == 2 and job.lease_token is None
    assert job.project.tasks.count() == ROWS
    assert seconds < 20


def test_an_import_whose_whole_worker_was_killed_finishes_once(owner, tmp_path):
    """Nothing gives the message back (Redis would after its 4 h visibility timeout): the lease
    lapses, beat's sweep queues the job again, and a new worker runs it."""
    job, seconds = _killed_at_analyze(owner, tmp_path, _kill_all, restart=True, lease=LEASE)
    print(f"\nwhole worker SIGKILLed: the import was done {seconds:.1f} s later")
    assert (job.status, job.imported, job.total) == ("done", ROWS, ROWS)
    assert job.attempts == 2
    assert job.project.tasks.count() == ROWS
    assert seconds < 45  # includes starting the new worker


# --- the broker down ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _multipart(fields: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = b""
    for name, (filename, content) in fields.items():
        body += (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
            ).encode()
            + content
            + b"\r\n"
        )
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _post(url: str, token: str, body: bytes, content_type: str) -> tuple[int, dict, float]:
    request = urllib.request.Request(  # noqa: S310 (a local http:// URL)
        url,
        data=body,
        method="POST",
        headers={"Authorization": f"Token {token}", "Content-Type": content_type},
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (local)
            status, payload = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, payload = exc.code, exc.read()
    return status, orjson.loads(payload), time.monotonic() - started


def test_with_the_broker_down_jobs_are_accepted_at_once_and_run_when_it_is_back(owner, tmp_path):
    from rest_framework.authtoken.models import Token

    from tests.conftest import missing

    if shutil.which("redis-server") is None:
        missing("needs redis-server, to start a broker of the test's own")
    broker_port, web_port = _free_port(), _free_port()
    redis_url = f"redis://127.0.0.1:{broker_port}/0"  # nothing listens there yet
    queue = f"test-jobs-{uuid.uuid4().hex[:8]}"
    env = _env(queue, redis_url)
    project = project_factory(owner, tasks=2)
    token = Token.objects.create(user=owner).key
    with (tmp_path / "web.log").open("ab") as log:
        web = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{web_port}", "--noreload"],
            cwd=ROOT,
            env=clean_env(DJANGO_SETTINGS_MODULE="fairlabel.settings.base", **env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{web_port}"

        def up() -> bool:
            try:
                urllib.request.urlopen(f"{base}/api/me/", timeout=5).close()  # noqa: S310
            except urllib.error.HTTPError:
                return True  # 401/403: it answers (and has loaded the API)
            except (urllib.error.URLError, OSError):
                return False
            return True

        _until(up, 60, "the web server", tmp_path)
        body, kind = _multipart({"file": ("t.jsonl", b'{"text": "a"}\n{"text": "b"}\n')})
        status, imported, import_seconds = _post(
            f"{base}/api/projects/{project.pk}/imports/", token, body, kind
        )
        status_export, exported, export_seconds = _post(
            f"{base}/api/projects/{project.pk}/exports/",
            token,
            b'{"format": "jsonl"}',
            "application/json",
        )
    finally:
        stop_group(web)
    print(
        f"\nbroker down: import answered in {import_seconds:.2f} s, "
        f"export in {export_seconds:.2f} s"
    )
    assert (status, imported["status"], imported["enqueued_at"]) == (202, "pending", None)
    assert (status_export, exported["status"], exported["enqueued_at"]) == (202, "pending", None)
    assert import_seconds < 2 and export_seconds < 2

    # The broker comes back: the beat sweep hands both jobs over, and they run.
    redis = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(broker_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        back = time.monotonic()
        with _beat(env, tmp_path), _worker(queue, env, tmp_path / "worker.log"):
            import_job, export_job = (
                ImportJob.objects.get(pk=imported["id"]),
                ExportJob.objects.get(pk=exported["id"]),
            )
            _until(
                lambda: _fresh(import_job).status == "done" and _fresh(export_job).status == "done",
                60,
                "both jobs to run once the broker is back",
                tmp_path,
            )
            print(
                f"broker back: both jobs done {time.monotonic() - back:.1f} s later "
                "(with starting the worker and beat)"
            )
    finally:
        stop_group(redis)
    assert project.tasks.count() == 4
    assert (import_job.attempts, export_job.attempts) == (1, 1)
    assert import_job.enqueued_at is not None and export_job.exported == 4
