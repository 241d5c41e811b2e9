"""Report benchmark: an auditors' report over 10,000 annotators and 1,000,000 annotations.

    .venv/bin/python bench/report.py [--annotators 10000] [--annotations 1000000] [--projects 10]
                                     [--days 7] [--tail 10000] [--reuse] [--cold] [--profile]

On PostgreSQL, in the database `fairlabel_bench_report` (env BENCH_DB; the server is BENCH_PG,
default postgres://postgres@127.0.0.1:5432): loads the workload of bench/settlement.py
(bench/_workload.py), settles it, and adds what a report reads besides the settlements: a
WorkDay per annotator and day over `--days` days, eight breaks a day each (six due, one long, one
voluntary; a few cut short, a few days over the daily and sensitive caps), and reviews of 1% of
the annotations. Then `manage.py verify_ledger` (the full check, which sets the ledger's
checkpoints, as the nightly beat job does) and `--tail` ledger entries written after it (the
minutes since the last checkpoint: reservation and release pairs, which leave every balance as
it was). Then it times, in a fresh process, the report over the period: `report_create` and
`report_job_run`, what the Celery job runs, and prints the seconds of each phase, the rows read,
the summary's figures, and that process's peak memory. `--reuse` skips the loading when the
database already holds it; `--cold` also times the report before any checkpoint (every entry
rehashed); `--profile` prints the report's top functions (cProfile).

Results are printed, not asserted (target: the report under 30 s).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _workload import PG, SETTLE, START, load, run_child, use_database

DB_NAME = os.environ.get("BENCH_DB", "fairlabel_bench_report")

# In a fresh process: the ledger check alone, then the report as the Celery job computes it.
REPORT = """
import cProfile, io, os, pstats, time, django
from datetime import datetime
django.setup()
from django.contrib.auth import get_user_model
from django.db import connection
from payments import ledger, reports
# The bench runs the job here, as the worker would: nothing is published to a broker.
reports.job_enqueue = lambda *, job: None
start = datetime.fromisoformat(os.environ["FAIRLABEL_BENCH_START"])
end = datetime.fromisoformat(os.environ["FAIRLABEL_BENCH_END"])
auditor = get_user_model().objects.get(username="auditor-bench")
t = time.perf_counter()
check = ledger.verify_since_checkpoints()
print(f"  ledger check alone: {time.perf_counter() - t:.1f}s, {check.entries:,} entries "
      f"rehashed, ok={check.ok}")
profile = cProfile.Profile() if os.environ.get("FAIRLABEL_BENCH_PROFILE") else None
t = time.perf_counter()
job = reports.report_create(user=auditor, start=start, end=end)
created = time.perf_counter() - t
if profile:
    profile.enable()
job = reports.report_job_run(job_id=job.pk)
if profile:
    profile.disable()
ran = time.perf_counter() - t - created
s = job.summary
print(f"  report_create {created:.2f}s; report_job_run {ran:.1f}s; status {job.status}")
print(f"  annotators {s['annotators']:,}, paid hours {s['paid_hours']}, below floor "
      f"{s['below_floor_after_topup']}, breaks due {s['breaks_due']:,} taken "
      f"{s['breaks_taken']:,}, reviews {s['reviews']}, violations {len(s['violations']):,}")
led = s["ledger"]
print(f"  ledger_ok {s['ledger_ok']}; rehashed {led['entries_checked']:,} entries from "
      f"{sum(led['checked_from'].values()):,} checkpointed through "
      f"{sum(led['verified_through'].values()):,}; csv {len(job.csv.splitlines()):,} lines")
if profile:
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(25)
    print(out.getvalue())
print("  " + PEAK())
"""
VERIFY = """
import django
django.setup()
from django.utils import timezone
from payments.ledger import checkpoints_advance
result = checkpoints_advance(now=timezone.now(), full=True)
print(f"{result.entries:,} entries ok={result.ok} {result.problems[:3]}")
print(PEAK())
"""


def working_time(*, days: int) -> dict[str, int]:
    """WorkDays, breaks and reviews over the period, in SQL; their row counts."""
    from django.db import connection

    with connection.cursor() as cursor:
        # Six to eight hours a day; every 4th annotator an hour of violent content; one in 500
        # over the daily limit on its first day, one in 1000 over the sensitive cap.
        cursor.execute(
            "INSERT INTO workers_workday (annotator_id, day, active_seconds, instruction_seconds, "
            "break_seconds, sensitive_seconds, category_seconds, tasks_done, first_at, last_at) "
            "SELECT u.id, (%s::timestamptz + d * interval '1 day')::date, "
            "CASE WHEN d = 0 AND u.id %% 500 = 0 THEN 9 * 3600 ELSE 6 * 3600 + u.id %% 7200 END, "
            "300, 3600, "
            "CASE WHEN u.id %% 1000 = 1 THEN 5 * 3600 WHEN u.id %% 4 = 0 THEN 3600 ELSE 0 END, "
            "CASE WHEN u.id %% 1000 = 1 THEN '{\"violence\": 18000}'::jsonb "
            "WHEN u.id %% 4 = 0 THEN '{\"violence\": 3600}'::jsonb ELSE '{}'::jsonb END, 100, "
            "%s::timestamptz + d * interval '1 day' + interval '8 hours', "
            "%s::timestamptz + d * interval '1 day' + interval '16 hours' "
            "FROM auth_user u CROSS JOIN generate_series(0, %s - 1) d "
            "WHERE u.username LIKE 'bench-a%%'",
            [START, START, START, days],
        )
        # Eight breaks a day: six due after 50 minutes of work, the long one, a voluntary one;
        # one due break in about 97 cut short by five minutes.
        cursor.execute(
            "INSERT INTO workers_break (annotator_id, kind, started_at, ends_at, ended_at, "
            "paid_seconds) SELECT u.id, CASE WHEN k < 6 THEN 'due' WHEN k = 6 THEN 'long' "
            "ELSE 'voluntary' END, b.at, b.at + interval '10 minutes', "
            "CASE WHEN k < 6 AND (u.id * 7 + d * 3 + k) %% 97 = 0 "
            "THEN b.at + interval '5 minutes' END, "
            "600 FROM auth_user u CROSS JOIN generate_series(0, %s - 1) d "
            "CROSS JOIN generate_series(0, 7) k "
            "CROSS JOIN LATERAL (SELECT %s::timestamptz + d * interval '1 day' "
            "+ interval '8 hours 50 minutes' + k * interval '1 hour' AS at) b "
            "WHERE u.username LIKE 'bench-a%%'",
            [days, START],
        )
        # A session a day and its work spans: 50 minutes before each break (40 on the sensitive
        # hour of every 4th annotator), so no stretch passes its limit.
        cursor.execute(
            "INSERT INTO workers_worksession (annotator_id, started_at, ended_at) "
            "SELECT u.id, %s::timestamptz + d * interval '1 day' + interval '8 hours', "
            "%s::timestamptz + d * interval '1 day' + interval '16 hours' "
            "FROM auth_user u CROSS JOIN generate_series(0, %s - 1) d "
            "WHERE u.username LIKE 'bench-a%%'",
            [START, START, days],
        )
        cursor.execute(
            "INSERT INTO workers_workspan (annotator_id, session_id, kind, project_id, "
            "started_at, ended_at, seconds, sensitive, categories) "
            "SELECT s.annotator_id, s.id, 'task', NULL, s.started_at + k * interval '1 hour', "
            "s.started_at + k * interval '1 hour' + CASE WHEN k = 0 AND s.annotator_id %% 4 = 0 "
            "THEN interval '40 minutes' ELSE interval '50 minutes' END, "
            "CASE WHEN k = 0 AND s.annotator_id %% 4 = 0 THEN 2400 ELSE 3000 END, "
            "k = 0 AND s.annotator_id %% 4 = 0, CASE WHEN k = 0 AND s.annotator_id %% 4 = 0 "
            "THEN '[\"violence\"]'::jsonb ELSE '[]'::jsonb END "
            "FROM workers_worksession s CROSS JOIN generate_series(0, 7) k",
            [],
        )
        # Reviews of 1% of the annotations: approved, one in ten rejected, one in fifty appealed.
        cursor.execute(
            "INSERT INTO payments_review (annotation_id, project_id, status, reason, reviewed_at, "
            "appeal, decision_note, clawback, appeal_deadline) SELECT a.id, a.project_id, "
            "CASE WHEN a.id %% 5000 = 0 THEN 'appealed' WHEN a.id %% 1000 = 0 THEN 'rejected' "
            "ELSE 'approved' END, CASE WHEN a.id %% 1000 = 0 THEN 'off the guidelines' ELSE '' "
            "END, a.created_at + interval '1 day', '', '', 0, CASE WHEN a.id %% 5000 = 0 THEN "
            "a.created_at + interval '15 days' END FROM labeling_annotation a "
            "WHERE a.id %% 100 = 0",
            [],
        )
        counts = {}
        for table in ("workers_workday", "workers_break", "workers_workspan", "payments_review"):
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 (fixed names)
            counts[table] = cursor.fetchone()[0]
        cursor.execute("ANALYZE")
    return counts


def tail_entries(count: int, projects: list[int]) -> None:
    """Entries written since the checkpoint: reservation and release pairs over the hot chains
    (they leave budgets and open reservations as they were, so the ledger still balances)."""
    from decimal import Decimal

    from django.db import transaction
    from django.utils import timezone

    from payments import ledger
    from payments.ledger import Movement
    from payments.models import Kind

    now = timezone.now()
    per_chain: dict[int, list[Movement]] = {}
    for n in range(count // 2):
        project = projects[n % len(projects)]
        ref = f"bench:tail:{now.timestamp()}:{n}"
        chain = n % ledger.HOT_CHAINS
        per_chain.setdefault(chain, []).extend(
            [
                Movement(Kind.RESERVATION, ref, Decimal("0.10"), project),
                Movement(Kind.RELEASE, ref, Decimal("0.10"), project),
            ]
        )
    for chain, movements in per_chain.items():
        with transaction.atomic():
            ledger.append(movements, chain=chain, now=now)


def loaded(db_name: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(f"{PG}/{db_name}") as conn:
            row = conn.execute("SELECT count(*) FROM workers_break").fetchone()
            return bool(row and row[0])
    except psycopg.Error:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--annotators", type=int, default=10_000)
    parser.add_argument("--annotations", type=int, default=1_000_000)
    parser.add_argument("--projects", type=int, default=10)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--tail", type=int, default=10_000)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--cold", action="store_true")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    period = {
        "FAIRLABEL_BENCH_START": START.isoformat(),
        "FAIRLABEL_BENCH_END": (START + timedelta(days=args.days)).isoformat(),
        "FAIRLABEL_BENCH_CUTOFF": (START + timedelta(days=1)).isoformat(),
    }
    if args.profile:
        period["FAIRLABEL_BENCH_PROFILE"] = "1"

    if args.reuse and loaded(DB_NAME):
        use_database(DB_NAME)
        import django

        django.setup()
        from labeling.models import Project

        projects = sorted(Project.objects.values_list("pk", flat=True))
        print(f"reusing {DB_NAME}")
    else:
        work = load(
            db_name=DB_NAME,
            annotators=args.annotators,
            annotations=args.annotations,
            projects=args.projects,
        )
        projects = work.projects
        print(
            f"loaded {args.annotators:,} annotators, {args.annotations:,} annotations in "
            f"{work.loaded_seconds:.1f}s; their task_pay entries chained in "
            f"{work.chained_seconds:.1f}s"
        )
        from accounts.roles import Role
        from accounts.services import user_create

        user_create(
            username="auditor-bench",
            password="x",  # noqa: S106
            role=Role.AUDITOR,
            check_password=False,
        )
        from django.db import connection

        connection.close()
        elapsed, out, _rc = run_child(SETTLE, env_extra=period)
        print(f"settle: {elapsed:.1f}s; " + "; ".join(out.splitlines()))
        t = time.perf_counter()
        counts = working_time(days=args.days)
        print(
            f"working time in {time.perf_counter() - t:.1f}s: "
            + ", ".join(f"{n:,} {table}" for table, n in counts.items())
        )
    from django.db import connection

    connection.close()
    if args.cold:
        from payments.models import LedgerCheckpoint

        LedgerCheckpoint.objects.all().delete()
        connection.close()
        elapsed, out, _rc = run_child(REPORT, env_extra=period)
        print(f"report, no checkpoint (every entry rehashed): {elapsed:.1f}s in all\n{out}")
    elapsed, out, _rc = run_child(VERIFY)
    print(
        f"verify_ledger (full; sets the checkpoints): {elapsed:.1f}s; " + "; ".join(out.split("\n"))
    )
    t = time.perf_counter()
    tail_entries(args.tail, projects)
    connection.close()
    print(f"{args.tail:,} entries appended since the checkpoint in {time.perf_counter() - t:.1f}s")
    elapsed, out, _rc = run_child(REPORT, env_extra=period)
    print(f"report over {args.days} days: {elapsed:.1f}s in all (process start included)\n{out}")
    print("(target: the report under 30 s)")


if __name__ == "__main__":
    main()
