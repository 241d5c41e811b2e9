"""Settlement benchmark: one period of 10,000 annotators and 1,000,000 annotations on PostgreSQL.

    .venv/bin/python bench/settlement.py [--annotators 10000] [--annotations 1000000]
                                         [--projects 10]

Creates (drops first) the database `fairlabel_bench_settle` (env BENCH_DB), migrates it, and
loads, with INSERT ... SELECT generate_series: the annotators (with profiles), `--projects`
funded projects, one task, one submitted assignment and one annotation per annotation, and the
`task_pay` ledger entry of each (hash-chained, as the dispatcher writes them). Then it runs the
settlement of the period (`payments.services.settle_now`, the job `manage.py settle` and the
beat run) and `verify_ledger` over the result, and prints their wall time and the peak memory
of this process. Results are printed, not asserted (target: settlement under 30 s, memory flat).
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _workload import SETTLE, START, load, run_child

DB_NAME = os.environ.get("BENCH_DB", "fairlabel_bench_settle")
VERIFY = """
import django
django.setup()
from payments.ledger import verify
result = verify()
print(f"{result.entries:,} entries ok={result.ok} {result.problems[:3]}")
print(PEAK())
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--annotators", type=int, default=10_000)
    parser.add_argument("--annotations", type=int, default=1_000_000)
    parser.add_argument("--projects", type=int, default=10)
    args = parser.parse_args()

    work = load(
        db_name=DB_NAME,
        annotators=args.annotators,
        annotations=args.annotations,
        projects=args.projects,
    )
    print(
        f"loaded {args.annotators:,} annotators, {args.annotations:,} annotations in "
        f"{work.loaded_seconds:.1f}s; {args.annotations:,} task_pay entries chained in "
        f"{work.chained_seconds:.1f}s"
    )
    from django.db import connection

    connection.close()
    # The real commands, each in its own process: wall time and that process's peak memory.
    cutoff = {"FAIRLABEL_BENCH_CUTOFF": (START + timedelta(days=1)).isoformat()}
    for name, code in (("settle", SETTLE), ("verify_ledger", VERIFY), ("settle", SETTLE)):
        elapsed, out, _code = run_child(code, env_extra=cutoff)
        print(f"{name}: {elapsed:.1f}s; " + "; ".join(out.splitlines()))
    print("(target: settlement under 30 s; run with --annotations 100000 to see memory stay flat)")


if __name__ == "__main__":
    main()
