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


class Command(BaseCommand):
    help = "Create the demo users (printed with their passwords) and demo projects."

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
