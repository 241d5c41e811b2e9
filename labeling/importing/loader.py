"""Validation and loading in one streaming pass, inside one transaction: any bad row rolls the
whole file back and every bad row is reported by line.

PostgreSQL: rows go in with COPY (psycopg 3), as COPY text lines built here and written in
multi-megabyte chunks. SQLite: `executemany` in large batches. The memory held is one batch plus
the set of external ids seen (to find duplicates), whatever the size of the file."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from typing import IO, TYPE_CHECKING, Any

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.utils.translation import gettext_noop

from fairlabel.messages import Message
from fairlabel.messages import Message as M
from labeling.categories import ALL_MASK, effective_mask
from labeling.exporting.formats import FORMULA_START  # what the CSV export escapes
from labeling.importing import parsers
from labeling.importing.label_studio import FlatRows, is_label_studio_flat
from labeling.importing.parsers import ByteCounter, FileError, RowError
from labeling.importing.rows import RowProblem, RowReader, categories_from_cell, external_id_of
from labeling.models import ImportFormat, Project, Task, TaskType

if TYPE_CHECKING:
    from labeling.importing.media import MediaResolver

BATCH_ROWS = 20_000
IMAGE_TYPES = (TaskType.IMAGE_CLASSIFICATION, TaskType.IMAGE_BOXES)
ANALYZE_AFTER_ROWS = 10_000
TASK_TABLE = Task._meta.db_table
COLUMNS = (
    "project_id",
    "external_id",
    "data",
    "categories",
    "category_mask",
    "predictions",
    "slots_free",
)

# The end of a plain row's COPY line (categories, category_mask, predictions), per mask.
_PLAIN_TAILS = [b"\t\\N\t%d\t\\N" % mask for mask in range(ALL_MASK + 1)]


@dataclass
class Progress:
    bytes_read: int
    size: int
    total: int
    imported: int


@dataclass
class ImportOutcome:
    total: int = 0
    imported: int = 0
    bytes_read: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    error_count: int = 0

    @property
    def ok(self) -> bool:
        return self.error_count == 0


ProgressCallback = Callable[[Progress], None]


class ErrorList:
    """Every error is counted; the first FAIRLABEL_IMPORT_MAX_ERRORS are kept."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = settings.FAIRLABEL_IMPORT_MAX_ERRORS if limit is None else limit
        self.items: list[dict[str, Any]] = []
        self.count = 0

    def add(self, line: int | str | None, message: str) -> None:
        self.count += 1
        if len(self.items) < self.limit:
            item: dict[str, Any] = {"line": line, "message": str.__str__(message)}
            if isinstance(message, Message):  # shown later in the reader's language
                item["msg"] = message.as_json()
            self.items.append(item)

    def sorted(self) -> list[dict[str, Any]]:
        if all(isinstance(e["line"], int) for e in self.items):
            return sorted(self.items, key=lambda e: e["line"])
        return self.items


class _Rollback(Exception):
    pass


# --- sinks: where valid rows go ---------------------------------------------------------------
def _copy_escape(text: bytes) -> bytes:
    """COPY text format: backslash, tab, newline and carriage return are escaped."""
    text = text.replace(b"\\", b"\\\\")
    if b"\t" in text or b"\n" in text or b"\r" in text:
        text = text.replace(b"\t", b"\\t").replace(b"\n", b"\\n").replace(b"\r", b"\\r")
    return text


class _Sink:
    """Collects rows and writes them in batches. Subclasses know their database."""

    def __init__(self, project: Project) -> None:
        self.project_id = project.pk
        self.slots = project.annotations_per_task
        self.rows: list = []
        self.written = 0

    def __enter__(self) -> _Sink:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def discard(self) -> None:
        self.rows.clear()

    def existing(self, ids: list[str]) -> set[str]:
        """Which of these external ids the project's tasks already use."""
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            found.update(
                Task.objects.filter(
                    project_id=self.project_id, external_id__in=ids[start : start + 500]
                ).values_list("external_id", flat=True)
            )
        return found


class PostgresSink(_Sink):
    """Rows become COPY text lines; one COPY stays open across batches unless a query has to
    run between them (the duplicate-id check against existing tasks)."""

    def __init__(self, project: Project) -> None:
        super().__init__(project)
        self.prefix = b"%d\t" % self.project_id
        self.suffix = b"\t%d\n" % self.slots
        self.cursor = None
        self._copy_cm = None
        self._copy = None

    def __enter__(self) -> PostgresSink:
        self.cursor = connection.cursor()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self._end_copy()
            elif self._copy_cm is not None:
                cm, self._copy_cm, self._copy = self._copy_cm, None, None
                try:
                    cm.__exit__(exc_type, exc, tb)  # COPY FAIL; the transaction rolls back
                except Exception:  # noqa: S110  (already failing; the original error wins)
                    pass
        finally:
            self.cursor.close()

    def add_plain(self, blob: bytes, mask: int) -> None:
        """A row with no external id, categories or predictions. orjson never writes a raw tab,
        newline or carriage return, so only backslashes need escaping."""
        self.rows.append(b"\\N\t" + blob.replace(b"\\", b"\\\\") + _PLAIN_TAILS[mask])

    def add(
        self,
        ext: str | None,
        blob: bytes,
        categories: bytes | None,
        mask: int,
        predictions: bytes | None,
    ) -> None:
        self.rows.append(
            b"\t".join(
                (
                    b"\\N" if ext is None else _copy_escape(ext.encode()),
                    _copy_escape(blob),
                    b"\\N" if categories is None else _copy_escape(categories),
                    b"%d" % mask,
                    b"\\N" if predictions is None else _copy_escape(predictions),
                )
            )
        )

    def flush(self) -> None:
        if not self.rows:
            return
        glue = self.suffix + self.prefix
        buffer = self.prefix + glue.join(self.rows) + self.suffix
        with connection.wrap_database_errors:
            if self._copy is None:
                self._copy_cm = self.cursor.copy(
                    f"COPY {TASK_TABLE} ({', '.join(COLUMNS)}) FROM STDIN"
                )
                self._copy = self._copy_cm.__enter__()
            self._copy.write(buffer)
        self.written += len(self.rows)
        self.rows.clear()

    def _end_copy(self) -> None:
        if self._copy_cm is not None:
            cm, self._copy_cm, self._copy = self._copy_cm, None, None
            with connection.wrap_database_errors:
                cm.__exit__(None, None, None)

    def discard(self) -> None:
        super().discard()
        self._end_copy()

    def existing(self, ids: list[str]) -> set[str]:
        self._end_copy()
        with connection.wrap_database_errors:
            self.cursor.execute(
                f"SELECT external_id FROM {TASK_TABLE} "  # noqa: S608  (constant table name)
                "WHERE project_id = %s AND external_id = ANY(%s)",
                [self.project_id, ids],
            )
            return {row[0] for row in self.cursor.fetchall()}


class SqliteSink(_Sink):
    """Large executemany batches; annotation_count and created_at take their column defaults."""

    SQL = (
        f"INSERT INTO {TASK_TABLE} ({', '.join(COLUMNS)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(COLUMNS))})"
    )

    def __enter__(self) -> SqliteSink:
        self.cursor = connection.cursor()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.cursor.close()

    def add_plain(self, blob: bytes, mask: int) -> None:
        self.rows.append((self.project_id, None, blob.decode(), None, mask, None, self.slots))

    def add(
        self,
        ext: str | None,
        blob: bytes,
        categories: bytes | None,
        mask: int,
        predictions: bytes | None,
    ) -> None:
        self.rows.append(
            (
                self.project_id,
                ext,
                blob.decode(),
                None if categories is None else categories.decode(),
                mask,
                None if predictions is None else predictions.decode(),
                self.slots,
            )
        )

    def flush(self) -> None:
        if self.rows:
            self.cursor.executemany(self.SQL, self.rows)
            self.written += len(self.rows)
            self.rows.clear()


def sink_for(project: Project) -> _Sink:
    return PostgresSink(project) if connection.vendor == "postgresql" else SqliteSink(project)


def project_hold(project: Project) -> None:
    """Hold the project row FOR SHARE while its tasks go in, and refresh from it what the new
    tasks take from the project. It blocks a delete (tasks carry no database foreign key: see
    Task.project) and an edit (project services lock FOR NO KEY UPDATE) until the import ends,
    not the dispatcher (its assignment inserts take KEY SHARE)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT annotations_per_task, content_categories::text "  # noqa: S608
                f"FROM {Project._meta.db_table} WHERE id = %s FOR SHARE",
                [project.pk],
            )
            found = cursor.fetchone()
        if found is None:
            raise Project.DoesNotExist(f"project {project.pk} no longer exists")
        project.annotations_per_task = found[0]
        project.content_categories = orjson.loads(found[1])
    else:
        # SQLite: the import's transaction holds the whole database's write lock.
        project.refresh_from_db(fields=["annotations_per_task", "content_categories"])


# --- the pass ---------------------------------------------------------------------------------
# Columns a CSV export writes that are not data: its own task id (when external_id is there),
# the annotations as JSON, the per-label counts and the majority vote.
CSV_IGNORED = ("majority", "agreement")


@dataclass(frozen=True, slots=True)
class _CsvColumns:
    """What to do with the columns of one CSV file, worked out once from its header."""

    ext: str  # the column of the external id
    drop: tuple[str, ...]
    rename: tuple[tuple[str, str], ...]  # ("data.key", "key")
    annotations: bool
    typed: bool = False  # a `json_fields` column names the cells that hold JSON

    @classmethod
    def of(cls, names: list[str]) -> _CsvColumns:
        # Only a Fairlabel CSV export (it always has both columns) gets its columns read as
        # such: in any other file `agreement` or `annotations` are data and must be kept.
        if not {"external_id", "annotations"} <= set(names):
            return cls("id", (), (), False)
        ext = "external_id"
        drop = [n for n in names if n in CSV_IGNORED or n.startswith("label:")]
        if "id" in names:
            drop.append("id")  # a Fairlabel export's own task id
        rename = tuple((n, n[5:]) for n in names if n.startswith("data.") and n[5:])
        taken = set(names) - set(drop) - {ext, "categories", "annotations"}
        for _column, key in rename:
            if key in taken:
                raise FileError(
                    1,
                    M(
                        gettext_noop(
                            "the columns %(key)s and data.%(key)s both name the data field %(key)s"
                        ),
                        key=key,
                    ),
                )
        return cls(ext, tuple(drop), rename, True, "json_fields" in names)


def _unescape_formula(cell: str) -> str:
    """Undo csv_safe: the quote it put before a formula-like text, or before a text that
    itself began with a quote and a formula character."""
    if cell[:1] != "'":
        return cell
    if cell[1:2] in FORMULA_START or (cell[1:2] == "'" and cell[2:3] in FORMULA_START):
        return cell[1:]
    return cell


def _typed_cells(cells: dict[str, Any], typed: str) -> dict[str, Any]:
    """A Fairlabel CSV export's `json_fields`: the columns whose cell is JSON (a number, true,
    false, null, a list or an object), an empty one meaning the task has no such field."""
    try:
        names = orjson.loads(_unescape_formula(typed))
    except orjson.JSONDecodeError as exc:
        raise RowProblem("the json_fields cell is not a JSON list of column names") from exc
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise RowProblem("the json_fields cell is not a JSON list of column names")
    for name in names:
        if name not in cells:
            raise RowProblem(f"json_fields names {name!r}, which is not a column")
        cell = cells[name]
        if cell == "":
            del cells[name]
            continue
        try:
            cells[name] = orjson.loads(cell)
        except orjson.JSONDecodeError as exc:
            raise RowProblem(f"the {name} cell is not JSON, as json_fields says") from exc
    return cells


def _csv_rows(records: Iterator[tuple[int, Any]], reader: RowReader) -> Iterator[tuple[int, Any]]:
    """CSV cells -> (data, external id, categories, predictions); cells stay text, and a cell
    starting with = + - @ is kept as it is (exports escape such cells). The columns a Fairlabel
    CSV export adds are understood: `external_id` (ahead of `id`), `annotations` (a JSON list,
    imported as predictions), `data.<key>` (the data field `key`); `majority`, `agreement` and
    `label:*` are left out."""
    columns: _CsvColumns | None = None
    for line, cells in records:
        if cells.__class__ is RowError:
            yield line, cells
            continue
        if columns is None:
            columns = _CsvColumns.of(list(cells))
        try:
            ext = cells.pop(columns.ext, None) or None
            for name in columns.drop:
                del cells[name]
            categories = cells.pop("categories", None)
            annotations = cells.pop("annotations", None) if columns.annotations else None
            typed = cells.pop("json_fields", "") if columns.typed else ""
            if columns.annotations:
                # A Fairlabel export wrote "'" before cells a spreadsheet would run as formulas.
                cells = {name: _unescape_formula(cell) for name, cell in cells.items()}
                ext = None if ext is None else _unescape_formula(ext)
            if typed:
                cells = _typed_cells(cells, typed)
            if columns.rename:
                names = dict(columns.rename)
                cells = {names.get(name, name): cell for name, cell in cells.items()}
            predictions = None
            if annotations is not None and annotations.strip():
                try:
                    annotations = orjson.loads(annotations)
                except orjson.JSONDecodeError as exc:
                    raise RowProblem(
                        M(gettext_noop("the annotations cell is not a JSON list"))
                    ) from exc
                predictions = reader.annotations_of(annotations, cells) or None
            yield (
                line,
                (
                    cells,
                    external_id_of(ext),
                    None if categories is None else categories_from_cell(categories),
                    predictions,
                ),
            )
        except RowProblem as exc:
            yield line, RowError(_problem(exc))


def _label_studio_flat(
    records: Iterator[tuple[int, Any]], reader: RowReader, *, cells: bool
) -> tuple[bool, Iterator[tuple[int, Any]]]:
    """Whether the file is a Label Studio JSON_MIN/CSV/TSV export (its first row says), and
    the records, none lost to the look."""
    records = iter(records)
    first = next(records, None)
    if first is None:
        return False, records
    records = chain([first], records)
    if is_label_studio_flat(first[1]):
        return True, FlatRows(reader, cells=cells).rows(records)
    return False, records


def _records(fmt: str, counter: ByteCounter, reader: RowReader) -> Iterator[tuple[int, Any]]:
    stream = parsers.utf8_stream(counter)
    if fmt in (ImportFormat.JSONL, ImportFormat.JSON, ImportFormat.LABEL_STUDIO):
        records = (
            parsers.jsonl_records(stream)
            if fmt == ImportFormat.JSONL
            else parsers.json_list_records(stream)
        )
        return _label_studio_flat(records, reader, cells=False)[1]
    if fmt == ImportFormat.CSV:
        flat, records = _label_studio_flat(parsers.csv_records(stream), reader, cells=True)
        return records if flat else _csv_rows(records, reader)
    raise ValueError(f"no row reader for {fmt!r}")


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _problem(exc: Exception) -> str:
    """A RowProblem's message as raised (a Message keeps its translation)."""
    return exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)


def _kind(value: Any) -> str:
    return {
        list: M(gettext_noop("a list")),
        str: M(gettext_noop("a string")),
        int: M(gettext_noop("a number")),
        float: M(gettext_noop("a number")),
        bool: M(gettext_noop("true/false")),
    }.get(type(value), "null")


def tasks_import(
    *,
    project: Project,
    stream: IO[bytes],
    fmt: str,
    size: int = 0,
    on_progress: ProgressCallback | None = None,
    progress_seconds: float = 1.0,
    progress_rows: int = 50_000,
    media: IO[bytes] | None = None,
    media_base_url: str = "",
) -> ImportOutcome:
    """Import a file of tasks into `project`, all or nothing. Never raises for bad input: the
    outcome lists the errors (and imported is 0 when there are any). In an image project,
    image references a browser cannot load are resolved through `media` (a zip) or
    `media_base_url` (labeling.importing.media)."""
    if fmt == ImportFormat.IMAGES_ZIP:
        from labeling.importing.images import images_import

        return images_import(project=project, stream=stream, size=size, on_progress=on_progress)
    counter = ByteCounter(stream)
    errors = ErrorList()
    outcome = ImportOutcome()
    resolver = None
    if project.task_type in IMAGE_TYPES:
        from labeling.importing.media import MediaProblem, MediaResolver

        try:
            resolver = MediaResolver(project_id=project.pk, archive=media, base_url=media_base_url)
        except MediaProblem as exc:
            errors.add(None, str(exc))
            outcome.errors, outcome.error_count = errors.items, errors.count
            return outcome
    try:
        outcome = _tasks_import(
            project=project,
            counter=counter,
            fmt=fmt,
            size=size,
            on_progress=on_progress,
            progress_seconds=progress_seconds,
            progress_rows=progress_rows,
            resolver=resolver,
            errors=errors,
        )
    except BaseException:
        if resolver is not None:
            resolver.discard()
        raise
    if resolver is not None and not outcome.ok:
        resolver.discard()
    return outcome


def _tasks_import(
    *,
    project: Project,
    counter: ByteCounter,
    fmt: str,
    size: int,
    on_progress: ProgressCallback | None,
    progress_seconds: float,
    progress_rows: int,
    resolver: MediaResolver | None,
    errors: ErrorList,
) -> ImportOutcome:
    outcome = ImportOutcome()
    reader = RowReader(project, label_studio=fmt == ImportFormat.LABEL_STUDIO)
    always_unwrap = fmt == ImportFormat.LABEL_STUDIO
    check_existing = project.tasks.filter(external_id__isnull=False).exists()
    required = reader.required
    unwrap = reader.unwrap
    dumps = orjson.dumps
    encode_error = orjson.JSONEncodeError
    seen: set[str] = set()
    batch_ids: list[tuple[str, int]] = []
    total = 0
    failed = False
    last_time = time.monotonic()
    last_total = 0

    def error(line: int | str | None, message: str) -> None:
        nonlocal failed
        errors.add(line, message)
        if not failed:
            failed = True
            sink.discard()

    def flush() -> None:
        if batch_ids:
            found = sink.existing([ext for ext, _ in batch_ids])
            for ext, line in batch_ids:
                if ext in found:
                    error(
                        line,
                        M(
                            gettext_noop(
                                "a task with the id “%(id)s” already exists in this project"
                            ),
                            id=ext,
                        ),
                    )
            batch_ids.clear()
        if not failed:
            sink.flush()

    try:
        with transaction.atomic(), sink_for(project) as sink:
            project_hold(project)
            sink.slots = project.annotations_per_task
            project_categories = project.content_categories
            project_mask = effective_mask(None, project_categories)
            add_plain = sink.add_plain
            pending = sink.rows
            try:
                for line, value in _records(fmt, counter, reader):
                    total += 1
                    if not total & 4095 and on_progress is not None:
                        now = time.monotonic()
                        if now - last_time >= progress_seconds or (
                            total - last_total >= progress_rows
                        ):
                            last_time, last_total = now, total
                            on_progress(Progress(counter.bytes_read, size, total, sink.written))
                    cls = value.__class__
                    ext = categories = predictions = None
                    if cls is dict:
                        if (
                            always_unwrap
                            or "data" in value
                            or "id" in value
                            or ("categories" in value)
                        ):
                            try:
                                data, ext, categories, predictions = unwrap(value)
                            except RowProblem as exc:
                                error(line, _problem(exc))
                                continue
                        else:
                            data = value
                    elif cls is tuple:
                        data, ext, categories, predictions = value
                    elif cls is RowError:
                        error(line, value.message)
                        continue
                    else:
                        error(
                            line,
                            M(
                                gettext_noop("each task must be a JSON object, not %(kind)s"),
                                kind=_kind(value),
                            ),
                        )
                        continue
                    text = data.get(required)
                    if text.__class__ is not str or not text:
                        error(line, reader.missing_field(data))
                        continue
                    if resolver is not None:
                        try:
                            resolver.resolve(data, required, store=not failed)
                        except resolver.Problem as exc:
                            error(line, str(exc))
                            continue
                    try:
                        blob = dumps(data)
                        predicted = None if predictions is None else dumps(predictions)
                    except encode_error as exc:
                        error(line, parsers.encode_problem(exc))
                        continue
                    if b"\\u0000" in blob and _has_nul(data):
                        error(line, M(gettext_noop("a NUL character (\\u0000) cannot be stored")))
                        continue
                    if ext is not None:
                        if ext in seen:
                            error(
                                line,
                                M(
                                    gettext_noop(
                                        "the id “%(id)s” appears more than once in this file"
                                    ),
                                    id=ext,
                                ),
                            )
                            continue
                        seen.add(ext)
                        if check_existing:
                            batch_ids.append((ext, line))
                    if failed:
                        continue  # only validating from here on: nothing will be kept
                    if ext is None and categories is None and predictions is None:
                        add_plain(blob, project_mask)
                    else:
                        sink.add(
                            ext,
                            blob,
                            None if categories is None else dumps(categories),
                            effective_mask(categories, project_categories),
                            predicted,
                        )
                    if len(pending) >= BATCH_ROWS or len(batch_ids) >= BATCH_ROWS:
                        flush()
            except FileError as exc:
                error(exc.line, exc.message)
            flush()
            if total == 0 and not errors.count:
                error(1, M(gettext_noop("the file holds no tasks")))
            outcome.total = total
            outcome.bytes_read = counter.bytes_read
            if errors.count:
                raise _Rollback
            outcome.imported = sink.written
    except _Rollback:
        outcome.imported = 0
    if outcome.imported >= ANALYZE_AFTER_ROWS and connection.vendor == "postgresql":
        # Fresh statistics, or the planner keeps its guess of a few hundred rows a project
        # and sorts whole projects where it should walk an index (exports, task lists).
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {TASK_TABLE}")
    outcome.errors = errors.sorted()
    outcome.error_count = errors.count
    return outcome
