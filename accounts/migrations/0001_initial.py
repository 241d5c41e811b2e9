import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import accounts.models

ROLES = ["annotator", "owner", "auditor", "admin"]


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLES:
        Group.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.CreateModel(
            name="Profile",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("pseudonym", models.CharField(default=accounts.models.new_pseudonym, editable=False, max_length=32, unique=True, verbose_name="pseudonym")),
                ("country", models.CharField(blank=True, help_text="ISO 3166-1 alpha-2 code", max_length=2, verbose_name="country")),
                ("timezone", models.CharField(default="UTC", max_length=64, verbose_name="time zone")),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("user", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name="profile", to=settings.AUTH_USER_MODEL)),
            ],
            options={"verbose_name": "profile"},
        ),
        migrations.RunPython(create_groups, migrations.RunPython.noop),
    ]
