"""A simulated working day of one annotator, through the services with explicit times.

    .venv/bin/python bench/workday.py [--timezone Europe/Paris] [--hours 9]

On a scratch SQLite database (under a temporary folder), one annotator labels without pause:
a heartbeat every 30 s and a task submitted every minute, starting at 08:00 in its time zone,
and asks for the next task as the page does. Prints, as the status bar shows them, the time
worked today and this week and the work left before the next break, and every refusal with
its rule and until when: the breaks after 50 minutes, the long break at 6 hours, the daily
limit at 8 hours. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def hm(seconds) -> str:
    total = int(seconds)
    return f"{total // 3600} h {(total % 3600) // 60:02d} min"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--timezone", default="Europe/Paris")
    parser.add_argument("--hours", type=float, default=9)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="fairlabel-workday-")
    os.environ.update(
        {
            "FAIRLABEL_VAR_DIR": folder,
            "DJANGO_SETTINGS_MODULE": "fairlabel.settings.base",
            "DATABASE_URL": "",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from fairlabel.errors import DomainError
    from labeling import dispatch
    from tests.factories import project_factory, user_factory
    from workers import services

    tz = ZoneInfo(args.timezone)
    annotator = user_factory("annotator", timezone=args.timezone)
    project = project_factory(tasks=600, publish=True)
    day = datetime.now(tz).date() + timedelta(days=1)
    t = datetime.combine(day, time(8, 0), tzinfo=tz)
    end = t + timedelta(hours=args.hours)
    held, refused_until, tasks, last_report = None, None, 0, None
    print(f"{annotator.profile.pseudonym}, {args.timezone}, {day}; policies from the settings")
    while t < end:
        local = t.astimezone(tz).strftime("%H:%M:%S")
        if held is None and (refused_until is None or t >= refused_until):
            try:
                held = dispatch.assignment_next(annotator=annotator, project=project, now=t)
                refused_until = None
            except DomainError as refusal:
                if refused_until is None or refusal.until != refused_until:
                    until = refusal.until.astimezone(tz).strftime("%H:%M") if refusal.until else "-"
                    print(f"{local}  409 {refusal.code:<12} until {until}  ({refusal.rule})")
                refused_until = refusal.until
        if held is not None:
            standing = services.heartbeat_record(annotator=annotator, now=t, assignment_id=held.pk)
            if int((t - datetime.combine(day, time(8), tzinfo=tz)).total_seconds()) % 60 == 30:
                dispatch.annotation_submit(
                    annotator=annotator, assignment_id=held.pk, result={"label": "pos"}, now=t
                )
                tasks += 1
                held = None
            if last_report is None or t - last_report >= timedelta(hours=1):
                print(
                    f"{local}  status bar: worked today {hm(standing.today_seconds)} · this week "
                    f"{hm(standing.week_seconds)} · next break in "
                    f"{hm(standing.work_until_break or 0)} · tasks {tasks}"
                )
                last_report = t
        t += timedelta(seconds=30)
    final = services.work_standing(annotator=annotator, now=t)
    print(
        f"end of day: worked {hm(final.today_seconds)}, breaks {hm(final.today_break_seconds)}, "
        f"work and breaks {hm(final.today_seconds + final.today_break_seconds)}, {tasks} tasks"
    )


if __name__ == "__main__":
    main()
