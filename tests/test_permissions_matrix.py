"""Every URL of the app against every role (DESIGN.md, "Roles": every endpoint and page is
checked for every role).

How it works
------------
* `MATRIX` below is the table: one row per (URL pattern, method, concrete path), one column per
  actor. A cell is the status that actor must get. `LOGIN` means "302 to the log-in page",
  `ADMIN_LOGIN` "302 to the admin's log-in page", `DENY` "403 or 404" (both hide the resource).
  A cell wrapped in `Bug(...)` is the correct behaviour that the app does not have yet: it runs
  as `xfail(strict=True)`, so fixing the defect makes the suite say so.
* `test_every_url_pattern_is_in_the_matrix` walks `fairlabel.urls` and fails when a pattern is
  missing from the table (or the table names a pattern that no longer exists): a new endpoint
  must be added here, with its expectations for every role.
* One world is built per module (users, projects, an open and a submitted assignment, a zip image
  import, a finished export) inside a transaction that is rolled back at the end; every request
  runs in a savepoint that is rolled back too, so a POST in one cell cannot change another cell.
* Owners and auditors see annotators only by pseudonym: every body an owner or auditor can fetch
  (JSON, pages, export files, the provenance record, the zip) must not hold an annotator's
  username or e-mail.

Decisions documented here
-------------------------
* Django admin: only the index `/admin/` is checked; its internal URLs and i18n's set_language
  are not application endpoints.
* `/api/schema/` and `/api/docs/` are public (the API contract is not a secret and holds no
  data), as is `/healthz` (for load balancers), `/rules/` (algorithmic transparency: anyone,
  including a prospective annotator, may read the rules the dispatcher applies), the log-in
  and sign-up pages, and a project's fairness card `/fair/<token>/` (and `.json`): the signed
  token is the link's secret, the owner shares it, and the card names no annotator, not even by
  pseudonym (checked below for the anonymous body).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client, TestCase
from django.urls import URLPattern, URLResolver, get_resolver
from PIL import Image
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from labeling.models import JobStatus, TaskType

# Marked so that pytest-django creates the test database; each test then runs in a savepoint
# inside the module's world (see the `world` fixture).
pytestmark = pytest.mark.django_db

# --- the actors -------------------------------------------------------------------------------
ACTORS = ("anon", "annotator", "annotator_b", "owner", "other_owner", "auditor", "admin")
# annotator:   holds the open assignment {a_open} and submitted an annotation in {pub}; holds
#              the task of {img_pub}, so it may see its image (annotator_b may not)
# annotator_b: another annotator; also submitted one annotation in {pub}
# owner:       owns {pub}, {draft}, {img_pub}, {img_draft}, the import and the export job
# other_owner: an owner of another project only
PASSWORD = "a-good-test-password"  # tests/factories.py

# --- the cells --------------------------------------------------------------------------------
LOGIN = "login"  # 302 to /accounts/login/?next=...
ADMIN_LOGIN = "admin_login"  # 302 to /admin/login/?next=...
DENY = (403, 404)


@dataclass(frozen=True)
class Bug:
    """The correct expectation of a cell the app gets wrong today (runs as strict xfail)."""

    expected: Any
    reason: str


# --- the table --------------------------------------------------------------------------------
# Paths use the world's ids: {pub} published project of `owner` (4 tasks), {draft} a draft
# project of `owner` (1 task), {paused} a paused project of `owner`, {task} a task of {pub}
# annotated by `annotator`, {a_open} the open assignment of `annotator` in {pub}, {import} the
# zip import job of {img_draft}, {export} a finished JSON export of {pub}, {img_pub_url} /
# {img_draft_url} a zip-imported image of a published / a draft image project of `owner`.
# Bodies (see BODIES): "project" a valid new project, "patch" a new title, "jsonl" a multipart
# file of tasks, "export" {"format": "json"}, "result" a valid result, "credentials" the actor's
# own username and password (anonymous: a wrong one), "consent" a list of categories, "flag" one,
# "display" a blur strength.
_ = None
# fmt: off
MATRIX: list[tuple] = [
    # route pattern                                   method   path                                   body          anon       annotator  annot_b    owner  other_owner auditor  admin  # noqa: E501
    # --- pages: home, health, accounts, admin ---------------------------------------------------
    ("",                                              "GET",   "/",                                   _,            LOGIN,     302,       302,       302,   302,        302,     302),  # noqa: E501
    ("healthz",                                       "GET",   "/healthz",                            _,            200,       200,       200,       200,   200,        200,     200),  # noqa: E501
    ("favicon.ico",                                   "GET",   "/favicon.ico",                        _,            301,       301,       301,       301,   301,        301,     301),  # noqa: E501
    ("accounts/login/",                               "GET",   "/accounts/login/",                    _,            200,       302,       302,       302,   302,        302,     302),  # noqa: E501
    ("accounts/logout/",                              "POST",  "/accounts/logout/",                   _,            302,       302,       302,       302,   302,        302,     302),  # noqa: E501
    ("accounts/logout/",                              "GET",   "/accounts/logout/",                   _,            405,       405,       405,       405,   405,        405,     405),  # noqa: E501
    ("accounts/signup/",                              "GET",   "/accounts/signup/",                   _,            200,       302,       302,       302,   302,        302,     302),  # noqa: E501
    ("admin/",                                        "GET",   "/admin/",                             _,            ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200),  # noqa: E501
    # --- API: accounts, schema -----------------------------------------------------------------
    ("api/auth/token/",                               "POST",  "/api/auth/token/",                    "credentials", 400,      200,       200,       200,   200,        200,     200),  # noqa: E501
    ("api/auth/token/",                               "GET",   "/api/auth/token/",                    _,            405,       405,       405,       405,   405,        405,     405),  # noqa: E501
    ("api/me/",                                       "GET",   "/api/me/",                            _,            401,       200,       200,       200,   200,        200,     200),  # noqa: E501
    ("api/schema/",                                   "GET",   "/api/schema/",                        _,            200,       200,       200,       200,   200,        200,     200),  # noqa: E501
    ("api/docs/",                                     "GET",   "/api/docs/",                          _,            200,       200,       200,       200,   200,        200,     200),  # noqa: E501
    # --- API: projects -------------------------------------------------------------------------
    ("api/projects/",                                 "GET",   "/api/projects/",                      _,            401,       200,       200,       200,   200,        200,     200),  # noqa: E501
    ("api/projects/",                                 "POST",  "/api/projects/",                      "project",    401,       403,       403,       201,   201,        403,     201),  # noqa: E501
    ("api/projects/<id:project_id>/",                "GET",   "/api/projects/{pub}/",                _,            401,       200,       200,       200,   404,        200,     200),  # noqa: E501
    ("api/projects/<id:project_id>/",                "GET",   "/api/projects/{draft}/",              _,            401,       404,       404,       200,   404,        200,     200),  # noqa: E501
    ("api/projects/<id:project_id>/",                "GET",   "/api/projects/{paused}/",             _,            401,       404,       404,       200,   404,        200,     200),  # noqa: E501
    ("api/projects/<id:project_id>/",                "PATCH", "/api/projects/{pub}/",                "patch",      401,       403,       403,       200,   404,        403,     200),  # noqa: E501
    ("api/projects/<id:project_id>/",                "PUT",   "/api/projects/{pub}/",                "patch",      401,       403,       403,       405,   405,        403,     405),  # noqa: E501
    ("api/projects/<id:project_id>/",                "DELETE", "/api/projects/{pub}/",               _,            401,       403,       403,       405,   405,        403,     405),  # noqa: E501
    ("api/projects/<id:project_id>/publish/",        "POST",  "/api/projects/{draft}/publish/",      _,            401,       403,       403,       200,   404,        403,     200),  # noqa: E501
    ("api/projects/<id:project_id>/pause/",          "POST",  "/api/projects/{pub}/pause/",          _,            401,       403,       403,       200,   404,        403,     200),  # noqa: E501
    ("api/projects/<id:project_id>/annotators/",     "GET",   "/api/projects/{pub}/annotators/",     _,            401,       DENY,      DENY,      200,   404,        200,     200),  # noqa: E501
    ("api/projects/<id:project_id>/tasks/<id:task_id>/", "GET", "/api/projects/{pub}/tasks/{task}/", _,           401,       DENY,      DENY,      200,   404,        200,     200),  # noqa: E501
    ("api/projects/<id:project_id>/tasks/<id:task_id>/", "GET", "/api/projects/{draft}/tasks/{task}/", _,         401,       DENY,      DENY,      404,   404,        404,     404),  # noqa: E501
    # --- API: the dispatcher -------------------------------------------------------------------
    ("api/projects/<id:project_id>/next/",           "POST",  "/api/projects/{pub}/next/",           _,            401,       200,       200,       403,   403,        403,     403),  # noqa: E501
    ("api/projects/<id:project_id>/next/",           "POST",  "/api/projects/{draft}/next/",         _,            401,       404,       404,       403,   403,        403,     403),  # noqa: E501
    ("api/projects/<id:project_id>/next/",           "POST",  "/api/projects/{paused}/next/",        _,            401,       409,       409,       403,   403,        403,     403),  # noqa: E501
    ("api/assignments/<id:assignment_id>/submit/",   "POST",  "/api/assignments/{a_open}/submit/",   "result",     401,       201,       404,       403,   403,        403,     403),  # noqa: E501
    ("api/assignments/<id:assignment_id>/skip/",     "POST",  "/api/assignments/{a_open}/skip/",     _,            401,       200,       404,       403,   403,        403,     403),  # noqa: E501
    # --- API: working time ---------------------------------------------------------------------
    ("api/heartbeat/",                                "POST",  "/api/heartbeat/",                     _,            401,       200,       200,       403,   403,        403,     403),  # noqa: E501
    ("api/heartbeat/",                                "GET",   "/api/heartbeat/",                     _,            401,       200,       200,       403,   403,        403,     403),  # noqa: E501
    ("api/breaks/",                                   "POST",  "/api/breaks/",                        _,            401,       201,       201,       403,   403,        403,     403),  # noqa: E501
    ("api/projects/<id:project_id>/consent/",        "GET",   "/api/projects/{pub}/consent/",        _,            401,       200,       200,       403,   403,        403,     403),  # noqa: E501
    ("api/projects/<id:project_id>/consent/",        "POST",  "/api/projects/{pub}/consent/",        "consent",    401,       200,       200,       403,   403,        403,     403),  # noqa: E501
    ("api/projects/<id:project_id>/consent/",        "GET",   "/api/projects/{draft}/consent/",      _,            401,       404,       404,       403,   403,        403,     403),  # noqa: E501
    ("api/assignments/<id:assignment_id>/flag/",     "POST",  "/api/assignments/{a_open}/flag/",     "flag",       401,       200,       404,       403,   403,        403,     403),  # noqa: E501
    ("api/breaks/end/",                               "POST",  "/api/breaks/end/",                    _,            401,       409,       409,       403,   403,        403,     403),  # noqa: E501
    ("api/me/display/",                               "GET",   "/api/me/display/",                    _,            401,       200,       200,       200,   200,        200,     200),  # noqa: E501
    ("api/me/display/",                               "PUT",   "/api/me/display/",                    "display",    401,       200,       200,       200,   200,        200,     200),  # noqa: E501
    # --- API: imports --------------------------------------------------------------------------
    ("api/projects/<id:project_id>/imports/",        "POST",  "/api/projects/{pub}/imports/",        "jsonl",      401,       403,       403,       202,   404,        403,     202),  # noqa: E501
    ("api/imports/<id:import_id>/",                  "GET",   "/api/imports/{import}/",              _,            401,       DENY,      DENY,      200,   404,        DENY,    200),  # noqa: E501
    # --- API: exports --------------------------------------------------------------------------
    ("api/projects/<id:project_id>/exports/",        "POST",  "/api/projects/{pub}/exports/",        "export",     401,       403,       403,       202,   404,        403,     202),  # noqa: E501
    ("api/exports/<id:job_id>/",                     "GET",   "/api/exports/{export}/",              _,            401,       DENY,      DENY,      200,   404,        DENY,    200),  # noqa: E501
    ("api/exports/<id:job_id>/download/",            "GET",   "/api/exports/{export}/download/",     _,            401,       DENY,      DENY,      200,   404,        DENY,    200),  # noqa: E501
    ("api/exports/<id:job_id>/provenance/",          "GET",   "/api/exports/{export}/provenance/",   _,            401,       DENY,      DENY,      200,   404,        DENY,    200),  # noqa: E501
    ("api/exports/<id:job_id>/zip/",                 "GET",   "/api/exports/{export}/zip/",          _,            401,       DENY,      DENY,      200,   404,        DENY,    200),  # noqa: E501
        # --- API: fair pay -------------------------------------------------------------------------  # noqa: E501
    ("api/projects/<id:project_id>/fund/",           "POST",  "/api/projects/{pub}/fund/",           "amount",     401,       403,       403,       201,   404,        403,     201),  # noqa: E501
    ("api/projects/<id:project_id>/budget/",         "GET",   "/api/projects/{pub}/budget/",         _,            401,       403,       403,       200,   404,        200,     200),  # noqa: E501
    ("api/me/earnings/",                              "GET",   "/api/me/earnings/",                   _,            401,       200,       200,       403,   403,        403,     403),  # noqa: E501
    ("api/me/work-record/",                           "GET",   "/api/me/work-record/",                _,            401,       200,       200,       403,   403,        403,     403),  # noqa: E501
    # Public: whoever received an annotator's record (a bank, an employer) checks it.
    ("api/work-records/verify/",                      "POST",  "/api/work-records/verify/",           "work_record", 200,      200,       200,       200,   200,        200,     200),  # noqa: E501
    ("api/me/reviews/",                               "GET",   "/api/me/reviews/",                    _,            401,       200,       200,       403,   403,        403,     403),  # noqa: E501
    ("api/payouts/",                                  "GET",   "/api/payouts/",                       _,            401,       200,       200,       403,   403,        403,     403),  # noqa: E501
    ("api/payouts/",                                  "POST",  "/api/payouts/",                       "amount",     401,       400,       400,       403,   403,        403,     403),  # noqa: E501
    ("api/reports/",                                  "POST",  "/api/reports/",                       "period",     401,       403,       403,       403,   403,        202,     202),  # noqa: E501
    ("api/reports/<id:report_id>/",                  "GET",   "/api/reports/{report}/",              _,            401,       403,       403,       403,   403,        200,     200),  # noqa: E501
    ("audit/reports/",                                "GET",   "/audit/reports/",                     _,            LOGIN,     403,       403,       403,   403,        200,     200),  # noqa: E501
    ("audit/reports/",                                "POST",  "/audit/reports/",                     "period",     LOGIN,     403,       403,       403,   403,        302,     302),  # noqa: E501
    ("audit/reports/<id:report_id>/",                "GET",   "/audit/reports/{report}/",            _,            LOGIN,     403,       403,       403,   403,        200,     200),  # noqa: E501
    ("audit/reports/<id:report_id>/csv/",            "GET",   "/audit/reports/{report}/csv/",        _,            LOGIN,     403,       403,       403,   403,        200,     200),  # noqa: E501
    ("audit/reports/<id:report_id>/days.csv",        "GET",   "/audit/reports/{report}/days.csv",    _,            LOGIN,     403,       403,       403,   403,        200,     200),  # noqa: E501
    # Worker voice: annotators write to auditors anonymously; the owner never reads.
    ("api/projects/<id:project_id>/voice/",          "POST",  "/api/projects/{pub}/voice/",          "voice",      401,       201,       201,       403,   403,        403,     403),  # noqa: E501
    ("api/projects/<id:project_id>/voice/",          "POST",  "/api/projects/{draft}/voice/",        "voice",      401,       404,       404,       403,   403,        403,     403),  # noqa: E501
    ("api/projects/<id:project_id>/voice/",          "POST",  "/api/projects/{paused}/voice/",       "voice",      401,       404,       404,       403,   403,        403,     403),  # noqa: E501
    ("api/voice/",                                    "GET",   "/api/voice/",                         _,            401,       403,       403,       403,   403,        200,     200),  # noqa: E501
    ("api/voice/",                                    "GET",   "/api/voice/?project={pub}",           _,            401,       403,       403,       403,   403,        200,     200),  # noqa: E501
    ("audit/voice/",                                  "GET",   "/audit/voice/",                       _,            LOGIN,     403,       403,       403,   403,        200,     200),  # noqa: E501
    ("projects/<id:project_id>/voice/",              "GET",   "/projects/{pub}/voice/",              _,            LOGIN,     200,       200,       403,   403,        403,     403),  # noqa: E501
    ("projects/<id:project_id>/voice/",              "POST",  "/projects/{pub}/voice/",              "voice",      LOGIN,     302,       302,       403,   403,        403,     403),  # noqa: E501
    ("projects/<id:project_id>/voice/",              "GET",   "/projects/{draft}/voice/",            _,            LOGIN,     404,       404,       403,   403,        403,     403),  # noqa: E501
    ("api/ledger/verify/",                            "GET",   "/api/ledger/verify/",                 _,            401,       403,       403,       403,   403,        200,     200),  # noqa: E501
    ("api/annotations/<id:annotation_id>/approve/",  "POST",  "/api/annotations/{ann}/approve/",     _,            401,       403,       403,       201,   404,        403,     201),  # noqa: E501
    ("api/annotations/<id:annotation_id>/reject/",   "POST",  "/api/annotations/{ann}/reject/",      "reason",     401,       403,       403,       201,   404,        403,     201),  # noqa: E501
    ("api/annotations/<id:annotation_id>/appeal/",   "POST",  "/api/annotations/{ann}/appeal/",      "appeal",     401,       404,       404,       403,   403,        403,     403),  # noqa: E501
    ("api/annotations/<id:annotation_id>/decide/",   "POST",  "/api/annotations/{ann}/decide/",      "decide",     401,       403,       403,       409,   404,        403,     409),  # noqa: E501
    # --- pages: fair pay -----------------------------------------------------------------------
    ("earnings/",                                     "GET",   "/earnings/",                          _,            LOGIN,     200,       200,       403,   403,        403,     403),  # noqa: E501
    ("earnings/record/",                              "GET",   "/earnings/record/",                   _,            LOGIN,     200,       200,       403,   403,        403,     403),  # noqa: E501
    ("work-record/verify/",                           "GET",   "/work-record/verify/",                _,            200,       200,       200,       200,   200,        200,     200),  # noqa: E501
    ("work-record/verify/",                           "POST",  "/work-record/verify/",                "work_record", 200,      200,       200,       200,   200,        200,     200),  # noqa: E501
    ("earnings/payout/",                              "POST",  "/earnings/payout/",                   "amount",     LOGIN,     302,       302,       403,   403,        403,     403),  # noqa: E501
    ("earnings/appeal/<id:annotation_id>/",          "POST",  "/earnings/appeal/{ann}/",             "appeal",     LOGIN,     302,       302,       403,   403,        403,     403),  # noqa: E501
    ("projects/<id:project_id>/budget/",             "GET",   "/projects/{pub}/budget/",             _,            LOGIN,     403,       403,       200,   404,        200,     200),  # noqa: E501
    ("projects/<id:project_id>/fund/",               "POST",  "/projects/{pub}/fund/",               "amount",     LOGIN,     403,       403,       302,   404,        403,     302),  # noqa: E501
    ("payouts/",                                      "GET",   "/payouts/",                           _,            LOGIN,     403,       403,       403,   403,        403,     200),  # noqa: E501
    ("payouts.csv",                                   "GET",   "/payouts.csv",                        _,            LOGIN,     403,       403,       403,   403,        403,     200),  # noqa: E501
    # --- pages: projects (owners) --------------------------------------------------------------
    ("projects/",                                     "GET",   "/projects/",                          _,            LOGIN,     403,       403,       200,   200,        403,     200),  # noqa: E501
    ("projects/new/",                                 "GET",   "/projects/new/",                      _,            LOGIN,     403,       403,       200,   200,        403,     200),  # noqa: E501
    ("projects/<id:project_id>/",                    "GET",   "/projects/{pub}/",                    _,            LOGIN,     DENY,      DENY,      200,   404,        200,     200),  # noqa: E501
    ("projects/<id:project_id>/edit/",               "GET",   "/projects/{pub}/edit/",               _,            LOGIN,     403,       403,       200,   404,        403,     200),  # noqa: E501
    ("projects/<id:project_id>/publish/",            "POST",  "/projects/{draft}/publish/",          _,            LOGIN,     403,       403,       302,   404,        403,     302),  # noqa: E501
    ("projects/<id:project_id>/pause/",              "POST",  "/projects/{pub}/pause/",              _,            LOGIN,     403,       403,       302,   404,        403,     302),  # noqa: E501
    ("projects/<id:project_id>/tasks/",              "GET",   "/projects/{pub}/tasks/?q=a&state=new", _,           LOGIN,     DENY,      DENY,      200,   404,        200,     200),  # noqa: E501
    ("projects/<id:project_id>/tasks/",              "GET",   "/projects/{draft}/tasks/",            _,            LOGIN,     DENY,      DENY,      200,   404,        200,     200),  # noqa: E501
    ("projects/<id:project_id>/tasks/<id:task_id>/", "GET",  "/projects/{pub}/tasks/{task}/",       _,            LOGIN,     DENY,      DENY,      200,   404,        200,     200),  # noqa: E501
    # --- pages: annotators, auditors, rules ----------------------------------------------------
    ("label/",                                        "GET",   "/label/",                             _,            LOGIN,     200,       200,       403,   403,        403,     403),  # noqa: E501
    ("label/<id:project_id>/",                       "GET",   "/label/{pub}/",                       _,            LOGIN,     200,       200,       403,   403,        403,     403),  # noqa: E501
    ("label/<id:project_id>/",                       "GET",   "/label/{draft}/",                     _,            LOGIN,     404,       404,       403,   403,        403,     403),  # noqa: E501
    # A paused project's page says it is paused (it was open to annotators): not a 404.
    ("label/<id:project_id>/",                       "GET",   "/label/{paused}/",                    _,            LOGIN,     200,       200,       403,   403,        403,     403),  # noqa: E501
    ("audit/",                                        "GET",   "/audit/",                             _,            LOGIN,     403,       403,       403,   403,        200,     200),  # noqa: E501
    ("rules/",                                        "GET",   "/rules/",                             _,            200,       200,       200,       200,   200,        200,     200),  # noqa: E501
    # --- pages: imports ------------------------------------------------------------------------
    ("projects/<id:project_id>/imports/",            "POST",  "/projects/{pub}/imports/",            "jsonl",      LOGIN,     403,       403,       302,   404,        403,     302),  # noqa: E501
    ("projects/<id:project_id>/imports/latest/",     "GET",   "/projects/{img_draft}/imports/latest/", _,          LOGIN,     403,       403,       200,   404,        403,     200),  # noqa: E501
    ("imports/<id:job_id>/status/",                  "GET",   "/imports/{import}/status/",           _,            LOGIN,     403,       403,       200,   404,        403,     200),  # noqa: E501
    ("media-protected/<id:project_id>/<str:token>/<path:name>", "GET", "{img_pub_url}",              _,            LOGIN,     200,       404,       200,   404,        200,     200),  # noqa: E501
    ("media-protected/<id:project_id>/<str:token>/<path:name>", "GET", "{img_draft_url}",            _,            LOGIN,     404,       404,       200,   404,        200,     200),  # noqa: E501
    # --- pages: exports ------------------------------------------------------------------------
    ("projects/<id:project_id>/exports/",            "GET",   "/projects/{pub}/exports/",            _,            LOGIN,     403,       403,       200,   404,        403,     200),  # noqa: E501
    ("projects/<id:project_id>/exports/",            "POST",  "/projects/{pub}/exports/",            "export",     LOGIN,     403,       403,       302,   404,        403,     302),  # noqa: E501
    ("projects/<id:project_id>/exports/jobs/",       "GET",   "/projects/{pub}/exports/jobs/",       _,            LOGIN,     403,       403,       200,   404,        403,     200),  # noqa: E501
    # --- pages: the public fairness card (no sign-in; the signed token is the secret) ----------
    ("fair/<signed:token>/",                          "GET",   "/fair/{card}/",                       _,            200,       200,       200,       200,   200,        200,     200),  # noqa: E501
    ("fair/<signed:token>/",                          "GET",   "/fair/{forged_card}/",                _,            404,       404,       404,       404,   404,        404,     404),  # noqa: E501
    ("fair/<signed:token>/",                          "POST",  "/fair/{card}/",                       _,            405,       405,       405,       405,   405,        405,     405),  # noqa: E501
    ("fair/<signed:token>.json",                      "GET",   "/fair/{card}.json",                   _,            200,       200,       200,       200,   200,        200,     200),  # noqa: E501
    ("fair/<signed:token>.json",                      "GET",   "/fair/{forged_card}.json",            _,            404,       404,       404,       404,   404,        404,     404),  # noqa: E501
]
# fmt: on

# URL patterns that are not application endpoints (see the module docstring).
IGNORED_PREFIXES = ("admin/", "i18n/")
CHECKED_DESPITE_PREFIX = {"admin/"}  # the admin index only

# Whose bodies must never hold an annotator's username or e-mail.
PSEUDONYM_ONLY = ("owner", "other_owner", "auditor")


# --- the world --------------------------------------------------------------------------------
def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 3), "red").save(out, "PNG")
    return out.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


class World:
    def __init__(self) -> None:
        from accounts.selectors import pseudonym_of
        from labeling.dispatch import annotation_submit, assignment_next
        from labeling.exporting.services import export_job_create
        from labeling.importing.services import import_job_create
        from labeling.services import project_pause, project_publish
        from tests.factories import project_factory, user_factory

        self.users = {
            "annotator": user_factory("annotator", username="anna-zq7-secret"),
            "annotator_b": user_factory("annotator", username="bob-zq7-secret"),
            "owner": user_factory("owner"),
            "other_owner": user_factory("owner"),
            "auditor": user_factory("auditor"),
            "admin": user_factory("admin"),
        }
        for key in ("annotator", "annotator_b"):
            user = self.users[key]
            user.email = f"{user.username}@mail.example.org"
            user.first_name, user.last_name = "Zq7first", f"Zq7last{key}"
            user.save(update_fields=["email", "first_name", "last_name"])
        owner = self.users["owner"]
        pub = project_factory(owner, tasks=4, publish=True)
        draft = project_factory(owner, tasks=1)
        paused = project_pause(project=project_factory(owner, tasks=1, publish=True))
        project_factory(self.users["other_owner"], tasks=1, publish=True)

        annotator, annotator_b = self.users["annotator"], self.users["annotator_b"]
        first = assignment_next(annotator=annotator, project=pub)
        annotation_submit(annotator=annotator, assignment_id=first.pk, result={"label": "pos"})
        open_one = assignment_next(annotator=annotator, project=pub)
        other = assignment_next(annotator=annotator_b, project=pub)
        annotation_submit(annotator=annotator_b, assignment_id=other.pk, result={"label": "neg"})

        images = {}
        jobs = {}
        for key in ("img_pub", "img_draft"):
            project = project_factory(owner, task_type=TaskType.IMAGE_CLASSIFICATION)
            with TestCase.captureOnCommitCallbacks(execute=True):
                job = import_job_create(
                    project=project,
                    user=owner,
                    file=SimpleUploadedFile("pics.zip", _zip({"a.png": _png()})),
                )
            job.refresh_from_db()
            assert job.status == JobStatus.DONE, job.errors
            if key == "img_pub":
                project = project_publish(project=project)
                # Holds its task: the only annotator who may see its image.
                assignment_next(annotator=annotator, project=project)
            images[key], jobs[key] = project, job

        from datetime import timedelta

        from django.utils import timezone

        from payments.reports import report_create
        from payments.services import settle_now

        settle_now()
        # A message to the auditors, so that their voice pages have a body to scan for names.
        from payments.services import voice_message_send

        voice_message_send(
            annotator=annotator, project_id=pub.pk, topic="pay", text="The price is too low."
        )
        with TestCase.captureOnCommitCallbacks(execute=True):
            report = report_create(
                user=self.users["auditor"],
                start=timezone.now() - timedelta(days=30),
                end=timezone.now() + timedelta(days=1),
            )
        report.refresh_from_db()
        assert report.status == JobStatus.DONE, report.error
        with TestCase.captureOnCommitCallbacks(execute=True):
            export = export_job_create(project=pub, user=owner, fmt="json")
        export.refresh_from_db()
        assert export.status == JobStatus.DONE, export.error

        from labeling.exporting.selectors import fairness_card_token

        card = fairness_card_token(pub)
        self.ids = {
            "card": card,
            # The card of {pub} with the id swapped for {draft}'s: the signature no longer fits.
            "forged_card": fairness_card_token(draft).split(":")[0] + ":" + card.split(":")[1],
            "pub": pub.pk,
            "draft": draft.pk,
            "paused": paused.pk,
            "task": first.task_id,
            "ann": first.annotation.pk,
            "report": report.pk,
            "a_open": open_one.pk,
            "import": jobs["img_draft"].pk,
            "export": export.pk,
            "img_pub": images["img_pub"].pk,
            "img_draft": images["img_draft"].pk,
            "img_pub_url": images["img_pub"].tasks.get().data["image"],
            "img_draft_url": images["img_draft"].tasks.get().data["image"],
        }
        self.pseudonyms = {k: pseudonym_of(self.users[k]) for k in ("annotator", "annotator_b")}
        self.secrets = [
            value
            for key in ("annotator", "annotator_b")
            for value in (
                self.users[key].username,
                self.users[key].email,
                self.users[key].last_name,
            )
        ]
        self.tokens = {k: Token.objects.create(user=u).key for k, u in self.users.items()}
        self.sessions = {}
        for key, user in self.users.items():
            client = Client()
            client.force_login(user)
            self.sessions[key] = client.cookies[settings.SESSION_COOKIE_NAME].value
        self._cache: dict[tuple, Any] = {}
        self._clients: dict[tuple, Client] = {}

    # Clients: one per actor and kind (building a client's middleware is costly: whitenoise
    # scans the static files), with their cookies reset before every request, so a log-out in
    # one cell cannot leak into another.
    def api_client(self, actor: str) -> APIClient:
        key = ("api", actor)
        if key not in self._clients:
            client = APIClient(raise_request_exception=False)
            if actor != "anon":
                client.credentials(HTTP_AUTHORIZATION=f"Token {self.tokens[actor]}")
            self._clients[key] = client
        client = self._clients[key]
        client.cookies = SimpleCookie()
        return client

    def page_client(self, actor: str) -> Client:
        key = ("page", actor)
        if key not in self._clients:
            self._clients[key] = Client(raise_request_exception=False)
        client = self._clients[key]
        client.cookies = SimpleCookie()
        if actor != "anon":
            client.cookies[settings.SESSION_COOKIE_NAME] = self.sessions[actor]
        return client

    def path(self, template: str) -> str:
        return template.format(**self.ids)

    def fetch(self, method: str, template: str, body: str | None, actor: str):
        """The response and its full body (bytes), once per cell; side effects rolled back."""
        key = (method, template, body, actor)
        if key not in self._cache:
            path = self.path(template)
            api = path.startswith("/api/")
            client = self.api_client(actor) if api else self.page_client(actor)
            kwargs = BODIES[body](self, actor, api) if body else {}
            with transaction.atomic():
                response = getattr(client, method.lower())(path, **kwargs)
                content = _content(response)
                transaction.set_rollback(True)
            self._cache[key] = (response, content)
        return self._cache[key]


def _content(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def _text(response, content: bytes) -> str:
    """The body as text; a zip is opened and its members read."""
    if response.get("Content-Type", "").startswith("application/zip"):
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return "\n".join(
                archive.read(name).decode("utf-8", "replace") for name in archive.namelist()
            )
    return content.decode("utf-8", "replace")


def _credentials(world: World, actor: str, api: bool) -> dict:
    if actor == "anon":
        username, password = world.users["owner"].username, "not-the-password"
    else:
        username, password = world.users[actor].username, PASSWORD
    return {"data": {"username": username, "password": password}, "format": "json"}


def _jsonl(world: World, actor: str, api: bool) -> dict:
    upload = SimpleUploadedFile("more.jsonl", b'{"data": {"text": "one more task"}}\n')
    return {"data": {"file": upload}, **({"format": "multipart"} if api else {})}


def _work_record(world: World, actor: str, api: bool) -> dict:
    """The record `annotator` downloads, sent by whoever it was given to."""
    from payments.work_record import work_record_of

    raw = json.dumps(work_record_of(annotator=world.users["annotator"])).encode()
    if api:
        return {"data": raw, "content_type": "application/json"}
    return {"data": {"file": SimpleUploadedFile("record.json", raw, "application/json")}}


BODIES: dict[str, Callable[[World, str, bool], dict]] = {
    "work_record": _work_record,
    "credentials": _credentials,
    "project": lambda w, a, api: {
        "data": {
            "title": "A new project",
            "task_type": "text_classification",
            "labels": ["yes", "no"],
            "price_per_task": "0.10",
            "estimated_seconds_per_task": 20,
        },
        "format": "json",
    },
    "patch": lambda w, a, api: {"data": {"title": "Renamed"}, "format": "json"},
    "jsonl": _jsonl,
    "export": lambda w, a, api: (
        {"data": {"format": "json"}, "format": "json"} if api else {"data": {"format": "json"}}
    ),
    "result": lambda w, a, api: {"data": {"result": {"label": "pos"}}, "format": "json"},
    "consent": lambda w, a, api: {"data": {"categories": ["violence"]}, "format": "json"},
    "flag": lambda w, a, api: {"data": {"category": "hate"}, "format": "json"},
    "amount": lambda w, a, api: (
        {"data": {"amount": "10.00"}, "format": "json"} if api else {"data": {"amount": "10.00"}}
    ),
    "reason": lambda w, a, api: {
        "data": {"reason": "The label contradicts the text."},
        "format": "json",
    },
    "appeal": lambda w, a, api: (
        {"data": {"text": "The text is ironic."}, "format": "json"}
        if api
        else {"data": {"text": "The text is ironic."}}
    ),
    "period": lambda w, a, api: (
        {"data": {"start": "2030-01-01T00:00:00Z", "end": "2030-02-01T00:00:00Z"}, "format": "json"}
        if api
        else {"data": {"start": "2030-01-01", "end": "2030-02-01"}}
    ),
    "decide": lambda w, a, api: {"data": {"overturn": True, "note": "Agreed."}, "format": "json"},
    "display": lambda w, a, api: {"data": {"blur_px": 8}, "format": "json"},
    "voice": lambda w, a, api: (
        {"data": {"topic": "pay", "text": "Too little for these."}, "format": "json"}
        if api
        else {"data": {"topic": "pay", "text": "Too little for these."}}
    ),
}


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield World()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


# --- the cases --------------------------------------------------------------------------------
def _cells():
    for route, method, template, body, *expected in MATRIX:
        assert len(expected) == len(ACTORS), f"row {route} {method} {template}: wrong width"
        for actor, cell in zip(ACTORS, expected, strict=True):
            marks = []
            if isinstance(cell, Bug):
                marks.append(pytest.mark.xfail(strict=True, reason=cell.reason))
                cell = cell.expected
            yield pytest.param(
                method,
                template,
                body,
                actor,
                cell,
                id=f"{method} {template} as {actor}",
                marks=marks,
            )


def _matches(response, expected) -> bool:
    status = response.status_code
    if expected in (LOGIN, ADMIN_LOGIN):
        target = "/accounts/login/" if expected == LOGIN else "/admin/login/"
        return status == 302 and response["Location"].startswith(target)
    if isinstance(expected, tuple):
        return status in expected
    return status == expected


@pytest.mark.parametrize(("method", "template", "body", "actor", "expected"), list(_cells()))
def test_permission_matrix(world, method, template, body, actor, expected):
    response, content = world.fetch(method, template, body, actor)
    where = response.get("Location", "") or content[:300]
    assert _matches(response, expected), (
        f"{method} {world.path(template)} as {actor}: got {response.status_code} ({where!r}), "
        f"expected {expected}"
    )


def _pseudonym_only_cells():
    for _route, method, template, _body, *expected in MATRIX:
        if method != "GET":
            continue
        for actor, cell in zip(ACTORS, expected, strict=True):
            if actor in PSEUDONYM_ONLY and cell == 200:
                yield pytest.param(method, template, actor, id=f"{template} as {actor}")


@pytest.mark.parametrize(("method", "template", "actor"), list(_pseudonym_only_cells()))
def test_owners_and_auditors_never_see_annotator_identity(world, method, template, actor):
    response, content = world.fetch(method, template, None, actor)
    assert response.status_code == 200
    text = _text(response, content).lower()
    leaked = [secret for secret in world.secrets if secret.lower() in text]
    assert not leaked, f"GET {world.path(template)} as {actor} shows {leaked}"


@pytest.mark.parametrize("template", ["/fair/{card}/", "/fair/{card}.json"])
def test_the_public_fairness_card_names_nobody_not_even_by_pseudonym(world, template):
    response, content = world.fetch("GET", template, None, "anon")
    assert response.status_code == 200
    text = content.decode().lower()
    named = [s for s in [*world.secrets, *world.pseudonyms.values()] if s.lower() in text]
    assert not named, f"the public card {template} shows {named}"
    assert "12.00" in text  # it is the card, with the floor


@pytest.mark.parametrize(
    "template",
    [
        "/api/projects/{pub}/annotators/",
        "/api/projects/{pub}/tasks/{task}/",
        "/api/exports/{export}/download/",
        "/api/exports/{export}/provenance/",
        "/api/exports/{export}/zip/",
        "/projects/{pub}/",
        "/projects/{pub}/tasks/{task}/",
    ],
)
def test_owner_sees_the_pseudonym_instead(world, template):
    """The identity check above means something: these bodies do name the annotator, by
    pseudonym."""
    response, content = world.fetch("GET", template, None, "owner")
    assert response.status_code == 200
    assert world.pseudonyms["annotator"] in _text(response, content)


# --- scoping inside the 200s ------------------------------------------------------------------
def _ids(world: World, actor: str) -> set[int]:
    response, _body = world.fetch("GET", "/api/projects/?limit=500", None, actor)
    assert response.status_code == 200
    return {row["id"] for row in response.json()["results"]}


@pytest.mark.parametrize("actor", ["annotator", "annotator_b"])
def test_annotators_list_only_published_projects(world, actor):
    from labeling.models import Project

    ids = _ids(world, actor)
    assert world.ids["pub"] in ids and world.ids["img_pub"] in ids
    assert world.ids["draft"] not in ids and world.ids["img_draft"] not in ids
    assert world.ids["paused"] not in ids
    statuses = set(Project.objects.filter(pk__in=ids).values_list("status", flat=True))
    assert statuses == {Project.Status.PUBLISHED}


def test_owners_list_only_their_own_projects(world):
    from labeling.models import Project

    owner, other = world.users["owner"], world.users["other_owner"]
    assert _ids(world, "owner") == set(
        Project.objects.filter(owner=owner).values_list("id", flat=True)
    )
    assert world.ids["pub"] not in _ids(world, "other_owner")
    assert _ids(world, "other_owner") == set(
        Project.objects.filter(owner=other).values_list("id", flat=True)
    )


@pytest.mark.parametrize("actor", ["auditor", "admin"])
def test_auditors_and_admins_list_every_project(world, actor):
    from labeling.models import Project

    assert _ids(world, actor) == set(Project.objects.values_list("id", flat=True))


def test_owner_project_list_page_hides_other_owners_projects(world):
    from labeling.models import Project

    other = Project.objects.get(owner=world.users["other_owner"])
    response, content = world.fetch("GET", "/projects/", None, "owner")
    assert response.status_code == 200
    assert other.title.encode() not in content


def test_me_names_the_caller_only(world):
    response, _body = world.fetch("GET", "/api/me/", None, "annotator")
    body = response.json()
    assert body["username"] == world.users["annotator"].username
    assert body["role"] == "annotator"
    assert body["pseudonym"] == world.pseudonyms["annotator"]


# --- the matrix lists every URL ----------------------------------------------------------------
def _routes(patterns, prefix: str = ""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if route.startswith(IGNORED_PREFIXES) and route not in CHECKED_DESPITE_PREFIX:
                continue
            yield from _routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            if route.startswith(IGNORED_PREFIXES) and route not in CHECKED_DESPITE_PREFIX:
                continue
            yield route


def test_every_url_pattern_is_in_the_matrix():
    routes = set(_routes(get_resolver().url_patterns))
    listed = {row[0] for row in MATRIX}
    missing = sorted(routes - listed)
    stale = sorted(listed - routes)
    assert not missing, (
        f"URL patterns without a row in MATRIX (add them, for every role): {missing}"
    )
    assert not stale, f"MATRIX rows for URL patterns that no longer exist: {stale}"
