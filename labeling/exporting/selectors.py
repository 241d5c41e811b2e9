"""Reads of export jobs, scoped to the project's owner (and admins), and the zip download."""

from __future__ import annotations

import logging
import re
import zipfile
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db.models import QuerySet
from django.db.models.fields.files import FieldFile
from django.http import Http404
from django.urls import reverse
from django.utils import translation

from labeling.models import ExportJob, JobStatus, Project
from labeling.selectors import project_owned

logger = logging.getLogger(__name__)


def export_jobs_of(project: Project, *, limit: int = 20) -> QuerySet[ExportJob]:
    return ExportJob.objects.filter(project=project).order_by("-created_at", "-id")[:limit]


def export_job_owned(*, user, job_id: int) -> ExportJob:
    """An export job of a project the user owns (admins: any); 404 otherwise."""
    job = ExportJob.objects.filter(pk=job_id).first()
    if job is None:
        raise Http404
    job.project = project_owned(user=user, project_id=job.project_id)
    return job


def export_job_ready(*, user, job_id: int) -> ExportJob:
    job = export_job_owned(user=user, job_id=job_id)
    if job.status != JobStatus.DONE or not job.file or not job.provenance:
        raise Http404
    return job


def export_jobs_active(jobs) -> bool:
    return any(job.status in (JobStatus.PENDING, JobStatus.RUNNING) for job in jobs)


def export_filename(job: ExportJob, kind: str = "file") -> str:
    """A readable download name: the project title, the job and the format's extension."""
    from labeling.exporting.services import export_extension

    slug = re.sub(r"[^A-Za-z0-9]+", "-", job.project.title).strip("-").lower()[:60] or "project"
    stem = f"{slug}-export-{job.pk}"
    if kind == "provenance":
        return f"{stem}.provenance.json"
    if kind == "zip":
        return f"{stem}.zip"
    return f"{stem}.{export_extension(job.format)}"


class _Pipe:
    """A write-only, unseekable sink: zipfile writes into it, the response drains it."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def drain(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


README_NAME = "README.txt"


def export_readme(job: ExportJob) -> str:
    """The zip's README: what each file is. In English, like the files it describes."""
    from labeling.exporting.services import export_extension

    data, record = export_filename(job), export_filename(job, "provenance")
    finished = "only tasks with all their annotations" if job.only_finished else "every task"
    lines = [
        f"Fairlabel export {job.pk} of the project {job.project.title!r}",
        f"Made {job.created_at:%Y-%m-%d %H:%M} UTC, format {job.format} "
        f"(.{export_extension(job.format)}), {finished}"
        + (", with the majority label." if job.majority else "."),
        "",
        f"{data}",
        "  The tasks and their labels. Annotators appear by pseudonym only.",
        "",
        f"{record}",
        "  The labor-provenance record (JSON): how the labels were made. The period of the",
        "  annotations, how many annotators, their paid hours and effective hourly pay against",
        "  the pay floor (median, 10th percentile, minimum) and top-ups, from the settlements of",
        "  the hash-chained pay ledger (ledger_head); the breaks due and taken and the hours of",
        "  sensitive content per category, from the working-time records; and the pay, time and",
        "  exposure policies in force, each with its source. Its `notes` say exactly what each",
        "  figure covers.",
        "",
        f"{README_NAME}",
        "  This file.",
        "",
    ]
    return "\n".join(lines)


def export_zip_stream(job: ExportJob) -> Iterator[bytes]:
    """The export file, its provenance record and a short README in one zip, produced while it
    is sent: the zip is never held whole in memory or on disk."""
    members: list[tuple[str, FieldFile]] = [
        (export_filename(job), job.file),
        (export_filename(job, "provenance"), job.provenance),
    ]
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, field in members:
            with field.open("rb") as source, archive.open(name, "w", force_zip64=True) as target:
                while chunk := source.read(1 << 20):
                    target.write(chunk)
                    yield pipe.drain()
            yield pipe.drain()
        with archive.open(README_NAME, "w") as target:
            target.write(export_readme(job).encode())
        yield pipe.drain()
    yield pipe.drain()


# --- the public fairness card ------------------------------------------------------------------

# The card's link is the project id signed with the deployment's SECRET_KEY under this salt:
# stable, shareable, unguessable, with nothing stored. (Rotating the salt or the key revokes
# every link at once.)
CARD_SALT = "fairlabel.fairness-card"


def fairness_card_token(project: Project) -> str:
    # No time stamp: the link stays the same for as long as the key and the salt do.
    return signing.Signer(salt=CARD_SALT).sign_object(project.pk)


def fairness_card_path(project: Project, *, fmt: str = "html") -> str:
    name = "labeling:fairness_card_json" if fmt == "json" else "labeling:fairness_card"
    return reverse(name, kwargs={"token": fairness_card_token(project)})


def fairness_card_url(project: Project, *, request) -> str:
    return request.build_absolute_uri(fairness_card_path(project))


def fairness_card_project(*, token: str) -> Project:
    """The project a card's token names; 404 for a forged, altered or stale one."""
    try:
        project_id = signing.Signer(salt=CARD_SALT).unsign_object(token)
    except (signing.BadSignature, ValueError):
        raise Http404 from None
    if not isinstance(project_id, int):
        raise Http404
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        raise Http404
    return project


# What of the provenance record a public page may show: figures only, no pseudonym (per-annotator
# rows stay in the owner's export), no internal id.
CARD_NOTES = (
    "period",
    "paid_hours",
    "effective_hourly",
    "effective_hourly_distribution",
    "unsettled_hours",
    "topups",
    "breaks",
    "exposure",
    "policies",
    "ledger_verification",
)


def fairness_card_from(record: dict[str, Any]) -> dict[str, Any]:
    """The public summary of a project's provenance record (labeling.exporting.services
    .project_provenance): the same figures, without anything that names an annotator."""
    notes = record.get("notes", {})
    return {
        "card": "fairlabel.fairness_card",
        "version": 1,
        "computed_at": record["generated_at"],
        "project": {
            "title": record["project"]["title"],
            "task_type": record["project"]["task_type"],
        },
        "period": record["period"],
        "tasks": record["tasks"],
        "annotations": record["annotations"],
        "annotators": record["annotators"],
        "currency": record["currency"],
        "price_per_task": record["price_per_task"],
        "paid_hours": record["paid_hours"],
        "pay_source": record.get("pay_source"),
        "settled_through": record.get("settled_through"),
        "unsettled_hours": record.get("unsettled_hours"),
        "floor_hourly": record["floor_hourly"],
        "effective_hourly": record["effective_hourly"],
        "effective_hourly_distribution": record["effective_hourly_distribution"],
        "meets_floor": record["meets_floor"],
        "below_floor_after_topup": record.get("below_floor_after_topup"),
        "topups": record.get("topups"),
        "breaks": record["breaks"],
        "exposure": record["exposure"],
        "policies": record["policies"],
        "ledger": {
            "head": record.get("ledger_head"),
            "last_verification": record.get("ledger_verification"),
        },
        "notes": {key: notes[key] for key in CARD_NOTES if key in notes},
    }


def fairness_card(project: Project) -> dict[str, Any]:
    """A project's fairness card, computed from its provenance record at most once every
    FAIRLABEL_FAIRNESS_CARD_SECONDS (the page is public; a cache that does not answer only
    costs a recomputation). Computed in the site's language: the page translates the
    policies' labels and sources as it shows them."""
    from labeling.exporting.services import project_provenance

    key = f"fairlabel:fairness-card:{project.pk}"
    try:
        card = cache.get(key)
    except Exception:  # a cache that does not answer: compute the card
        logger.warning("fairness card: the cache did not answer", exc_info=True)
        card = None
    if card is not None:
        return card
    with translation.override(settings.LANGUAGE_CODE):
        card = fairness_card_from(project_provenance(project=project))
    try:
        cache.set(key, card, timeout=settings.FAIRLABEL_FAIRNESS_CARD_SECONDS)
    except Exception:
        logger.warning("fairness card: the cache did not answer", exc_info=True)
    return card
