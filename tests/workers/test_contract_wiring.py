"""The rule paths are checked at start-up, production insists on the protection rules, and a real
Celery worker closes idle sessions."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tests.processes import celery_worker, clean_env, run_manage
from tests.test_foundation import PRODUCTION
from workers import services
from workers.models import WorkSession


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "FAIRLABEL_DISPATCH_GATES",
            "labeling.policies.project_open_gate,workers.policies.working_time_gat",
            "cannot import 'workers.policies.working_time_gat'",
        ),
        (
            "FAIRLABEL_ASSIGNMENT_HOOKS",
            "workers.policies.WorkingTimeHooks,tests.workers.test_contract_wiring.PositionalHook",
            "must take the keyword arguments assignment, context, now",
        ),
        (
            "FAIRLABEL_DISPATCH_GATES",
            "tests.workers.test_contract_wiring.old_style_gate",
            "must be callable as gate(context)",
        ),
    ],
)
def test_a_typo_in_a_rule_path_fails_manage_py_check(tmp_path, variable, value, message):
    env = clean_env(FAIRLABEL_VAR_DIR=str(tmp_path), **{variable: value})
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert message in result.stderr + result.stdout


class PositionalHook:
    @staticmethod
    def served(assignment, now):  # the old, positional shape
        return None


def old_style_gate(*, annotator, project, now):
    return None


def test_the_default_settings_pass_the_rule_path_check(tmp_path):
    result = run_manage("check", env=clean_env(FAIRLABEL_VAR_DIR=str(tmp_path)))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("missing", ["working_time_gate", "exposure_gate"])
def test_production_refuses_to_start_without_the_protection_gates(tmp_path, missing):
    gates = ["labeling.policies.project_open_gate"] + [
        f"workers.policies.{g}" for g in ("working_time_gate", "exposure_gate") if g != missing
    ]
    env = clean_env(
        FAIRLABEL_VAR_DIR=str(tmp_path), FAIRLABEL_DISPATCH_GATES=",".join(gates), **PRODUCTION
    )
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert f"workers.policies.{missing}" in result.stderr


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_real_celery_worker_closes_an_idle_session(tmp_path, annotator):
    from fairlabel.celery import app

    now = timezone.now()
    for ago in (40, 10):  # reading a project's instructions
        services.heartbeat_record(
            annotator=annotator, now=now - timedelta(seconds=ago), kind="instructions"
        )
    db = connection.settings_dict
    url = (
        f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )
    with celery_worker(
        DATABASE_URL=url,
        REDIS_URL=os.environ["REDIS_URL"],
        FAIRLABEL_VAR_DIR=str(tmp_path),
        FAIRLABEL_SESSION_TIMEOUT_MINUTES="0.02",  # 1.2 s in the worker only
    ) as queue:
        result = app.send_task("workers.close_idle_sessions", queue=queue)
        assert result.get(timeout=60) == 1
        again = app.send_task("workers.close_idle_sessions", queue=queue)
        assert again.get(timeout=60) == 0  # idempotent
        rolled = app.send_task("workers.roll_up_work_days", queue=queue)
        assert rolled.get(timeout=60) >= 1
    session = WorkSession.objects.get()
    assert session.ended_at == now - timedelta(seconds=10)  # at its last heartbeat
