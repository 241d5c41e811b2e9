"""The public work-record check takes anything a stranger uploads: mangled records get a
verdict (200 with problems, or a 4xx), never a server error, and never `ok`."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from payments.work_record import work_record_of
from tests.payments.test_work_record import settled  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
PATHS = [
    ("record",),
    ("record", "ledger"),
    ("record", "ledger", "chains"),
    ("record", "ledger", "chains", 0),
    ("record", "ledger", "chains", 0, "seq"),
    ("record", "ledger", "chains", 0, "chain"),
    ("record", "ledger", "chains", 0, "hash"),
    ("record", "annotator", "pseudonym"),
    ("record", "period", "settled_through"),
    ("record", "generated_at"),
    ("record", "projects"),
    ("record", "projects", 0, "months"),
    ("record", "projects", 0, "months", 0, "month"),
    ("record", "totals"),
    ("record_hash",),
    ("seal",),
]


@pytest.fixture
def genuine(settled, settings):  # noqa: F811
    settings.FAIRLABEL_WORK_RECORD_VERIFY_RATE = "100000/min"
    return work_record_of(annotator=settled["anna"])


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(path=st.sampled_from(PATHS), value=JSON)
def test_a_mangled_record_gets_a_verdict_not_a_server_error(genuine, path, value):
    document = copy.deepcopy(genuine)
    where = document
    for key in path[:-1]:
        try:
            where = where[key]
        except (KeyError, IndexError, TypeError):
            return
    try:
        where[path[-1]] = value
    except (IndexError, TypeError):
        return
    client = APIClient()
    response = client.post(
        "/api/work-records/verify/",
        data=json.dumps(document, default=str),
        content_type="application/json",
    )
    assert response.status_code in (200, 400), response.content[:300]
    if response.status_code == 200 and document != genuine:
        assert response.json()["ok"] is False
