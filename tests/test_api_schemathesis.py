"""schemathesis against /api/schema/ as every role (issue 13, "No 500s").

How: schemathesis loads the schema from the app and calls it through its WSGI integration, in
this process, so every request runs inside the test's database transaction, against a small
world built per role (projects, an open assignment, an import and a finished export). That is
the fastest way that still goes through every middleware, parser, view and the database; a
live server would add a thread and real sockets and test nothing more of the API.

For each operation, a bounded number of generated examples: valid ones (by the schema) and
invalid ones (schemathesis' negative mode). Path ids are mapped onto the world's objects (or a
missing one) so that examples reach real rows, not only 404s. Each response must be
* not a 5xx;
* a status the schema documents for that operation;
* of a content type the schema documents, with a body that matches the documented schema.
Every failure is collected and reported at the end; the totals are printed (-s shows them).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

import pytest
import schemathesis
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from labeling.models import JobStatus, TaskType

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "annotator", "owner", "auditor", "admin")
# Examples per operation and mode; FAIRLABEL_SCHEMATHESIS_EXAMPLES raises it for a longer hunt.
EXAMPLES = int(os.environ.get("FAIRLABEL_SCHEMATHESIS_EXAMPLES", "6"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
MISSING = 987_654_321


@pytest.fixture(scope="module")
def api_schema(_keep_the_test_connection):
    from django.core.wsgi import get_wsgi_application

    return schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@pytest.fixture(scope="module")
def _keep_the_test_connection():
    """A WSGI request ends by closing old database connections, which would close the test's
    own (and its transaction): Django's test client disconnects that handler the same way."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@dataclass
class World:
    tokens: dict[str, str]
    ids: dict[str, list[int]]


def build_world() -> World:
    from labeling.dispatch import annotation_submit, assignment_next
    from labeling.exporting.services import export_job_create
    from labeling.importing.services import import_job_create
    from tests.factories import project_factory, user_factory

    users = {role: user_factory(role) for role in ROLES if role != "anonymous"}
    other_annotator = user_factory("annotator")
    owner = users["owner"]
    pub = project_factory(owner, tasks=6, publish=True)
    boxes = project_factory(owner, task_type=TaskType.IMAGE_BOXES, tasks=3, publish=True)
    draft = project_factory(owner, tasks=1)
    foreign = project_factory(tasks=1, publish=True)
    done = assignment_next(annotator=users["annotator"], project=pub)
    annotation_submit(annotator=users["annotator"], assignment_id=done.pk, result={"label": "pos"})
    open_text = assignment_next(annotator=users["annotator"], project=pub)
    open_boxes = assignment_next(annotator=users["annotator"], project=boxes)
    theirs = assignment_next(annotator=other_annotator, project=pub)
    with TestCase.captureOnCommitCallbacks(execute=True):
        job = import_job_create(
            project=draft,
            user=owner,
            file=SimpleUploadedFile("rows.jsonl", b'{"text": "a"}\n{"text": "b"}\n'),
        )
        export = export_job_create(project=pub, user=owner, fmt="json")
    export.refresh_from_db()
    assert export.status == JobStatus.DONE, export.error
    tokens = {role: Token.objects.get_or_create(user=user)[0].key for role, user in users.items()}
    return World(
        tokens=tokens,
        ids={
            "project_id": [pub.pk, boxes.pk, draft.pk, foreign.pk, MISSING],
            "task_id": [done.task_id, open_boxes.task_id, MISSING],
            "assignment_id": [open_text.pk, open_boxes.pk, theirs.pk, done.pk, MISSING],
            "import_id": [job.pk, MISSING],
            "job_id": [export.pk, MISSING],
        },
    )


@dataclass
class Tally:
    examples: int = 0
    statuses: Counter = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)


def run_operation(operation, *, world: World, role: str, tally: Tally) -> None:
    headers = {"Authorization": f"Token {world.tokens[role]}"} if role in world.tokens else {}

    def probe(case) -> None:
        for name, value in list((case.path_parameters or {}).items()):
            choices = world.ids.get(name)
            if choices and isinstance(value, int):
                case.path_parameters[name] = choices[value % len(choices)]
        tally.examples += 1
        response = case.call(headers=headers)
        tally.statuses[f"{response.status_code // 100}xx"] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (FailureGroup, Exception) as failure:
            key = f"{role} {operation.method.upper()} {operation.path} → {response.status_code}"
            message = str(failure).strip().splitlines()
            tally.failures.setdefault(key, "\n    ".join(message[:12]))

    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        test = given(case=operation.as_strategy(generation_mode=mode))(probe)
        run = hypothesis_settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )(test)
        try:
            run()
        except Unsatisfiable:
            pass  # nothing invalid can be sent to this operation (e.g. a GET without input)


@pytest.mark.parametrize("role", ROLES)
def test_the_api_answers_as_its_schema_says_for_every_role(api_schema, role):
    world = build_world()
    tally = Tally()
    for result in api_schema.get_all_operations():
        run_operation(result.ok(), world=world, role=role, tally=tally)
    print(f"\nschemathesis as {role}: {tally.examples} examples, statuses {dict(tally.statuses)}")
    assert tally.statuses["5xx"] == 0 or tally.failures
    assert not tally.failures, "\n" + "\n".join(
        f"- {key}\n    {message}" for key, message in sorted(tally.failures.items())
    )


# Stateful runs follow the schema's links (fairlabel/schema.py LINKS, and those schemathesis
# infers from the project list): an owner creates a project, then edits, publishes, imports
# into and exports it and reads the export; an annotator claims the next task, then submits or
# skips it. Bounded: a few scenarios of a few steps each.
STATEFUL_SCENARIOS = int(os.environ.get("FAIRLABEL_SCHEMATHESIS_SCENARIOS", "10"))


@pytest.mark.parametrize("role", ["owner", "annotator"])
def test_stateful_walks_follow_the_links(api_schema, role):
    world = build_world()
    headers = {"Authorization": f"Token {world.tokens[role]}"}
    tally = Tally()

    class Walk(api_schema.as_state_machine()):
        def get_call_kwargs(self, case):
            return {"headers": headers}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            tally.examples += 1
            tally.statuses[f"{response.status_code // 100}xx"] += 1
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except (FailureGroup, Exception) as failure:
                key = f"{role} {case.method} {case.path} → {response.status_code}"
                tally.failures.setdefault(key, "\n    ".join(str(failure).splitlines()[:12]))

    Walk.run(
        settings=hypothesis_settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=6,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
    )
    print(f"\nstateful as {role}: {tally.examples} calls, statuses {dict(tally.statuses)}")
    assert tally.examples > STATEFUL_SCENARIOS
    assert not tally.failures, "\n" + "\n".join(
        f"- {key}\n    {message}" for key, message in sorted(tally.failures.items())
    )


def test_the_schema_says_what_the_api_does(api_schema):
    raw = api_schema.raw_schema
    paths, components = raw["paths"], raw["components"]["schemas"]

    def ref(schema: dict) -> dict:
        return components[schema["$ref"].rsplit("/", 1)[1]] if "$ref" in schema else schema

    def body(path: str, method: str, code: str, media: str = "application/json") -> dict:
        return ref(paths[path][method]["responses"][code]["content"][media]["schema"])

    listing = body("/api/projects/", "get", "200")
    assert {"count", "next", "previous", "results"} <= set(listing["properties"])
    assert ref(body("/api/projects/", "post", "201")["properties"]["labels"])["type"] == "array"
    submit = ref(
        paths["/api/assignments/{assignment_id}/submit/"]["post"]["requestBody"]["content"][
            "application/json"
        ]["schema"]
    )
    titles = {option["title"] for option in submit["properties"]["result"]["anyOf"]}
    assert titles == {"Classification", "MultiLabel", "Spans", "Boxes"}
    download = paths["/api/exports/{job_id}/download/"]["get"]["responses"]["200"]["content"]
    assert {"application/json", "application/x-ndjson", "text/csv", "application/zip"} <= set(
        download
    )
    # No sign-in: the token exchange, and the check of a work record (a bank has no account).
    public_paths = ("/api/auth/token/", "/api/work-records/verify/")
    for path, operations in paths.items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            if "{" in path:
                assert "404" in codes, (method, path)
            if path not in public_paths:
                assert {"401", "403"} <= codes, (method, path)
            if method in ("post", "patch"):
                assert "400" in codes, (method, path)
            for code in codes - {"200", "201", "202", "204"}:
                error = operation["responses"][code]["content"]["application/json"]["schema"]
                assert {"error", "detail"} <= set(ref(error)["required"]), (method, path, code)
    assert "409" in paths["/api/projects/{project_id}/next/"]["post"]["responses"]
    links = paths["/api/projects/{project_id}/next/"]["post"]["responses"]["200"]["links"]
    assert links["Submit"]["parameters"] == {"assignment_id": "$response.body#/assignment"}
