"""Owner pages at scale: the project page and the task list with each filter, at 100k tasks.

    .venv/bin/python bench/owner_pages.py [--tasks 100000] [--db postgres|sqlite] [--runs 5]

Creates (drops first) the PostgreSQL database `fairlabel_bench_owner` (env BENCH_DB, server
BENCH_PG, default postgres://postgres@127.0.0.1:5432) or a scratch SQLite file, migrates it,
imports N text tasks through the import path, gives 5% of them an annotation each (labels
alternating pos/neg, two annotators), 1% a suggestion and 0.1% a flag, then requests each page
in-process with Django's test client as the owner: median and worst time of `--runs` requests,
the number of SQL queries, and the rows shown. Results are printed, not asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = os.environ.get("BENCH_DB", "fairlabel_bench_owner")


def prepare(db: str) -> None:
    if db == "postgres":
        import psycopg

        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
        os.environ["DATABASE_URL"] = f"{PG}/{DB_NAME}"
    else:
        folder = tempfile.mkdtemp(prefix="fairlabel-bench-owner-")
        os.environ["DATABASE_URL"] = f"sqlite:///{folder}/bench.sqlite3"
    os.environ["DJANGO_SETTINGS_MODULE"] = "fairlabel.settings.base"
    os.environ.setdefault("DEBUG", "0")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=os.environ,
        check=True,
        timeout=900,
    )
    import django

    django.setup()


def load(n: int):
    from decimal import Decimal

    from django.utils import timezone

    from accounts.roles import Role
    from accounts.services import user_create
    from labeling.models import Annotation, Assignment, Task, TaskFlag
    from labeling.services import project_create, project_publish, tasks_create

    def user(name, role):
        return user_create(
            username=name,
            password="bench-password-123",  # noqa: S106  (a scratch database)
            role=role,
            check_password=False,
        )

    owner = user("bench-owner", Role.OWNER)
    annotators = [user(f"bench-annotator-{i}", Role.ANNOTATOR) for i in range(2)]
    project = project_create(
        owner=owner,
        title="Bench",
        task_type="text_classification",
        labels=["pos", "neg"],
        price_per_task="0.10",
        estimated_seconds_per_task=20,
    )
    started = time.perf_counter()
    rows = []
    for i in range(n):
        row = {"data": {"text": f"review {i}: a film about the sea and a town called Port {i}"}}
        if i % 100 == 7:
            row["predictions"] = [{"result": {"label": "neg"}}]
        rows.append(row)
    tasks_create(project=project, rows=rows)
    project = project_publish(project=project)
    ids = list(project.tasks.order_by("id").values_list("id", flat=True))
    now = timezone.now()
    labeled = ids[::20]
    assignments = [
        Assignment(
            task_id=task_id,
            project=project,
            annotator=annotators[k % 2],
            status="submitted",
            served_at=now,
            expires_at=now,
            finished_at=now,
        )
        for k, task_id in enumerate(labeled)
    ]
    Assignment.objects.bulk_create(assignments, batch_size=5000)
    Annotation.objects.bulk_create(
        [
            Annotation(
                assignment=a,
                task_id=a.task_id,
                project=project,
                annotator=a.annotator,
                result={"label": "pos" if k % 2 else "neg"},
                seconds=Decimal("19.662"),
            )
            for k, a in enumerate(assignments)
        ],
        batch_size=5000,
    )
    Task.objects.filter(pk__in=labeled).update(annotation_count=1, slots_free=0)
    TaskFlag.objects.bulk_create(
        [
            TaskFlag(
                task_id=t, project=project, annotator=annotators[0], category="hate", created_at=now
            )
            for t in ids[::1000]
        ]
    )
    took = time.perf_counter() - started
    print(f"loaded {n:,} tasks, {len(labeled):,} annotations in {took:.1f} s", flush=True)
    return project, owner, annotators


def measure(project, owner, annotators, runs: int) -> None:
    import re

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(owner)
    pseudonym = annotators[0].profile.pseudonym
    base = f"/projects/{project.pk}/tasks/"
    pages = [
        ("project page", f"/projects/{project.pk}/"),
        ("task list, first page", base),
        ("task list, page 1000", f"{base}?page=1000"),
        ("task list, last page", f"{base}?page=999999"),
        ("status: finished", f"{base}?state=finished"),
        ("status: not started", f"{base}?state=new"),
        ("label: pos", f"{base}?label=pos"),
        ("annotator pseudonym", f"{base}?annotator={pseudonym}"),
        ("has a suggestion", f"{base}?suggestion=1"),
        ("flagged", f"{base}?flagged=1"),
        ("search 'Port 4242'", f"{base}?q=Port+4242"),
        ("sort: most annotations", f"{base}?sort=-annotations"),
        ("label pos + search + sort", f"{base}?label=pos&q=sea&sort=-id"),
        ("project list", "/projects/"),
    ]
    print(f"{'page':<28} {'median ms':>10} {'worst ms':>9} {'queries':>8} {'rows':>5}")
    for name, url in pages:
        times = []
        for _ in range(runs):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        rows = len(re.findall(rb'aria-label="Task \d+"', response.content))
        print(
            f"{name:<28} {statistics.median(times):>10.1f} {max(times):>9.1f} "
            f"{len(queries):>8} {rows:>5}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    prepare(args.db)
    project, owner, annotators = load(args.tasks)
    measure(project, owner, annotators, args.runs)


if __name__ == "__main__":
    main()
