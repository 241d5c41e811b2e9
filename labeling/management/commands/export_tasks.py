"""manage.py export_tasks PROJECT FORMAT OUT [--only-finished] [--majority]"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from fairlabel.errors import DomainError
from labeling.exporting.services import export_to_path, provenance_path_for
from labeling.models import ExportFormat, Project


class Command(BaseCommand):
    help = (
        "Export a project's tasks and labels to OUT, with the labor-provenance record "
        "beside it (<OUT stem>.provenance.json). Progress goes to stderr."
    )

    def add_arguments(self, parser):
        parser.add_argument("project", type=int, help="project id")
        parser.add_argument("format", choices=ExportFormat.values)
        parser.add_argument("out", help="the file to write")
        parser.add_argument(
            "--only-finished", action="store_true", help="only tasks with all their annotations"
        )
        parser.add_argument(
            "--majority",
            action="store_true",
            help="add the majority label and its agreement (classification)",
        )

    def handle(self, *args, **options):
        project = Project.objects.filter(pk=options["project"]).first()
        if project is None:
            raise CommandError(f"No project {options['project']}.")
        started = time.monotonic()
        last_print = [0.0]

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if done < total and now - last_print[0] < 0.5:
                return
            last_print[0] = now
            percent = 100 * done / total if total else 100.0
            rate = done / max(now - started, 1e-9)
            self.stderr.write(
                f"\rexported {done:,} / {total:,} tasks ({percent:5.1f} %, {rate:,.0f} tasks/s)",
                ending="",
            )
            self.stderr.flush()

        try:
            count = export_to_path(
                project=project,
                fmt=options["format"],
                path=options["out"],
                only_finished=options["only_finished"],
                majority=options["majority"],
                progress=progress,
            )
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        self.stderr.write("")
        elapsed = time.monotonic() - started
        self.stdout.write(
            f"Exported {count} tasks to {options['out']} in {elapsed:.2f} s; "
            f"provenance in {provenance_path_for(options['out'])}."
        )
