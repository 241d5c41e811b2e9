"""Exports: stream a project's tasks and labels to a file in a chosen format, with the
labor-provenance record beside it; and the export jobs that do so in the background."""

from __future__ import annotations

import logging
import statistics
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import orjson
from django.core.files import File
from django.db import connection, transaction
from django.db.models import Count, F, Func, Max, Min, Sum, TextField
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.selectors import pseudonyms_for
from fairlabel.errors import DomainError
from labeling.exporting.formats import WRITERS, AnnotationRow, TaskRow
from labeling.jobs.services import LeaseLost, job_claim, job_enqueue
from labeling.models import Annotation, ExportFormat, ExportJob, JobStatus, Project, Task, TaskType
from labeling.policies import pay_floor, policies_in_force, provenance_sections

logger = logging.getLogger(__name__)

CHUNK_SIZE = 10_000
CENT = Decimal("0.01")

Progress = Callable[[int, int], None]


def export_formats_for(task_type: str) -> list[str]:
    """The formats that make sense for a task type, in the order the page offers them."""
    formats = [ExportFormat.JSON, ExportFormat.JSONL, ExportFormat.CSV, ExportFormat.LABEL_STUDIO]
    if task_type == TaskType.TEXT_SPANS:
        formats.append(ExportFormat.CONLL2003)
    if task_type == TaskType.IMAGE_BOXES:
        formats.append(ExportFormat.COCO)
    return [str(f) for f in formats]


def export_format_check(*, project: Project, fmt: str) -> None:
    if fmt not in ExportFormat.values:
        known = ", ".join(ExportFormat.values)
        raise DomainError(
            "invalid_format", f"Unknown export format {fmt!r}. Known: {known}.", field="format"
        )
    allowed = export_formats_for(project.task_type)
    if fmt not in allowed:
        raise DomainError(
            "invalid_format",
            f"{ExportFormat(fmt).label} does not fit a {TaskType(project.task_type).label} "
            "project. "
            f"Choose one of: {', '.join(allowed)}.",
            field="format",
        )


# The task types with a majority to compute (exporting/formats.py majority_of), and spans in
# CoNLL 2003, where each token takes the tag most annotators gave it.
MAJORITY_TYPES = (
    TaskType.TEXT_CLASSIFICATION,
    TaskType.IMAGE_CLASSIFICATION,
    TaskType.MULTI_LABEL,
)


def majority_offered(task_type: str) -> bool:
    return task_type in MAJORITY_TYPES or task_type == TaskType.TEXT_SPANS


def export_majority_check(*, project: Project, fmt: str, majority: bool) -> None:
    """Where no majority can be computed (boxes; spans outside CoNLL), refuse the option
    instead of writing `majority: null` on every row."""
    if not majority or project.task_type in MAJORITY_TYPES:
        return
    if project.task_type == TaskType.TEXT_SPANS and fmt == ExportFormat.CONLL2003:
        return
    if project.task_type == TaskType.TEXT_SPANS:
        detail = _(
            "For text spans, the majority is computed per word in the CoNLL 2003 format only; "
            "choose it, or export without the majority."
        )
    else:
        detail = _("%(type)s projects have no majority label: export without that option.") % {
            "type": TaskType(project.task_type).label
        }
    raise DomainError("majority_unavailable", detail, field="majority")


def export_extension(fmt: str) -> str:
    return WRITERS[fmt].extension


def export_content_type(fmt: str) -> str:
    return WRITERS[fmt].content_type


def provenance_path_for(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(f"{path.stem}.provenance.json")


# --- reading -------------------------------------------------------------------------------


def _tasks(project: Project, only_finished: bool):
    tasks = Task.objects.filter(project=project)
    if only_finished:
        tasks = tasks.filter(annotation_count__gte=project.annotations_per_task)
    return tasks


def _data_keys(project: Project, only_finished: bool) -> list[str]:
    """Every top-level key of the tasks' data, for the CSV header (one pass in the database)."""
    table = Task._meta.db_table
    finished = " AND annotation_count >= %s" if only_finished else ""
    params: list[Any] = [project.pk] + ([project.annotations_per_task] if only_finished else [])
    if connection.vendor == "postgresql":
        sql = (
            f"SELECT DISTINCT jsonb_object_keys(data) FROM {table} "  # noqa: S608
            f"WHERE project_id = %s AND jsonb_typeof(data) = 'object'{finished}"
        )
    else:
        sql = (
            f"SELECT DISTINCT j.key FROM {table}, json_each({table}.data) AS j "  # noqa: S608
            f"WHERE project_id = %s{finished}"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        keys = {row[0] for row in cursor.fetchall()}
    first = [k for k in ("text", "image") if k in keys]
    return first + sorted(keys - set(first))


def _chunks(
    project: Project, *, only_finished: bool, chunk_size: int, labor: _Labor
) -> Iterator[list[TaskRow]]:
    """Tasks in id order, `chunk_size` at a time by keyset (`id > last`), each chunk with its
    annotations from one query. No server-side cursor and no long transaction."""
    tasks = (
        _tasks(project, only_finished)
        .order_by("id")
        .annotate(
            data_text=Cast("data", TextField()), categories_text=Cast("categories", TextField())
        )
        .values_list("id", "external_id", "data_text", "categories_text")
    )
    postgres = connection.vendor == "postgresql"
    # PostgreSQL writes the JSON of a timestamp itself, much faster than loading a datetime.
    created = (
        Func(F("created_at"), template="to_json(%(expressions)s)::text", output_field=TextField())
        if postgres
        else F("created_at")
    )
    annotations = (
        Annotation.objects.filter(project=project)
        .order_by("task_id", "id")
        .annotate(result_text=Cast("result", TextField()), created_json=created)
        .values_list(
            "task_id", "id", "annotator_id", "result_text", "seconds", "created_json", "is_extra"
        )
    )
    pseudonyms: dict[int, str] = {}
    last = 0
    while True:
        rows = [
            TaskRow(tid, ext, data, cats)
            for tid, ext, data, cats in tasks.filter(id__gt=last)[:chunk_size]
        ]
        if not rows:
            return
        first_id, last = rows[0].id, rows[-1].id
        found = list(annotations.filter(task_id__gte=first_id, task_id__lte=last))
        if found:
            missing = {a[2] for a in found} - pseudonyms.keys()
            if missing:
                pseudonyms.update(pseudonyms_for(sorted(missing)))
            by_task = {row.id: row for row in rows}
            for task_id, ann_id, annotator_id, result, seconds, created, extra in found:
                row = by_task.get(task_id)
                if row is None:  # an unfinished task inside the range when only_finished
                    continue
                if not postgres:
                    created = orjson.dumps(created).decode()
                row.annotations.append(
                    AnnotationRow(ann_id, pseudonyms[annotator_id], result, seconds, created, extra)
                )
        labor.tasks += len(rows)
        yield rows
        if len(rows) < chunk_size:
            return


# --- labor provenance ----------------------------------------------------------------------


class _Labor:
    """What the provenance record sums: tasks exported, and per annotator the number of
    annotations and their seconds (one aggregate query in the database)."""

    def __init__(self) -> None:
        self.tasks = 0
        self.annotations = 0
        self.seconds = Decimal(0)
        self.per_annotator: dict[int, tuple[int, Decimal]] = {}
        self.first: datetime | None = None
        self.last: datetime | None = None

    def measure(self, project: Project, *, only_finished: bool) -> None:
        annotations = Annotation.objects.filter(project=project)
        if only_finished:
            annotations = annotations.filter(
                task__annotation_count__gte=project.annotations_per_task
            )
        rows = (
            annotations.order_by()
            .values("annotator_id")
            .annotate(
                count=Count("id"),
                seconds=Sum("seconds"),
                first=Min("created_at"),
                last=Max("created_at"),
            )
            .values_list("annotator_id", "count", "seconds", "first", "last")
        )
        for annotator_id, count, seconds, first, last in rows:
            self.per_annotator[annotator_id] = (count, seconds or Decimal(0))
            self.annotations += count
            self.seconds += seconds or Decimal(0)
            self.first = first if self.first is None else min(self.first, first)
            self.last = last if self.last is None else max(self.last, last)


def _hourly(price: Decimal, count: int, seconds: Decimal) -> Decimal | None:
    if seconds <= 0:
        return None
    return (price * count * 3600 / seconds).quantize(CENT, rounding=ROUND_HALF_UP)


def _hours(seconds: Decimal) -> str:
    return str((seconds / 3600).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP))


def p10(values: list[Decimal]) -> Decimal:
    """The 10th percentile, nearest rank from below (as the auditors' reports compute it)."""
    ordered = sorted(values)
    return ordered[int(0.1 * (len(ordered) - 1))]


def hourly_distribution(per_annotator: list[dict[str, Any]], floor: Decimal) -> dict[str, Any]:
    """Median, 10th percentile and minimum of the annotators' effective hourly pay, against the
    floor (each annotator against its own floor where the record names one)."""
    rates = [Decimal(a["effective_hourly"]) for a in per_annotator if a.get("effective_hourly")]
    return {
        "annotators": len(rates),
        "median": str(statistics.median(rates).quantize(CENT, rounding=ROUND_HALF_UP))
        if rates
        else None,
        "p10": str(p10(rates)) if rates else None,
        "min": str(min(rates)) if rates else None,
        "floor_hourly": str(floor),
        "below_floor": sum(1 for a in per_annotator if a.get("meets_floor") is False),
    }


def provenance_record(
    *,
    project: Project,
    fmt: str | None,
    labor: _Labor,
    only_finished: bool,
    majority: bool,
    generated_at: datetime | None = None,
) -> dict[str, Any]:
    """The conditions under which the exported labels were made. Money and hours are decimal
    strings. Here: the labels' own figures (annotations, measured time, the piece rate) and the
    policies in force; the sections named in FAIRLABEL_PROVENANCE_SECTIONS add the rest (breaks
    and exposure from the working-time records, pay from the ledger)."""
    floor = pay_floor(highest=True).quantize(CENT)
    price = project.price_per_task
    effective = _hourly(price, labor.annotations, labor.seconds)
    names = pseudonyms_for(sorted(labor.per_annotator))
    per_annotator = []
    for annotator_id, (count, seconds) in labor.per_annotator.items():
        rate = _hourly(price, count, seconds)
        per_annotator.append(
            {
                "annotator": names[annotator_id],
                "annotations": count,
                "paid_hours": _hours(seconds),
                "effective_hourly": None if rate is None else str(rate),
                "meets_floor": None if rate is None else rate >= floor,
            }
        )
    per_annotator.sort(key=lambda item: item["annotator"])
    not_configured = (
        "Not in this record: no section named in FAIRLABEL_PROVENANCE_SECTIONS reports it."
    )
    record = {
        "record": "fairlabel.labor_provenance",
        "version": 1,
        "generated_at": (generated_at or timezone.now()).isoformat(),
        "format": fmt,
        "options": {"only_finished": only_finished, "majority": majority},
        "project": {
            "id": project.pk,
            "title": project.title,
            "task_type": project.task_type,
            "annotations_per_task": project.annotations_per_task,
        },
        "period": {
            "start": labor.first.isoformat() if labor.first else None,
            "end": labor.last.isoformat() if labor.last else None,
        },
        "tasks": labor.tasks,
        "annotations": labor.annotations,
        "annotators": len(labor.per_annotator),
        "currency": project.currency,
        "price_per_task": str(price),
        "paid_hours": _hours(labor.seconds),
        "measured_hours": _hours(labor.seconds),
        "floor_hourly": str(floor),
        "effective_hourly": None if effective is None else str(effective),
        "meets_floor": None if effective is None else effective >= floor,
        "per_annotator": per_annotator,
        "breaks": None,
        "exposure": None,
        "policies": policies_in_force(),
        "notes": {
            "period": "The first and the last annotation of the tasks in the record.",
            "paid_hours": "Sum of measured annotation time, from serving to submission (a pay "
            "section, when configured, replaces it with the settled paid time).",
            "effective_hourly": "price_per_task * annotations / paid hours, against floor_hourly.",
            "effective_hourly_distribution": "Over the annotators with paid time: the median, "
            "the 10th percentile and the lowest effective hourly pay, and how many are under "
            "their floor.",
            "policies": "The pay, working-time and exposure policies in force when the record "
            "was made (settings and the admin's overrides), each with its source.",
            "breaks": not_configured,
            "exposure": not_configured,
        },
    }
    for section in provenance_sections():
        section(project=project, record=record, names=names)
    record["effective_hourly_distribution"] = hourly_distribution(record["per_annotator"], floor)
    return record


def project_provenance(*, project: Project, generated_at: datetime | None = None) -> dict:
    """The provenance record of a whole project so far (every task, every annotation), not of
    one export: what the public fairness card summarises. The same computation as an export's."""
    labor = _Labor()
    labor.tasks = Task.objects.filter(project=project).count()
    labor.measure(project, only_finished=False)
    return provenance_record(
        project=project,
        fmt=None,
        labor=labor,
        only_finished=False,
        majority=False,
        generated_at=generated_at,
    )


# --- the export itself ---------------------------------------------------------------------


def export_to_path(
    *,
    project: Project,
    fmt: str,
    path: str | Path,
    only_finished: bool = False,
    majority: bool = False,
    progress: Progress | None = None,
    provenance_path: str | Path | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> int:
    """Write the export to `path` and its provenance record beside it (`<stem>.provenance.json`
    unless `provenance_path` is given). Streams in id-ordered chunks; memory stays flat.
    `progress(done, total)` is called after every chunk. Returns the number of tasks read."""
    export_format_check(project=project, fmt=fmt)
    export_majority_check(project=project, fmt=fmt, majority=majority)
    total = _tasks(project, only_finished).count()
    data_keys = _data_keys(project, only_finished) if fmt == ExportFormat.CSV else None
    labor = _Labor()
    done = 0
    if progress:
        progress(0, total)
    with open(path, "wb", buffering=1 << 20) as out:
        writer = WRITERS[fmt](out=out, project=project, majority=majority, data_keys=data_keys)
        writer.begin()
        for rows in _chunks(
            project, only_finished=only_finished, chunk_size=chunk_size, labor=labor
        ):
            writer.write(rows)
            done += len(rows)
            if progress:
                progress(done, max(total, done))
        writer.end()
    labor.measure(project, only_finished=only_finished)
    record = provenance_record(
        project=project, fmt=fmt, labor=labor, only_finished=only_finished, majority=majority
    )
    Path(provenance_path or provenance_path_for(path)).write_bytes(
        orjson.dumps(record, option=orjson.OPT_INDENT_2) + b"\n"
    )
    return done


# --- jobs ------------------------------------------------------------------------------------


def export_job_create(
    *, project: Project, user, fmt: str, only_finished: bool = False, majority: bool = False
) -> ExportJob:
    """Record the job and hand it to the broker once the transaction commits (labeling/jobs:
    with the broker down the job waits, pending, for the sweep)."""
    export_format_check(project=project, fmt=fmt)
    export_majority_check(project=project, fmt=fmt, majority=majority)
    with transaction.atomic():
        job = ExportJob.objects.create(
            project=project,
            created_by=user,
            format=fmt,
            only_finished=only_finished,
            majority=majority,
        )
        job_enqueue(job=job)
    return job


def export_job_run(*, job_id: int) -> ExportJob | None:
    """Run a job once (labeling/jobs): a job done, failed, gone or held by a live run is left
    alone; one whose worker died (its lease lapsed) runs again from the start. A failure is
    recorded on the job, not raised. Only the run holding the lease records its files."""
    claim = job_claim(
        model=ExportJob,
        job_id=job_id,
        reset={"exported": 0, "error": "", "finished_at": None},
    )
    if claim is None:
        return ExportJob.objects.filter(pk=job_id).first()
    job = claim.job

    def progress(done: int, total: int) -> None:
        if claim.lost.is_set():
            raise LeaseLost(f"export {job.pk}: the lease was taken over")
        claim.held().update(exported=done, total=total)

    project = Project.objects.get(pk=job.project_id)
    extension = export_extension(job.format)
    base = f"project-{project.pk}-export-{job.pk}"
    try:
        with claim.heartbeat(), tempfile.TemporaryDirectory(prefix="fairlabel-export-") as folder:
            data_path = Path(folder) / f"{base}.{extension}"
            record_path = Path(folder) / f"{base}.provenance.json"
            count = export_to_path(
                project=project,
                fmt=job.format,
                path=data_path,
                only_finished=job.only_finished,
                majority=job.majority,
                progress=progress,
                provenance_path=record_path,
            )
            with data_path.open("rb") as data, record_path.open("rb") as record:
                job.file.save(data_path.name, File(data), save=False)
                job.provenance.save(record_path.name, File(record), save=False)
            try:
                return claim.finish(
                    status=JobStatus.DONE,
                    total=count,
                    exported=count,
                    file=job.file.name,
                    provenance=job.provenance.name,
                )
            except LeaseLost:
                job.file.delete(save=False)
                job.provenance.delete(save=False)
                raise
    except LeaseLost:
        logger.warning("export %s: lease taken over; this run's files were dropped", job.pk)
        return ExportJob.objects.filter(pk=job_id).first()
    except Exception as exc:
        logger.exception("export job %s failed", job.pk)
        claim.fail(message=str(exc)[:2000])
        job.refresh_from_db()
        return job
