"""Dispatcher benchmark: next + submit through the HTTP API under gunicorn, on PostgreSQL.

    .venv/bin/python bench/dispatch.py [--sizes 10000,100000,1000000] [--cycles 400]
                                       [--clients 32] [--seconds 15] [--port 8765]

Creates (drops first) the database `fairlabel_bench_dispatch` (env BENCH_DB), migrates it
with manage.py, loads one text project per size (overlap 1) with INSERT ... SELECT
generate_series, plus a 10k-task
project with overlap 3 for the "annotator ahead of everyone" case, starts gunicorn with 4
workers on 127.0.0.1, and measures:
  - one client: p50/p95 latency of next and of submit at each size (after a warm-up);
  - 32 clients (threads, each its own annotator and keep-alive connection) on the largest
    overlap-1 project: next+submit cycles per second for a fixed time;
  - on a project of the largest size where 99% of the tasks carry gore: one annotator without
    consent (the safe 0.5% only), one who consented to violence only (the other 1%), one who
    consented to all;
then the largest project again with the rules off (labeling's own gate only, no hooks) beside
the default settings (every gate and hook of the working-time rules on), and checks that no
slot was handed out twice. Results are printed, not asserted. `--reuse --restricted-only`:
only the restricted claims, beside an unrestricted client, one cycle of each in turn.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
# Its own database: bench/import_export.py drops and recreates `fairlabel_bench` as it runs.
DB_NAME = os.environ.get("BENCH_DB", "fairlabel_bench_dispatch")
DATABASE_URL = f"{PG}/{DB_NAME}"
HOST = "127.0.0.1"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --- database --------------------------------------------------------------------------------


def create_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    env = {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "DJANGO_SETTINGS_MODULE": "fairlabel.settings.base",
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=600,
    )


def setup_django() -> None:
    os.environ["DATABASE_URL"] = DATABASE_URL
    os.environ["DJANGO_SETTINGS_MODULE"] = "fairlabel.settings.base"
    os.environ.setdefault("DEBUG", "0")
    import django

    django.setup()
    from django.conf import settings

    # Bench users sign in by token: a slow password hash only delays the set-up.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def load_project(owner, *, size: int, overlap: int, mostly_sensitive: bool = False):
    """A published text project of `size` tasks, inserted by the database itself. With
    `mostly_sensitive`, the project declares `violence` and `gore`: 99% of its tasks carry both
    (they follow the project), 0.5% carry `violence` alone and 0.5% are marked safe."""
    from django.db import connection

    from labeling.categories import mask_of
    from labeling.services import project_create, project_publish

    project = project_create(
        owner=owner,
        title=f"bench {size} x{overlap}",
        task_type="text_classification",
        labels=["pos", "neg", "neutral"],
        price_per_task="0.10",
        estimated_seconds_per_task=20,
        annotations_per_task=overlap,
        content_categories=["violence", "gore"] if mostly_sensitive else [],
    )
    both, violence = mask_of(["violence", "gore"]), mask_of(["violence"])
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO labeling_task (project_id, data, categories, category_mask, slots_free, "
            "annotation_count, created_at) SELECT %s, jsonb_build_object('text', "
            "'Review number ' || g || ': the battery lasts all day and the screen is sharp.'),"
            " CASE WHEN NOT %s THEN NULL WHEN g %% 200 = 0 THEN '[]'::jsonb"
            " WHEN g %% 200 = 100 THEN '[\"violence\"]'::jsonb END,"
            " CASE WHEN NOT %s THEN 0 WHEN g %% 200 = 0 THEN 0 WHEN g %% 200 = 100 THEN %s"
            " ELSE %s END, %s, 0, now() FROM generate_series(1, %s) AS g",
            [project.pk, mostly_sensitive, mostly_sensitive, violence, both, overlap, size],
        )
    from payments.services import project_fund

    project_fund(project=project, amount="99999999.00")
    return project_publish(project=project)


def _consent(token: str, project, categories: list[str] | None = None) -> None:
    """Consent to `categories` (all of them by default)."""
    from rest_framework.authtoken.models import Token

    from labeling.models import Category
    from workers.services import consent_set

    user = Token.objects.get(key=token).user
    consent_set(
        annotator=user,
        project=project,
        categories=list(Category.values) if categories is None else categories,
    )


def make_annotators(count: int) -> list[str]:
    from rest_framework.authtoken.models import Token

    from accounts.roles import Role
    from accounts.services import user_create

    tokens = []
    for _ in range(count):
        user = user_create(
            username=f"bench-{uuid.uuid4().hex[:10]}",
            password=uuid.uuid4().hex,
            role=Role.ANNOTATOR,
            country="KE",
            timezone="UTC",
            check_password=False,
        )
        tokens.append(Token.objects.create(user=user).key)
    return tokens


# --- HTTP ------------------------------------------------------------------------------------


class Client:
    """One annotator on one keep-alive connection (reopened when the server closes it)."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection(HOST, port, timeout=30)
        self.headers = {
            "Authorization": f"Token {token}",
            "Content-Type": "application/json",
            "Connection": "keep-alive",
        }

    def post(self, path: str, body: dict | None = None) -> tuple[int, dict | None, float]:
        payload = json.dumps(body).encode() if body is not None else b""
        for attempt in range(2):
            started = time.perf_counter()
            try:
                self.conn.request("POST", path, body=payload, headers=self.headers)
                response = self.conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                if attempt:
                    raise
                continue
            elapsed = (time.perf_counter() - started) * 1000
            if response.getheader("Connection", "").lower() == "close":
                self.conn.close()
            return response.status, (json.loads(data) if data else None), elapsed
        raise RuntimeError("unreachable")

    def cycle(self, project_id: int) -> tuple[int, float, int | None, float | None]:
        """next, then submit: (next status, next ms, submit status, submit ms)."""
        status, body, next_ms = self.post(f"/api/projects/{project_id}/next/")
        if status != 200:
            return status, next_ms, None, None
        code, _, submit_ms = self.post(
            f"/api/assignments/{body['assignment']}/submit/", {"result": {"label": "pos"}}
        )
        return status, next_ms, code, submit_ms


# The dispatcher with labeling's own gate only and no hooks: the figure before the rules.
GATES_OFF = {
    "FAIRLABEL_DISPATCH_GATES": "labeling.policies.project_open_gate",
    "FAIRLABEL_ASSIGNMENT_HOOKS": ",",
}


# Every rule on but the budget: what reserving each task's pay costs.
BUDGET_OFF = {
    "FAIRLABEL_DISPATCH_GATES": "labeling.policies.project_open_gate,"
    "workers.policies.working_time_gate,workers.policies.exposure_gate",
    "FAIRLABEL_ASSIGNMENT_HOOKS": "workers.policies.WorkingTimeHooks",
}


def start_gunicorn(port: int, workers: int, extra_env: dict | None = None) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "fairlabel.settings.base",
        "DEBUG": "0",
        "DATABASE_URL": DATABASE_URL,
        "ALLOWED_HOSTS": HOST,
        **(extra_env or {}),
    }
    env.pop("REDIS_URL", None)
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "fairlabel.wsgi",
            "-w",
            str(workers),
            "--bind",
            f"{HOST}:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status in (200, 503):
                return server
        except OSError:
            time.sleep(0.3)
    server.terminate()
    raise RuntimeError("gunicorn did not start")


# --- measurements ----------------------------------------------------------------------------


def one_client(
    port: int, token: str, project_id: int, cycles: int, warmup: int
) -> dict[str, float]:
    client = Client(port, token)
    next_ms, submit_ms, created = [], [], 0
    deadline = time.monotonic() + 300
    for n in range(warmup + cycles):
        if time.monotonic() > deadline:
            break
        status, n_ms, code, s_ms = client.cycle(project_id)
        if status != 200:
            raise RuntimeError(f"next answered {status}")
        created += code == 201
        if n >= warmup:
            next_ms.append(n_ms)
            submit_ms.append(s_ms)
    return {
        "next_p50": percentile(next_ms, 0.5),
        "next_p95": percentile(next_ms, 0.95),
        "submit_p50": percentile(submit_ms, 0.5),
        "submit_p95": percentile(submit_ms, 0.95),
        "cycles": len(next_ms),
        "created": created,
    }


def side_by_side(
    port: int, clients: list[tuple[str, str, int]], cycles: int, warmup: int
) -> dict[str, dict[str, float]]:
    """One cycle of each client in turn, `cycles` times: on a shared machine a burst of load
    falls on every client alike, so their figures compare. `clients`: (label, token, project)."""
    conns = [(label, Client(port, token), project) for label, token, project in clients]
    latencies: dict[str, list[float]] = {label: [] for label, _, _ in clients}
    for n in range(warmup + cycles):
        for label, client, project_id in conns:
            status, n_ms, _code, _s_ms = client.cycle(project_id)
            if status != 200:
                raise RuntimeError(f"{label}: next answered {status}")
            if n >= warmup:
                latencies[label].append(n_ms)
    return {
        label: {"next_p50": percentile(ms, 0.5), "next_p95": percentile(ms, 0.95)}
        for label, ms in latencies.items()
    }


def many_clients(
    port: int, tokens: list[str], project_id: int, seconds: float, *, page_flow: bool = False
) -> dict[str, float]:
    """Cycles per second with one thread per annotator. `page_flow`: as the labeling page does
    it, each submit carries `"next": true` and brings the next task back (one request a cycle);
    otherwise next and submit are two requests."""
    results: list[dict] = [{"cycles": 0, "created": 0, "next": [], "errors": []} for _ in tokens]
    start = threading.Barrier(len(tokens) + 1)
    stop_at: list[float] = []

    def run(token: str, out: dict) -> None:
        client = Client(port, token)
        start.wait()
        if page_flow:
            return run_page_flow(client, out)
        for _ in range(100_000):
            if time.monotonic() > stop_at[0]:
                return
            try:
                status, n_ms, code, _ = client.cycle(project_id)
            except Exception as exc:
                out["errors"].append(repr(exc))
                return
            if status == 204:
                return
            if status != 200 or code != 201:
                out["errors"].append(f"next {status} submit {code}")
                return
            out["cycles"] += 1
            out["created"] += 1
            out["next"].append(n_ms)

    def run_page_flow(client: Client, out: dict) -> None:
        status, body, _ms = client.post(f"/api/projects/{project_id}/next/")
        for _ in range(100_000):
            if status == 204 or time.monotonic() > stop_at[0]:
                return
            if status != 200:
                out["errors"].append(f"next {status}")
                return
            code, reply, ms = client.post(
                f"/api/assignments/{body['assignment']}/submit/",
                {"result": {"label": "pos"}, "next": True},
            )
            if code != 201:
                out["errors"].append(f"submit {code}")
                return
            out["cycles"] += 1
            out["created"] += 1
            out["next"].append(ms)
            status, body = reply["next"]["status"], reply["next"]["body"]

    threads = [
        threading.Thread(target=run, args=(t, r)) for t, r in zip(tokens, results, strict=True)
    ]
    for thread in threads:
        thread.start()
    began = time.monotonic()
    stop_at.append(began + seconds)
    start.wait()
    for thread in threads:
        thread.join(timeout=seconds + 60)
    elapsed = time.monotonic() - began
    cycles = sum(r["cycles"] for r in results)
    latencies = [ms for r in results for ms in r["next"]]
    return {
        "cycles": cycles,
        "per_second": cycles / elapsed,
        "created": cycles,
        "next_p50": percentile(latencies, 0.5),
        "next_p95": percentile(latencies, 0.95),
        "errors": [e for r in results for e in r["errors"]][:5],
    }


def calibrate(port: int, tokens: list[str], seconds: float) -> float:
    """Requests/s of GET /api/me/ (token auth, one role query) with the same clients: what this
    machine can serve right now, to read the figures above against."""
    counts = [0] * len(tokens)
    stop_at = time.monotonic() + seconds

    def run(index: int) -> None:
        client = Client(port, tokens[index])
        for _ in range(1_000_000):
            if time.monotonic() > stop_at:
                return
            client.conn.request("GET", "/api/me/", headers=client.headers)
            response = client.conn.getresponse()
            response.read()
            if response.getheader("Connection", "").lower() == "close":
                client.conn.close()
            counts[index] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(tokens))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 30)
    return sum(counts) / seconds


def counted_annotations(project_ids: list[int]) -> int:
    from labeling.models import Annotation

    return Annotation.objects.filter(project_id__in=project_ids, is_extra=False).count()


def verify(project_ids: list[int], created: int, before: int) -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM (SELECT t.id FROM labeling_task t "
            "JOIN labeling_project p ON p.id = t.project_id "
            "JOIN labeling_annotation a ON a.task_id = t.id AND NOT a.is_extra "
            "WHERE t.project_id = ANY(%s) GROUP BY t.id, p.annotations_per_task "
            "HAVING count(*) > p.annotations_per_task) over",
            [project_ids],
        )
        over_served = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM (SELECT 1 FROM labeling_annotation WHERE project_id = ANY(%s)"
            " GROUP BY task_id, annotator_id HAVING count(*) > 1) dup",
            [project_ids],
        )
        duplicates = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*), count(*) FILTER (WHERE is_extra) FROM "
            "labeling_annotation WHERE project_id = ANY(%s)",
            [project_ids],
        )
        annotations, extra = cursor.fetchone()
        # The counter must agree with the claims: free + held slots == overlap.
        cursor.execute(
            "SELECT count(*) FROM labeling_task t JOIN labeling_project p ON p.id = t.project_id"
            " WHERE t.project_id = ANY(%s) AND t.slots_free + (SELECT count(*) FROM "
            "labeling_assignment s WHERE s.task_id = t.id AND s.holds_slot) "
            "<> p.annotations_per_task AND t.annotation_count > 0",
            [project_ids],
        )
        counter_off = cursor.fetchone()[0]
    return {
        "over_served_tasks": over_served,
        "duplicate_pairs": duplicates,
        "annotations": annotations,
        "extra": extra,
        "created_201": created,
        "lost": created - (annotations - extra - before),
        "counter_mismatch": counter_off,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--cycles", type=int, default=400)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--reuse", action="store_true", help="keep an existing bench database")
    parser.add_argument(
        "--restricted-only",
        action="store_true",
        help="only the restricted claims, side by side with unrestricted ones (one client each)",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    assert 1 <= args.clients <= 256 and args.seconds <= 600 and args.cycles <= 100_000

    started = time.monotonic()
    if not args.reuse:
        create_database()
    setup_django()
    from django.db import connection

    from labeling.models import Project
    from tests.factories import user_factory

    if args.reuse and Project.objects.exists():
        projects = {
            (0 if p.content_categories else p.annotations_per_task, p.tasks.count()): p
            for p in Project.objects.all()
        }
    else:
        owner = user_factory("owner", username=f"bench-owner-{uuid.uuid4().hex[:6]}")
        projects = {}
        for size in [*sizes, 10_000]:
            overlap = 3 if (size == 10_000 and (1, 10_000) in projects) else 1
            projects[(overlap, size)] = load_project(owner, size=size, overlap=overlap)
        # 99% carry gore: an annotator without consent may take only the 0.5% safe tasks, one
        # who consented to violence alone the other 1%.
        projects[(0, max(sizes))] = load_project(
            owner, size=max(sizes), overlap=1, mostly_sensitive=True
        )
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE labeling_task")
    print(
        f"loaded {sum(k[1] for k in projects)} tasks in {time.monotonic() - started:.0f}s",
        flush=True,
    )
    tokens = make_annotators(len(sizes) + 1 + args.clients)
    off_tokens = make_annotators(1 + args.clients)
    restricted_tokens = make_annotators(3)
    _consent(restricted_tokens[1], projects[(0, max(sizes))])
    _consent(restricted_tokens[2], projects[(0, max(sizes))], ["violence"])
    before = counted_annotations([p.pk for p in projects.values()])
    connection.close()
    if args.restricted_only:
        return restricted_report(args, projects, tokens[0], restricted_tokens, sizes)

    server = start_gunicorn(args.port, args.workers)
    rows, created = [], 0
    try:
        for n, size in enumerate(sizes):
            project = projects[(1, size)]
            result = one_client(args.port, tokens[n], project.pk, args.cycles, args.warmup)
            created += result["created"]
            rows.append((f"{size:,} tasks, overlap 1, 1 client", result))
        ahead = projects[(3, 10_000)]
        result = one_client(args.port, tokens[len(sizes)], ahead.pk, args.cycles * 3, args.warmup)
        created += result["created"]
        done = args.cycles * 3 + args.warmup
        rows.append((f"10,000 tasks, overlap 3, 1 client ahead of all ({done} done)", result))
        target = projects[(1, max(sizes))]
        burst = many_clients(args.port, tokens[len(sizes) + 1 :], target.pk, args.seconds)
        created += burst["created"]
        page = many_clients(
            args.port, tokens[len(sizes) + 1 :], target.pk, args.seconds, page_flow=True
        )
        created += page["created"]
        bare = calibrate(args.port, tokens[len(sizes) + 1 :], min(args.seconds, 5))
        mostly_sensitive = projects[(0, max(sizes))]
        restricted = one_client(
            args.port, restricted_tokens[0], mostly_sensitive.pk, args.cycles, args.warmup
        )
        consenting = one_client(
            args.port, restricted_tokens[1], mostly_sensitive.pk, args.cycles, args.warmup
        )
        partial = one_client(
            args.port, restricted_tokens[2], mostly_sensitive.pk, args.cycles, args.warmup
        )
        created += restricted["created"] + consenting["created"] + partial["created"]
    finally:
        server.terminate()
        server.wait(timeout=30)
    # The same largest project with the rules off: what the working-time gate and hooks cost.
    server = start_gunicorn(args.port, args.workers, GATES_OFF)
    try:
        target = projects[(1, max(sizes))]
        off = one_client(args.port, off_tokens[0], target.pk, args.cycles, args.warmup)
        created += off["created"]
        off_burst = many_clients(args.port, off_tokens[1:], target.pk, args.seconds)
        created += off_burst["created"]
    finally:
        server.terminate()
        server.wait(timeout=30)
    # Every rule but the budget (no reservation, no ledger entry per task).
    server = start_gunicorn(args.port, args.workers, BUDGET_OFF)
    try:
        target = projects[(1, max(sizes))]
        no_budget = many_clients(args.port, off_tokens[1:], target.pk, args.seconds)
        created += no_budget["created"]
    finally:
        server.terminate()
        server.wait(timeout=30)
    checks = verify([p.pk for p in projects.values()], created, before)

    print()
    print(f"{'workload':<62} {'next p50':>9} {'next p95':>9} {'subm p50':>9} {'subm p95':>9}")
    for label, r in rows:
        print(
            f"{label:<62} {r['next_p50']:>7.2f}ms {r['next_p95']:>7.2f}ms "
            f"{r['submit_p50']:>7.2f}ms {r['submit_p95']:>7.2f}ms"
        )
    base = rows[0][1]["next_p95"]
    largest = rows[len(sizes) - 1][1]["next_p95"]
    print(
        f"\nnext p95 at {max(sizes):,} / at {min(sizes):,}: {largest / base:.2f}x "
        f"(target <= 1.5x; < 15 ms everywhere: "
        f"{all(r['next_p95'] < 15 for _, r in rows[: len(sizes)])})"
    )
    print(
        f"{args.clients} clients on {max(sizes):,} tasks (overlap 1), {args.seconds:.0f}s: "
        f"{burst['per_second']:.0f} cycles/s ({burst['cycles']} cycles; next p50 "
        f"{burst['next_p50']:.1f}ms p95 {burst['next_p95']:.1f}ms) target >= 300"
        + (f"; errors: {burst['errors']}" if burst["errors"] else "")
    )
    print(
        f"{args.clients} clients, as the labeling page does it (submit with next: one request "
        f"a cycle): {page['per_second']:.0f} cycles/s ({page['cycles']} cycles; p50 "
        f"{page['next_p50']:.1f}ms p95 {page['next_p95']:.1f}ms)"
        + (f"; errors: {page['errors']}" if page["errors"] else "")
    )
    print(
        f"\n{max(sizes):,} tasks, 99% carry gore: next p95 {restricted['next_p95']:.2f}ms for an "
        f"annotator who may take only the safe 0.5% (no consent), {partial['next_p95']:.2f}ms "
        f"for one who may take the other 1% (consent to violence only) / "
        f"{consenting['next_p95']:.2f}ms for one who consented to all "
        f"({restricted['next_p95'] / consenting['next_p95']:.2f}x and "
        f"{partial['next_p95'] / consenting['next_p95']:.2f}x, target <= 1.5x; "
        f"p50 {restricted['next_p50']:.2f} / {partial['next_p50']:.2f} / "
        f"{consenting['next_p50']:.2f}ms)"
    )
    gated = rows[len(sizes) - 1][1]
    print(
        f"\nrules on (working-time gate and hooks) / off, {max(sizes):,} tasks, 1 client: "
        f"next p95 {gated['next_p95']:.2f}ms / {off['next_p95']:.2f}ms, "
        f"submit p95 {gated['submit_p95']:.2f}ms / {off['submit_p95']:.2f}ms; "
        f"{args.clients} clients: {burst['per_second']:.0f} / {off_burst['per_second']:.0f} "
        "cycles/s"
    )
    print(
        f"budget on / off (every other rule on), {args.clients} clients: "
        f"{burst['per_second']:.0f} / {no_budget['per_second']:.0f} cycles/s "
        f"({burst['per_second'] / no_budget['per_second']:.2f}x, target >= 0.80)"
    )
    print(
        f"for scale, now: GET /api/me/ with {args.clients} clients serves {bare:.0f} "
        f"requests/s (a cycle is 2 requests: {bare / 2:.0f} cycles/s would be that ceiling)"
    )
    print(
        "slots handed out twice:",
        checks["over_served_tasks"],
        "| (task, annotator) duplicates:",
        checks["duplicate_pairs"],
        "| submissions lost:",
        checks["lost"],
        "| extra:",
        checks["extra"],
        "| counter mismatches:",
        checks["counter_mismatch"],
        f"| annotations: {checks['annotations']}",
    )
    median = statistics.median(r["next_p50"] for _, r in rows)
    print(
        f"cpu count {os.cpu_count()}, load {os.getloadavg()[0]:.1f}, "
        f"median next p50 at 1 client {median:.2f}ms"
    )


def restricted_report(args, projects, plain_token: str, tokens: list[str], sizes) -> None:
    largest = max(sizes)
    mostly_sensitive = projects[(0, largest)].pk
    clients = [
        ("unrestricted, plain project", plain_token, projects[(1, largest)].pk),
        ("consented to all", tokens[1], mostly_sensitive),
        ("no consent: the safe 0.5% only", tokens[0], mostly_sensitive),
        ("consent to violence only: the other 1%", tokens[2], mostly_sensitive),
    ]
    server = start_gunicorn(args.port, args.workers)
    try:
        figures = side_by_side(args.port, clients, args.cycles, args.warmup)
    finally:
        server.terminate()
        server.wait(timeout=30)
    base = figures["consented to all"]["next_p95"]
    print(f"\n{largest:,} tasks, 99% carry gore; one cycle of each client in turn:")
    for label, r in figures.items():
        print(
            f"  {label:<42} next p50 {r['next_p50']:>7.2f}ms p95 {r['next_p95']:>7.2f}ms "
            f"({r['next_p95'] / base:.2f}x the p95 of the one who consented to all)"
        )
    print(f"cpu count {os.cpu_count()}, load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
