"""manage.py import_tasks PROJECT FILE [--format F] [--media ZIP] [--media-base-url URL]: the
same import as the page and the API, run here and now, with a progress bar on stderr."""

from __future__ import annotations

import os
import time
from contextlib import nullcontext

from django.core.management.base import BaseCommand, CommandError

from fairlabel.errors import DomainError
from labeling.importing.loader import Progress, tasks_import
from labeling.importing.services import import_format_detect, media_base_url_check
from labeling.models import ImportFormat, Project

BAR_WIDTH = 30


class Command(BaseCommand):
    help = "Import a file of tasks into a project, all or nothing, with a progress bar."

    def add_arguments(self, parser):
        parser.add_argument("project", type=int, help="the project's id")
        parser.add_argument("file", help="the file to import")
        parser.add_argument(
            "--format",
            choices=ImportFormat.values,
            default=None,
            help="detected from the file name when absent",
        )
        parser.add_argument(
            "--media",
            default=None,
            help="image projects: a zip of the images the tasks reference by Label Studio "
            "paths (/data/upload/..., /data/local-files/?d=...)",
        )
        parser.add_argument(
            "--media-base-url",
            default="",
            help="image projects: the http(s) address those images are served from",
        )

    def handle(
        self,
        *args,
        project: int,
        file: str,
        format: str | None,
        media: str | None = None,
        media_base_url: str = "",
        **options,
    ):
        found = Project.objects.filter(pk=project).first()
        if found is None:
            raise CommandError(f"No project with id {project}.")
        try:
            fmt = import_format_detect(name=file, fmt=format)
            media_base_url = media_base_url_check(media_base_url)
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        try:
            size = os.path.getsize(file)
            stream = open(file, "rb")  # closed by the with block below
            media_stream = open(media, "rb") if media else nullcontext()
        except OSError as exc:
            raise CommandError(f"Cannot read {exc.filename}: {exc.strerror}") from exc
        started = time.monotonic()
        with stream, media_stream as media_file:
            outcome = tasks_import(
                project=found,
                stream=stream,
                fmt=fmt,
                size=size,
                on_progress=self._bar(started),
                progress_seconds=0.2,
                media=media_file,
                media_base_url=media_base_url,
            )
        self._bar(started)(
            Progress(outcome.bytes_read or size, size, outcome.total, outcome.imported)
        )
        self.stderr.write("")
        seconds = time.monotonic() - started
        if not outcome.ok:
            for error in outcome.errors:
                where = (
                    f"line {error['line']}"
                    if isinstance(error["line"], int)
                    else (error["line"] or "file")
                )
                self.stderr.write(f"{where}: {error['message']}")
            more = outcome.error_count - len(outcome.errors)
            if more:
                self.stderr.write(f"and {more} more")
            raise CommandError(f"Nothing imported: {outcome.error_count} problem(s) in {file}.")
        rate = outcome.imported / seconds if seconds else 0
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {outcome.imported} tasks into project {found.pk} in {seconds:.1f} s "
                f"({rate:,.0f} tasks/s)."
            )
        )

    def _bar(self, started: float):
        def show(progress: Progress) -> None:
            fraction = min(progress.bytes_read / progress.size, 1.0) if progress.size else 1.0
            filled = int(fraction * BAR_WIDTH)
            elapsed = max(time.monotonic() - started, 1e-6)
            self.stderr.write(
                f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {fraction:4.0%} "
                f"{progress.total:,} rows read, {progress.total / elapsed:,.0f} rows/s",
                ending="",
            )
            self.stderr.flush()

        return show
