"""Import (and export, when available) speed: generate N JSONL text tasks of ~200 characters,
import them through the code path the app uses (an ImportJob run by import_job_run, as the
Celery job does), then export them; print tasks/s and peak RSS.

    .venv/bin/python bench/import_export.py 1000000 --db postgres
    .venv/bin/python bench/import_export.py 100000 --db sqlite

--db postgres uses DATABASE_URL's server (default postgres://postgres@127.0.0.1:5432/) and a
scratch database fairlabel_bench, dropped and created again. --db sqlite uses a scratch file.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import string
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORDS = [
    "".join(random.choices(string.ascii_lowercase, k=random.randint(2, 9))) for _ in range(2000)
]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(path: Path, n: int, *, with_ids: bool) -> None:
    import orjson

    rng = random.Random(7)
    sentences = []
    for _ in range(1000):
        words, length = [], 0
        while length < 190:
            word = rng.choice(WORDS)
            words.append(word)
            length += len(word) + 1
        sentences.append(" ".join(words)[:200])
    with open(path, "wb") as out:
        batch = []
        for i in range(n):
            row = {"text": sentences[i % 1000]}
            if with_ids:
                row = {"id": f"t{i}", **row}
            batch.append(orjson.dumps(row))
            if len(batch) == 10_000:
                out.write(b"\n".join(batch) + b"\n")
                batch.clear()
        if batch:
            out.write(b"\n".join(batch) + b"\n")


def setup_django(db: str, var: Path) -> None:
    os.environ["FAIRLABEL_VAR_DIR"] = str(var)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fairlabel.settings.base")
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", "bench-only-key-bench-only-key-bench-only-key-0123")
    if db == "postgres":
        import psycopg

        server = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
        base = server.rsplit("/", 1)[0]
        with psycopg.connect(base + "/postgres", autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS fairlabel_bench")
            conn.execute("CREATE DATABASE fairlabel_bench")
        os.environ["DATABASE_URL"] = base + "/fairlabel_bench"
    else:
        os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--with-ids", action="store_true", help="give every row an external id")
    args = parser.parse_args()

    var = Path(tempfile.mkdtemp(prefix="fairlabel-bench-"))
    setup_django(args.db, var)
    from django.conf import settings
    from django.db import connection

    from accounts.roles import Role
    from accounts.services import user_create
    from labeling.importing.services import import_job_run
    from labeling.models import ImportJob
    from labeling.services import project_create

    media = Path(settings.MEDIA_ROOT)
    (media / "imports" / "bench").mkdir(parents=True, exist_ok=True)
    source = media / "imports" / "bench" / f"tasks-{args.n}.jsonl"
    started = time.perf_counter()
    generate(source, args.n, with_ids=args.with_ids)
    size = source.stat().st_size
    print(
        f"generated {args.n:,} tasks, {size / 1e6:,.1f} MB in "
        f"{time.perf_counter() - started:.1f} s ({connection.vendor})"
    )

    owner = user_create(
        username="bench-owner",
        password="bench-password-123",  # noqa: S106
        role=Role.OWNER,
        country="KE",
        timezone="UTC",
        check_password=False,
    )
    project = project_create(
        owner=owner,
        title="bench",
        task_type="text_classification",
        labels=["pos", "neg"],
        price_per_task="0.10",
        estimated_seconds_per_task=20,
    )
    job = ImportJob.objects.create(
        project=project,
        created_by=owner,
        format="jsonl",
        file=str(source.relative_to(media)),
        original_name=source.name,
        size_bytes=size,
    )
    rss_before = rss_mb()
    started = time.perf_counter()
    job = import_job_run(job_id=job.pk)
    seconds = time.perf_counter() - started
    assert job.status == "done", (job.status, job.errors[:5])
    assert job.imported == args.n
    print(
        f"import: {args.n:,} tasks in {seconds:.2f} s = {args.n / seconds:,.0f} tasks/s; "
        f"peak RSS {rss_mb():,.0f} MB (before import {rss_before:,.0f} MB)"
    )

    try:
        from labeling.exporting import export_to_path
    except ImportError:
        try:
            from labeling.exporting.services import export_to_path
        except ImportError:
            export_to_path = None
    if export_to_path is None:
        print("export: not available")
    else:
        out = var / "export.jsonl"
        started = time.perf_counter()
        export_to_path(project=project, fmt="jsonl", path=out)
        seconds = time.perf_counter() - started
        print(
            f"export: {args.n:,} tasks in {seconds:.2f} s = {args.n / seconds:,.0f} tasks/s; "
            f"peak RSS {rss_mb():,.0f} MB"
        )


if __name__ == "__main__":
    main()
