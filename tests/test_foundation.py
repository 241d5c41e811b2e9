"""The skeleton: settings boot on SQLite and PostgreSQL, production refuses unsafe settings,
Celery reaches a real worker on Redis, /healthz reports the database and the broker."""

from __future__ import annotations

import os
import uuid

import pytest
from django.db import connection

from tests.processes import celery_worker, clean_env, run_manage


def test_embedded_default_migrates_on_sqlite(tmp_path):
    env = clean_env(FAIRLABEL_VAR_DIR=str(tmp_path))
    result = run_manage("migrate", "--noinput", env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "fairlabel.sqlite3").exists()
    assert (tmp_path / "celery" / "queue").is_dir()
    demo = run_manage("demo", env=env)
    assert demo.returncode == 0, demo.stderr
    assert "owner / own-fairly" in demo.stdout
    again = run_manage("demo", env=env)  # idempotent
    assert again.returncode == 0, again.stderr
    check = run_manage(
        "shell",
        "-c",
        "from django.contrib.auth.models import User; from payments.models import ReportJob; "
        "print(User.objects.count(), ReportJob.objects.filter(status='done').count())",
        env=env,
    )
    # One user of each role, four demo workers with a settled past week, and its report.
    assert check.stdout.strip().splitlines()[-1] == "8 1"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_migrations_apply_on_a_fresh_postgresql_database():
    settings_dict = connection.settings_dict
    name = f"fairlabel_boot_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        url = (
            f"postgres://{settings_dict['USER']}:{settings_dict['PASSWORD'] or ''}@"
            f"{settings_dict['HOST'] or '127.0.0.1'}:{settings_dict['PORT'] or 5432}/{name}"
        )
        result = run_manage("migrate", "--noinput", env=clean_env(DATABASE_URL=url))
        assert result.returncode == 0, result.stderr
        probe = run_manage(
            "shell",
            "-c",
            "from django.db import connection; print(connection.vendor)",
            env=clean_env(DATABASE_URL=url),
        )
        assert probe.stdout.strip().splitlines()[-1] == "postgresql"
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "fairlabel.settings.production",
    "SECRET_KEY": "x" * 20 + "-production-secret-for-the-deploy-check-0123456789",
    "ALLOWED_HOSTS": "fairlabel.example.org",
}


def test_production_settings_pass_check_deploy(tmp_path):
    env = clean_env(FAIRLABEL_VAR_DIR=str(tmp_path), **PRODUCTION)
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"DEBUG": "1"}, "DEBUG must be off"),
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "at least 50"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS"),
    ],
)
def test_production_settings_refuse_unsafe_values(tmp_path, change, message):
    env = clean_env(FAIRLABEL_VAR_DIR=str(tmp_path), **{**PRODUCTION, **change})
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.redis
def test_celery_round_trip_through_a_real_worker_on_redis(tmp_path):
    from fairlabel.celery import app

    env = {"REDIS_URL": os.environ["REDIS_URL"], "FAIRLABEL_VAR_DIR": str(tmp_path)}
    if os.environ.get("DATABASE_URL"):
        env["DATABASE_URL"] = os.environ["DATABASE_URL"]
    with celery_worker(**env) as queue:
        assert app.conf.broker_url.startswith("redis://")
        result = app.send_task("fairlabel.ping", kwargs={"value": 41}, queue=queue)
        reply = result.get(timeout=60)
        assert reply["pong"] == 42
        assert reply["pid"] != os.getpid()  # it ran in the worker, not here


@pytest.mark.django_db
def test_healthz_reports_database_and_broker(client):
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["database"]["ok"] is True
    assert body["database"]["vendor"] == connection.vendor
    assert body["broker"]["ok"] is True


@pytest.mark.django_db
def test_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/projects/{project_id}/next/" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()


def test_docker_compose_describes_the_production_deployment():
    import yaml

    from tests.processes import ROOT

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "beat", "migrate"} <= set(services)
    web = services["web"]
    assert web["command"][0] == "gunicorn"
    assert web["environment"]["DJANGO_SETTINGS_MODULE"] == "fairlabel.settings.production"
    assert web["environment"]["DATABASE_URL"].startswith("postgres://")
    assert web["environment"]["REDIS_URL"].startswith("redis://")
    assert services["worker"]["command"][:4] == ["celery", "-A", "fairlabel", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "fairlabel", "beat"]
