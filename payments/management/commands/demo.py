"""`manage.py demo`: one user of each role and demo projects. Safe to run again.

It lives in the top app (payments) because it seeds every layer below it."""

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.roles import Role
from accounts.services import user_create
from labeling.models import Project
from labeling.services import project_create, project_publish, tasks_create
from payments.services import project_fund

DEMO_USERS = [
    ("annotator", Role.ANNOTATOR, "annotate-fairly", "KE", "Africa/Nairobi"),
    ("owner", Role.OWNER, "own-fairly", "FR", "Europe/Paris"),
    ("auditor", Role.AUDITOR, "audit-fairly", "DE", "Europe/Berlin"),
    ("admin", Role.ADMIN, "admin-fairly", "US", "UTC"),
]

REVIEWS = [
    "The delivery was quick and the product works exactly as described.",
    "Terrible support: three emails and still no answer after two weeks.",
    "It does the job. Nothing more, nothing less.",
    "Absolutely love it, I bought a second one for my sister.",
    "Broke after a week of normal use; asking for a refund.",
    "Fine for the price, though the manual is confusing.",
    "Best purchase I made this year, the battery lasts for days.",
    "The colour is not the one shown in the pictures.",
    "Arrived on time, well packed, works fine.",
    "Would not recommend: noisy and slow.",
    "Good value; setup took five minutes.",
    "Customer service replaced it at once when it failed.",
]

SENTENCES = [
    "Ada Lovelace worked with Charles Babbage in London.",
    "The Fairwork project rates platforms in Nairobi and Manila.",
    "Marie Curie moved from Warsaw to Paris in 1891.",
    "Alan Turing was born in Maida Vale, London.",
    "Grace Hopper served in the United States Navy.",
    "Kenya and the Philippines host many data workers.",
]


# Harmless placeholders standing for disturbing content: the project declares the categories,
# so a new user sees consent, hidden text, caps and recovery controls within minutes.
MODERATION = [
    ("[Placeholder for a violent comment] Nothing harmful is written here.", None),
    ("[Placeholder for a hateful comment] Nothing harmful is written here.", ["hate"]),
    ("[Placeholder for a threatening message] Nothing harmful is written here.", None),
    ("A friendly comment about the weather.", []),
    ("[Placeholder for a violent and hateful post] Nothing harmful is written here.", None),
    ("A question about opening hours.", []),
]


HISTORY_TITLE = "Support tickets: urgency (last week's work)"
HISTORY_WORKERS = [
    ("demo-worker-1", "KE", "Africa/Nairobi"),
    ("demo-worker-2", "PH", "Asia/Manila"),
    ("demo-worker-3", "VE", "America/Caracas"),
    ("demo-worker-4", "IN", "Asia/Kolkata"),
]
TICKETS = [
    ("The login page shows an error since this morning.", None),
    ("Can I change the colour of my invoice template?", None),
    ("[Placeholder for a threatening message to staff] Nothing harmful is written here.",
     ["violence"]),
    ("Payment taken twice for one order, please refund.", None),
    ("[Placeholder for a hateful message] Nothing harmful is written here.", ["hate"]),
    ("How do I export my data?", None),
]  # fmt: skip


class Command(BaseCommand):
    help = "Create the demo users (printed with their passwords) and demo projects."

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-history",
            action="store_true",
            help="Skip the past week of work by demo workers (settled, reported).",
        )

    def handle(self, *args, **options):
        with transaction.atomic():
            users = {}
            for username, role, password, country, tz in DEMO_USERS:
                user = User.objects.filter(username=username).first()
                if user is None:
                    user = user_create(
                        username=username,
                        password=password,
                        role=role,
                        country=country,
                        timezone=tz,
                        check_password=False,
                    )
                users[role] = user
            owner = users[Role.OWNER]
            if not Project.objects.filter(owner=owner).exists():
                self._projects(owner)
            owned = Project.objects.filter(owner=owner).values_list("content_categories", flat=True)
            if not any(owned):
                self._sensitive_project(owner)
            if not Project.objects.filter(owner=owner, task_type="image_classification").exists():
                self._sensitive_images(owner)
        if not options["no_history"] and not Project.objects.filter(title=HISTORY_TITLE).exists():
            self._history(owner)
        self.stdout.write(self.style.SUCCESS("Demo users (username / password):"))
        for username, role, password, *_ in DEMO_USERS:
            self.stdout.write(f"  {role.value:<10} {username} / {password}")

    def _projects(self, owner) -> None:
        reviews = project_create(
            owner=owner,
            title="Product reviews: sentiment",
            task_type="text_classification",
            instructions="Read the review and choose its **overall sentiment**.\n\n"
            "- *positive*: the writer is satisfied\n- *negative*: dissatisfied\n"
            "- *neutral*: neither",
            labels=["positive", "negative", "neutral"],
            annotations_per_task=2,
            price_per_task="0.10",
            estimated_seconds_per_task=20,
        )
        tasks_create(
            project=reviews,
            rows=[{"data": {"text": t}, "id": f"review-{i}"} for i, t in enumerate(REVIEWS, 1)],
        )
        project_fund(project=reviews, amount="500.00")
        project_publish(project=reviews)
        entities = project_create(
            owner=owner,
            title="People and places",
            task_type="text_spans",
            instructions="Select each **person** (PER) and **location** (LOC).",
            labels=[{"value": "PER", "hotkey": "p"}, {"value": "LOC", "hotkey": "l"}],
            price_per_task="0.25",
            estimated_seconds_per_task=45,
        )
        tasks_create(project=entities, rows=[{"data": {"text": t}} for t in SENTENCES])
        project_fund(project=entities, amount="500.00")
        project_publish(project=entities)

    def _sensitive_images(self, owner) -> None:
        """Placeholder pictures marked sensitive: a new user sees them blurred and grey until
        revealed, with the blur strength slider."""
        import io
        import zipfile

        from django.core.files.uploadedfile import SimpleUploadedFile
        from PIL import Image, ImageDraw

        from labeling.importing.services import import_job_create, import_job_run

        photos = project_create(
            owner=owner,
            title="Street photos (sensitive: placeholders)",
            task_type="image_classification",
            instructions="Does the picture show **a scene that breaks the rules**?\n\n"
            "The pictures are harmless placeholders marked sensitive, to show how Fairlabel "
            "protects annotators: they start blurred and grey; hover or click to see them.",
            labels=["acceptable", "remove"],
            content_categories=["violence"],
            price_per_task="0.10",
            estimated_seconds_per_task=15,
        )
        out = io.BytesIO()
        colours = ["#c0392b", "#2980b9", "#27ae60", "#8e44ad", "#d35400", "#16a085"]
        with zipfile.ZipFile(out, "w") as archive:
            for n, colour in enumerate(colours, 1):
                image = Image.new("RGB", (480, 320), colour)
                draw = ImageDraw.Draw(image)
                draw.ellipse((150, 70, 330, 250), fill="#f4f1de")
                draw.text((20, 20), f"placeholder {n}", fill="#ffffff")
                buffer = io.BytesIO()
                image.save(buffer, "PNG")
                archive.writestr(f"placeholder-{n}.png", buffer.getvalue())
        job = import_job_create(
            project=photos, user=owner, file=SimpleUploadedFile("photos.zip", out.getvalue())
        )
        import_job_run(job_id=job.pk)
        project_fund(project=photos, amount="500.00")
        project_publish(project=photos)

    def _sensitive_project(self, owner) -> None:
        moderation = project_create(
            owner=owner,
            title="Comment moderation (sensitive: placeholders)",
            task_type="text_classification",
            instructions="Decide whether the comment **breaks the rules** of the forum.\n\n"
            "The texts are placeholders marked sensitive, to show how Fairlabel protects "
            "annotators: consent first, text hidden until you choose to see it, daily limits.",
            labels=["acceptable", "remove"],
            content_categories=["violence", "hate"],
            price_per_task="0.15",
            estimated_seconds_per_task=30,
        )
        tasks_create(
            project=moderation,
            rows=[
                {"data": {"text": text}, **({} if cats is None else {"categories": cats})}
                for text, cats in MODERATION
            ],
        )
        project_fund(project=moderation, amount="500.00")
        project_publish(project=moderation)

    def _history(self, owner) -> None:
        """A past week of work by four demo workers, through the real services (dispatch,
        heartbeats, breaks, submissions, a rejection and its appeal), settled up to the last UTC
        midnight and reported: the auditor's dashboard has figures and charts from the start."""
        import secrets
        from datetime import timedelta

        from labeling import dispatch
        from labeling.policies import Refused
        from payments.reports import report_create, report_job_run
        from payments.selectors import last_period_end
        from payments.services import annotation_reject, appeal_submit, settle_now
        from workers.services import (
            consent_set,
            heartbeat_record,
            work_days_rebuild,
            work_sessions_close,
        )

        project = project_create(
            owner=owner,
            title=HISTORY_TITLE,
            task_type="text_classification",
            instructions="Is the support ticket **urgent**? Some tickets are placeholders "
            "marked sensitive.",
            labels=["urgent", "normal"],
            content_categories=["violence", "hate"],
            price_per_task="0.12",
            estimated_seconds_per_task=20,
        )
        tasks_create(
            project=project,
            rows=[
                {"data": {"text": f"#{n} {text}"}, "categories": cats or []}
                for n in range(1, 401)
                for text, cats in [TICKETS[n % len(TICKETS)]]
            ],
        )
        project_fund(project=project, amount="500.00")
        project_publish(project=project)
        project = Project.objects.get(pk=project.pk)
        midnight = last_period_end()
        workers = []
        for username, country, tz in HISTORY_WORKERS:
            user = User.objects.filter(username=username).first() or user_create(
                username=username,
                password=secrets.token_urlsafe(24),
                role=Role.ANNOTATOR,
                country=country,
                timezone=tz,
                check_password=False,
            )
            consent_set(
                annotator=user,
                project=project,
                categories=["violence", "hate"],
                now=midnight - timedelta(days=6),
            )
            workers.append(user)
        step = timedelta(seconds=60)
        first = None
        for day in range(4, 0, -1):
            for n, worker in enumerate(workers):
                t = midnight - timedelta(days=day) + timedelta(hours=7 + 2 * n)
                # 10 to 19 minutes of work; one long day brings a paid break.
                for _ in range(50 if (day, n) == (2, 3) else 10 + 3 * n):
                    try:
                        held = dispatch.assignment_next(annotator=worker, project=project, now=t)
                    except Refused as refused:  # a break: taken in full, then back to work
                        t = refused.refusal.until or t + step
                        continue
                    if held is None:
                        break
                    heartbeat_record(annotator=worker, now=t + step / 2, assignment_id=held.pk)
                    t += step
                    heartbeat_record(annotator=worker, now=t, assignment_id=held.pk)
                    outcome = dispatch.annotation_submit(
                        annotator=worker,
                        assignment_id=held.pk,
                        result={"label": "urgent" if held.task_id % 3 else "normal"},
                        now=t,
                    )
                    first = first or (worker, outcome.annotation.pk, t)
        work_sessions_close(now=midnight)
        work_days_rebuild(
            annotator_ids=[w.pk for w in workers],
            first=(midnight - timedelta(days=7)).date(),
            last=midnight.date(),
        )
        settle_now(cutoff=midnight)
        if first is not None:  # one rejection, appealed: the auditor sees it pending
            worker, annotation_id, at = first
            annotation_reject(
                user=owner,
                annotation_id=annotation_id,
                reason="The ticket mentions a double payment: that is urgent.",
                now=at + timedelta(hours=2),
            )
            appeal_submit(
                annotator=worker,
                annotation_id=annotation_id,
                text="The customer says it can wait until Monday.",
                now=at + timedelta(hours=3),
            )
        job = report_create(
            user=User.objects.get(username="auditor"),
            start=midnight - timedelta(days=7),
            end=midnight,
        )
        report_job_run(job_id=job.pk)
        self.stdout.write(
            f"Demo history: {len(workers)} workers, settled up to {midnight:%Y-%m-%d %H:%M} UTC."
        )
