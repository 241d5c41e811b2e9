"""The annotator's work record: its figures come from a settled period, its hash is recomputed
here by a separate implementation, and the public check accepts it and names what a tampered
copy gets wrong."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Sum
from rest_framework.test import APIClient

from accounts.selectors import pseudonym_of
from payments import services
from payments.models import Entry, Kind, Settlement
from payments.selectors import earnings_of
from payments.work_record import _seal, record_hash_of, work_record_of, work_record_verify
from tests.factories import project_factory
from tests.payments.test_pay import T0, _work

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _generous_rate(settings):
    settings.FAIRLABEL_WORK_RECORD_VERIFY_RATE = "10000/min"


@pytest.fixture
def settled(owner, make_user):
    """Two annotators work in one project; one of `anna`'s tasks is approved, one rejected,
    and the period is settled (floor top-ups included)."""
    anna, other = make_user("annotator"), make_user("annotator")
    project = project_factory(owner, tasks=6, publish=True, fund="100.00")
    start = T0
    done = []
    for _ in range(3):
        assignment, start = _work(anna, project, seconds=300, start=start)
        done.append(assignment)
    _work(other, project, seconds=120, start=T0)
    services.annotation_approve(
        user=owner, annotation_id=done[0].annotation.pk, now=start + timedelta(seconds=5)
    )
    services.annotation_reject(
        user=owner,
        annotation_id=done[1].annotation.pk,
        reason="The label contradicts the text.",
        now=start + timedelta(seconds=6),
    )
    job = services.settle_now(cutoff=start + timedelta(minutes=1))
    assert job.status == "done"
    return {"anna": anna, "other": other, "project": project, "now": start + timedelta(hours=1)}


def _canonical(value) -> str:
    """A second, hand-written canonical JSON writer: keys sorted, no whitespace."""
    if isinstance(value, dict):
        items = sorted(value.items())
        return "{" + ",".join(f"{_canonical(k)}:{_canonical(v)}" for k, v in items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_canonical(v) for v in value) + "]"
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    assert isinstance(value, str), f"a record holds no {type(value)} (decimals are strings)"
    return json.dumps(value, ensure_ascii=False)


def _verify(document, client=None):
    client = client or APIClient()
    response = client.post(
        "/api/work-records/verify/",
        data=json.dumps(document).encode(),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()


def _codes(verdict) -> list[str]:
    return [p["code"] for p in verdict["problems"]]


def _reseal(document) -> dict:
    """What a record with these figures would look like had this Fairlabel issued it."""
    document["record_hash"] = record_hash_of(document["record"])
    document["seal"] = _seal(document["record_hash"])
    return document


def test_the_record_holds_the_settled_figures_and_the_ledger_anchor(settled):
    anna, project = settled["anna"], settled["project"]
    document = work_record_of(annotator=anna, now=settled["now"])
    record = document["record"]
    text = json.dumps(document)
    assert anna.username not in text and (not anna.email or anna.email not in text)
    assert record["annotator"] == {"pseudonym": pseudonym_of(anna)}
    assert record["months_in"] == "UTC" and record["currency"] == "USD"

    (row,) = record["projects"]
    assert row["project"] == project.pk and row["title"] == project.title
    (month,) = row["months"]
    assert month["month"] == "2030-06"
    settlement = Settlement.objects.filter(annotator=anna).aggregate(
        a=Sum("active_seconds"), i=Sum("instructions_seconds"), b=Sum("break_seconds")
    )
    paid = sum(settlement.values(), Decimal(0))
    assert Decimal(month["paid_seconds"]) == paid > 0
    assert Decimal(month["active_seconds"]) == settlement["a"] == Decimal("900.000")
    assert month["tasks"] == {
        "submitted": 3,
        "approved": 1,
        "rejected": 1,
        "rejection_overturned": 0,
    }
    sums = dict(
        Entry.objects.filter(annotator=anna)
        .exclude(kind__in=(Kind.RESERVATION, Kind.RELEASE))
        .values_list("kind")
        .annotate(t=Sum("amount"))
    )
    assert {k: Decimal(v) for k, v in month["earnings"].items()} == sums
    assert Decimal(month["earnings"]["floor_topup"]) > 0  # 0.10 a 5-minute task is under 12/h
    assert month["earned"] == record["totals"]["earned"] == earnings_of(annotator=anna)["earned"]
    assert record["totals"]["balance"] == earnings_of(annotator=anna)["balance"]

    anchor = record["ledger"]
    mine = Entry.objects.filter(annotator=anna)
    assert anchor["entries"] == mine.count()
    assert {a["chain"] for a in anchor["chains"]} == set(mine.values_list("chain", flat=True))
    for position in anchor["chains"]:
        last = mine.filter(chain=position["chain"]).order_by("-seq").first()
        assert (position["seq"], position["hash"]) == (last.seq, last.hash)
    newest = mine.order_by("-id").first()
    assert anchor["last_entry"] == {"chain": newest.chain, "seq": newest.seq, "hash": newest.hash}
    lines = "\n".join(f"{e.chain}:{e.seq}:{e.hash}" for e in mine.order_by("chain", "seq"))
    assert anchor["entries_digest"] == hashlib.sha256(lines.encode()).hexdigest()


def test_the_hash_is_recomputed_by_an_independent_implementation(settled):
    document = work_record_of(annotator=settled["anna"], now=settled["now"])
    # Through a JSON file and back, as a bank would receive it.
    received = json.loads(json.dumps(document, indent=2))
    digest = hashlib.sha256(_canonical(received["record"]).encode("utf-8")).hexdigest()
    assert digest == received["record_hash"]
    assert received["hash_algorithm"] == "sha256"
    assert "sort" in received["canonical"] and "decimal strings" in received["canonical"]


def test_the_ledger_confirms_a_genuine_record_even_after_more_work(settled, settings):
    anna, project = settled["anna"], settled["project"]
    document = json.loads(json.dumps(work_record_of(annotator=anna, now=settled["now"])))
    verdict = _verify(document)
    assert verdict == {
        "ok": True,
        "problems": [],
        "checked": {
            "record_hash": True,
            "seal": True,
            "anchor": True,
            "figures": True,
            "entries": document["record"]["ledger"]["entries"],
        },
    }
    # Later work, a later settlement and a payout change nothing the record covers.
    _work(anna, project, seconds=200, start=T0 + timedelta(days=3))
    services.settle_now(cutoff=T0 + timedelta(days=4))
    settings.FAIRLABEL_PAYOUT_MINIMUM = Decimal("1.00")
    services.payout_request(annotator=anna, amount="1.00")
    assert _verify(document)["ok"] is True
    assert work_record_of(annotator=anna)["record_hash"] != document["record_hash"]


def test_a_tampered_figure_is_named(settled):
    document = json.loads(json.dumps(work_record_of(annotator=settled["anna"])))
    tampered = copy.deepcopy(document)
    tampered["record"]["totals"]["earned"] = "999.00"
    verdict = _verify(tampered)
    assert verdict["ok"] is False
    assert set(_codes(verdict)) == {"record_hash_mismatch", "seal_invalid", "figure_mismatch"}
    assert [p["field"] for p in verdict["problems"] if "field" in p] == ["totals.earned"]

    # Rehashed by hand: the hash holds, the seal does not, the figure is still named.
    project = settled["project"].pk
    tampered = copy.deepcopy(document)
    tampered["record"]["projects"][0]["months"][0]["tasks"]["submitted"] = 30
    tampered["record_hash"] = record_hash_of(tampered["record"])
    verdict = _verify(tampered)
    assert _codes(verdict) == ["seal_invalid", "figure_mismatch"]
    assert verdict["problems"][1]["field"] == (
        f"projects[project={project}].months[month=2030-06].tasks.submitted"
    )
    assert verdict["checked"]["record_hash"] is True and verdict["checked"]["seal"] is False

    # Even a sealed record is checked against the ledger, hours included.
    sealed = _reseal(copy.deepcopy(document))
    sealed["record"]["totals"]["paid_hours"] = "40.00"
    verdict = _verify(_reseal(sealed))
    assert _codes(verdict) == ["figure_mismatch"]
    assert verdict["problems"][0]["field"] == "totals.paid_hours"


def test_a_tampered_hash_or_seal_is_refused(settled):
    document = json.loads(json.dumps(work_record_of(annotator=settled["anna"])))
    wrong_hash = {**document, "record_hash": "0" * 64}
    verdict = _verify(wrong_hash)
    assert verdict["ok"] is False and _codes(verdict) == ["record_hash_mismatch"]
    wrong_seal = {**document, "seal": document["seal"][::-1]}
    assert _codes(_verify(wrong_seal)) == ["seal_invalid"]


def test_an_anchor_to_a_missing_or_someone_elses_entry_is_refused(settled):
    document = json.loads(json.dumps(work_record_of(annotator=settled["anna"])))
    missing = _reseal(copy.deepcopy(document))
    missing["record"]["ledger"]["chains"][0]["seq"] += 1000
    verdict = _verify(_reseal(missing))
    assert verdict["ok"] is False and _codes(verdict) == ["anchor_mismatch"]
    assert verdict["checked"]["anchor"] is False and verdict["checked"]["figures"] is None

    theirs = Entry.objects.filter(annotator=settled["other"]).order_by("-id").first()
    borrowed = copy.deepcopy(document)
    borrowed["record"]["ledger"]["chains"][0] = {
        "chain": theirs.chain,
        "seq": theirs.seq,
        "hash": theirs.hash,
    }
    verdict = _verify(_reseal(borrowed))
    assert _codes(verdict) == ["anchor_mismatch"]
    # The answer says nothing about whose entry it is.
    assert pseudonym_of(settled["other"]) not in json.dumps(verdict)

    wrong_hash = copy.deepcopy(document)
    wrong_hash["record"]["ledger"]["chains"][0]["hash"] = "f" * 64
    assert _codes(_verify(_reseal(wrong_hash))) == ["anchor_mismatch"]


def test_an_annotator_downloads_its_record_and_no_one_else_can(settled, client_for, auditor):
    anna = settled["anna"]
    response = client_for(anna).get("/api/me/work-record/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith(
        f'attachment; filename="fairlabel-work-record-{pseudonym_of(anna)}-'
    )
    assert work_record_verify(document=response.json())["ok"] is True
    assert client_for(settled["other"]).get("/api/me/work-record/").json()["record"][
        "annotator"
    ] == {"pseudonym": pseudonym_of(settled["other"])}
    assert client_for(auditor).get("/api/me/work-record/").status_code == 403
    assert APIClient().get("/api/me/work-record/").status_code == 401


def test_the_check_takes_a_file_and_refuses_large_or_broken_ones(settled):
    document = work_record_of(annotator=settled["anna"])
    client = APIClient()
    upload = SimpleUploadedFile("record.json", json.dumps(document).encode(), "application/json")
    response = client.post("/api/work-records/verify/", {"file": upload}, format="multipart")
    assert response.status_code == 200 and response.json()["ok"] is True

    big = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    response = client.post("/api/work-records/verify/", data=big, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
    response = client.post(
        "/api/work-records/verify/",
        {"file": SimpleUploadedFile("big.json", big)},
        format="multipart",
    )
    assert response.status_code == 413

    response = client.post(
        "/api/work-records/verify/", data=b"not json", content_type="application/json"
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_json"
    verdict = _verify({"record": "nope"})
    assert verdict["ok"] is False and _codes(verdict) == ["malformed"]
    verdict = _verify({"record": {"format": 3, "projects": "x"}, "seal": 5})
    assert verdict["ok"] is False


def test_the_check_is_rate_limited_per_address(settled, settings):
    settings.FAIRLABEL_WORK_RECORD_VERIFY_RATE = "2/min"
    from django.core.cache import cache

    cache.clear()
    client = APIClient(REMOTE_ADDR="203.0.113.9")
    body = json.dumps({"record": {}}).encode()
    codes = [
        client.post(
            "/api/work-records/verify/", data=body, content_type="application/json"
        ).status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]


def test_the_pages_show_the_record_and_check_an_upload(settled, client):
    anna = settled["anna"]
    client.force_login(anna)
    earnings = client.get("/earnings/")
    assert b'href="/earnings/record/"' in earnings.content
    page = client.get("/earnings/record/")
    assert page.status_code == 200
    document = work_record_of(annotator=anna)
    html = page.content.decode()
    assert document["record"]["totals"]["earned"] in html
    assert 'href="/api/me/work-record/?cut=' in html and 'href="/work-record/verify/"' in html
    assert 'data-testid="record-hash">' in html

    client.logout()
    upload = SimpleUploadedFile("r.json", json.dumps(document).encode(), "application/json")
    response = client.post("/work-record/verify/", {"file": upload})
    assert response.status_code == 200
    assert b'data-ok="true"' in response.content
    document["record"]["totals"]["earned"] = "1.00"
    upload = SimpleUploadedFile("r.json", json.dumps(document).encode(), "application/json")
    response = client.post("/work-record/verify/", {"file": upload})
    assert b'data-ok="false"' in response.content and b"totals.earned" in response.content
    response = client.post("/work-record/verify/", {})
    assert response.status_code == 400


def test_the_pages_download_link_gives_the_same_record_to_its_owner_only(settled, client_for):
    from payments.work_record import work_record_cut_token

    anna, other = settled["anna"], settled["other"]
    shown = work_record_of(annotator=anna)
    token = work_record_cut_token(annotator=anna, document=shown)
    _work(anna, settled["project"], seconds=60, start=T0 + timedelta(days=2))  # meanwhile
    again = client_for(anna).get("/api/me/work-record/", {"cut": token}).json()
    assert again == json.loads(json.dumps(shown))
    assert work_record_of(annotator=anna)["record_hash"] != shown["record_hash"]
    refused = client_for(other).get("/api/me/work-record/", {"cut": token})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_cut"
    broken = client_for(anna).get("/api/me/work-record/", {"cut": token[:-2]})
    assert broken.status_code == 400
