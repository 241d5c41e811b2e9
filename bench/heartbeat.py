"""Heartbeat benchmark: POST /api/heartbeat/ under one gunicorn process, on PostgreSQL.

    .venv/bin/python bench/heartbeat.py [--annotators 400] [--clients 16] [--seconds 15]

10,000 annotators beating every 30 s is 333 requests/s. Creates (drops first) the database of
bench/dispatch.py, migrates it, creates the annotators (each holds one task of a published
project, so each beat also counts the held task's active time and keeps it alive), starts
gunicorn with ONE worker process (sync) and sends heartbeats from `--clients` threads, each
cycling over its share of annotators, for `--seconds`. Prints p50/p95 latency and the rate that
one process sustains. Results are printed, not asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dispatch import (
    Client,
    create_database,
    load_project,
    make_annotators,
    percentile,
    setup_django,
    start_gunicorn,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--annotators", type=int, default=400)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()
    assert 1 <= args.clients <= 256 and args.annotators >= args.clients and args.seconds <= 600

    create_database()
    setup_django()
    from django.db import connection

    from tests.factories import user_factory

    owner = user_factory("owner", username="bench-heartbeat-owner")
    project = load_project(owner, size=max(10_000, args.annotators * 2), overlap=1)
    tokens = make_annotators(args.annotators)
    connection.close()

    server = start_gunicorn(args.port, 1)
    latencies: list[list[float]] = [[] for _ in range(args.clients)]
    errors: list[str] = []
    try:
        # Each annotator takes a task first, so its beats touch a held assignment.
        for token in tokens:
            status, body, _ = Client(args.port, token).post(f"/api/projects/{project.pk}/next/")
            assert status == 200, (status, body)
        start = threading.Barrier(args.clients + 1)
        stop_at: list[float] = []

        def run(index: int) -> None:
            mine = tokens[index :: args.clients]
            clients = [Client(args.port, token) for token in mine]
            start.wait()
            n = 0
            while time.monotonic() < stop_at[0]:
                status, body, ms = clients[n % len(clients)].post(
                    "/api/heartbeat/", {"project": project.pk}
                )
                if status != 200:
                    errors.append(f"{status} {body}")
                    return
                latencies[index].append(ms)
                n += 1

        threads = [threading.Thread(target=run, args=(i,)) for i in range(args.clients)]
        for thread in threads:
            thread.start()
        stop_at.append(time.monotonic() + args.seconds)
        started = time.monotonic()
        start.wait()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    every = [ms for part in latencies for ms in part]
    print(
        f"heartbeats: {len(every)} in {elapsed:.1f}s from {args.clients} clients over "
        f"{args.annotators} annotators, ONE gunicorn process: {len(every) / elapsed:.0f} req/s "
        f"(10,000 annotators every 30 s need 333 req/s); p50 {percentile(every, 0.5):.2f}ms "
        f"p95 {percentile(every, 0.95):.2f}ms" + (f"; errors: {errors[:3]}" if errors else "")
    )
    print(f"cpu count {os.cpu_count()}, load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
