"""The workload of the pay benchmarks (settlement.py, report.py): annotators, funded projects,
one submitted assignment and one annotation per annotation, and each one's `task_pay` ledger
entry, hash-chained as the dispatcher writes them, loaded with INSERT ... SELECT generate_series
on PostgreSQL into a scratch database that is dropped and created first."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
START = datetime(2030, 1, 1, tzinfo=UTC)

# The child's own peak resident memory (VmHWM: ru_maxrss would carry the parent's over exec).
PEAK_FN = """
def PEAK():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return f"peak memory {int(line.split()[1]) / 1024:.0f} MB"
"""
# Run in a child process: the settlement of the period (what `manage.py settle` runs, with the
# period's end fixed), then its figures and the process's peak memory.
SETTLE = """
import os, django
from datetime import datetime
django.setup()
from payments.services import settle_now
job = settle_now(cutoff=datetime.fromisoformat(os.environ["FAIRLABEL_BENCH_CUTOFF"]))
print(f"{job.annotators if job else 0:,} annotators, {job.entries if job else 0:,} entries")
print(PEAK())
"""


@dataclass
class Workload:
    projects: list[int]
    first_user: int
    loaded_seconds: float
    chained_seconds: float


def use_database(db_name: str) -> None:
    """Point Django at the bench database (before django.setup())."""
    os.environ["DATABASE_URL"] = f"{PG}/{db_name}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "fairlabel.settings.base"
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "0")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def run_child(code: str, *, env_extra: dict[str, str] | None = None) -> tuple[float, str, int]:
    """Run `code` (with PEAK() defined) in a fresh Django process on the bench database: its
    wall time, its output (stderr's tail on failure) and its exit code."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "fairlabel.settings.base", **(env_extra or {})}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", PEAK_FN + code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    out = done.stdout.rstrip()
    if done.returncode:
        out += "\n" + done.stderr[-3000:]
    return elapsed, out, done.returncode


def load(*, db_name: str, annotators: int, annotations: int, projects: int) -> Workload:
    """Drop and create `db_name`, migrate it, and load the workload. Leaves Django set up on it."""
    args = _Args(annotators, annotations, projects)
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db_name}"')
    use_database(db_name)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    call_command("migrate", verbosity=0)

    from accounts.roles import Role
    from accounts.services import user_create
    from labeling.services import project_create
    from payments import ledger
    from payments.models import ChainHead
    from payments.services import project_fund

    t0 = time.perf_counter()
    owner = user_create(username="bench-owner", password="x", role=Role.OWNER, check_password=False)  # noqa: S106
    projects = []
    for n in range(args.projects):
        project = project_create(
            owner=owner,
            title=f"settle {n}",
            task_type="text_classification",
            labels=["pos", "neg"],
            price_per_task="0.10",
            estimated_seconds_per_task=20,
        )
        project_fund(project=project, amount="1000000.00")
        projects.append(project.pk)
    first_project = min(projects)
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM auth_group WHERE name = %s", [Role.ANNOTATOR.value])
        group = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, "
            "email, is_staff, is_active, date_joined) SELECT '!', false, 'bench-a' || g, '', '', "
            "'', false, true, now() FROM generate_series(1, %s) g",
            [args.annotators],
        )
        cursor.execute("SELECT min(id) FROM auth_user WHERE username LIKE 'bench-a%%'", [])
        first_user = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO auth_user_groups (user_id, group_id) SELECT id, %s FROM auth_user "
            "WHERE username LIKE 'bench-a%%'",
            [group],
        )
        cursor.execute(
            "INSERT INTO accounts_profile (user_id, pseudonym, country, timezone, created_at) "
            "SELECT id, 'p-' || id, CASE WHEN id %% 3 = 0 THEN 'KE' ELSE 'FR' END, 'UTC', now() "
            "FROM auth_user WHERE username LIKE 'bench-a%%'",
            [],
        )
        n, users, nproj = args.annotations, args.annotators, args.projects
        cursor.execute(
            "INSERT INTO labeling_task (project_id, data, categories, category_mask, slots_free, "
            "annotation_count, created_at) SELECT %s + (g %% %s), jsonb_build_object('text', "
            "'t' || g), NULL, 0, 0, 1, now() FROM generate_series(0, %s - 1) g",
            [first_project, nproj, n],
        )
        cursor.execute("SELECT min(id) FROM labeling_task")
        first_task = cursor.fetchone()[0]
        # Each annotation: 5 to 64 s of active time, finished within the period.
        cursor.execute(
            "INSERT INTO labeling_assignment (task_id, project_id, annotator_id, status, "
            "served_at, expires_at, finished_at, holds_slot, active_seconds, last_active_at) "
            "SELECT %s + g, %s + (g %% %s), %s + (g %% %s), 'submitted', "
            "%s + g * interval '50 milliseconds', %s + g * interval '50 milliseconds' "
            "+ interval '10 minutes', %s + g * interval '50 milliseconds' + interval '30 seconds', "
            "true, 5 + (g %% 60), %s FROM generate_series(0, %s - 1) g",
            [first_task, first_project, nproj, first_user, users, START, START, START, START, n],
        )
        cursor.execute(
            "INSERT INTO labeling_annotation (assignment_id, task_id, project_id, annotator_id, "
            "result, seconds, is_extra, created_at) SELECT id, task_id, project_id, "
            'annotator_id, \'{"label": "pos"}\', active_seconds, false, finished_at '
            "FROM labeling_assignment WHERE project_id >= %s",
            [first_project],
        )
        cursor.execute("ANALYZE")
    loaded = time.perf_counter() - t0
    # The task_pay entries, chained per annotator shard as the dispatcher appends them.
    t1 = time.perf_counter()
    heads = {h.chain: (h.seq, h.hash) for h in ChainHead.objects.all()}
    rows = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, project_id, annotator_id, finished_at FROM labeling_assignment "
            "WHERE project_id >= %s ORDER BY annotator_id %% 16, id",
            [first_project],
        )
        for pk, project_id, annotator_id, at in cursor:
            chain = ledger.chain_of(annotator_id)
            seq, prev = heads.get(chain, (0, ledger.GENESIS))
            seq += 1
            ref = f"assignment:{pk}"
            digest = ledger.entry_hash(
                prev_hash=prev, chain=chain, seq=seq, kind="task_pay", reference=ref,
                amount=Decimal("0.10"), currency="USD", project_id=project_id,
                annotator_id=annotator_id, created_at=at,
            )  # fmt: skip
            rows.append((chain, seq, "task_pay", ref, Decimal("0.10"), "USD", project_id,
                         annotator_id, at, prev, digest))  # fmt: skip
            heads[chain] = (seq, digest)
    with transaction.atomic(), connection.cursor() as cursor:
        with cursor.copy(
            "COPY payments_entry (chain, seq, kind, reference, amount, currency, project_id, "
            "annotator_id, created_at, prev_hash, hash) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
        for chain, (seq, digest) in heads.items():
            ChainHead.objects.update_or_create(chain=chain, defaults={"seq": seq, "hash": digest})
        # The reservations these payments came from (one entry per project, for brevity).
        seqs = dict(heads)
        for chain_project in projects:
            chain = ledger.CHAIN_CONTROL
            cursor.execute(
                "SELECT count(*) FROM labeling_assignment WHERE project_id = %s", [chain_project]
            )
            total = Decimal("0.10") * cursor.fetchone()[0]
            head = ChainHead.objects.select_for_update().get(chain=chain)
            seq, prev = head.seq + 1, head.hash
            at = START
            ref = f"bench:reservations:{chain_project}"
            digest = ledger.entry_hash(
                prev_hash=prev, chain=chain, seq=seq, kind="reservation", reference=ref,
                amount=total, currency="USD", project_id=chain_project, annotator_id=None,
                created_at=at,
            )  # fmt: skip
            cursor.execute(
                "INSERT INTO payments_entry (chain, seq, kind, reference, amount, currency, "
                "project_id, annotator_id, created_at, prev_hash, hash) VALUES "
                "(%s, %s, 'reservation', %s, %s, 'USD', %s, NULL, %s, %s, %s)",
                [chain, seq, ref, total, chain_project, at, prev, digest],
            )
            ChainHead.objects.filter(chain=chain).update(seq=seq, hash=digest)
        del seqs
        cursor.execute(
            "UPDATE payments_budgetshard SET available = available - 0.10 * (SELECT count(*) "
            "FROM labeling_assignment a WHERE a.project_id = payments_budgetshard.project_id) "
            "WHERE shard = 0"
        )
        cursor.execute("ANALYZE")
    del rows
    chained = time.perf_counter() - t1
    return Workload(
        projects=projects, first_user=first_user, loaded_seconds=loaded, chained_seconds=chained
    )


@dataclass
class _Args:
    annotators: int
    annotations: int
    projects: int
