"""Each task stores its effective categories (a bit mask, indexed with the dispatcher's queue)
instead of a sensitive flag; the project's categories are no longer applied at query time."""

from django.db import migrations, models

# labeling.categories.ORDER at the time of this migration: bit n is ORDER[n].
ORDER = ("violence", "gore", "sexual", "self_harm", "hate", "child_safety", "other_disturbing")


def fill_masks(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    bits = " UNION ALL ".join(
        f"SELECT '{name}' AS name, {1 << n} AS bit" for n, name in enumerate(ORDER)
    )
    own_or_project = (
        "COALESCE(labeling_task.categories, (SELECT p.content_categories FROM labeling_project p "
        "WHERE p.id = labeling_task.project_id))"
    )
    each = (
        f"jsonb_array_elements_text({own_or_project}) AS e(value)"
        if vendor == "postgresql"
        else f"json_each({own_or_project}) AS e"
    )
    schema_editor.execute(
        "UPDATE labeling_task SET category_mask = ("  # noqa: S608
        f"SELECT COALESCE(SUM(DISTINCT b.bit), 0) FROM {each} JOIN ({bits}) AS b "
        "ON b.name = e.value)"
    )


def fill_sensitive(apps, schema_editor):
    schema_editor.execute("UPDATE labeling_task SET is_sensitive = (category_mask <> 0)")


class Migration(migrations.Migration):
    dependencies = [
        ("labeling", "0005_working_time_exposure"),
    ]

    operations = [
        migrations.AddField(
            model_name="task",
            name="category_mask",
            field=models.PositiveSmallIntegerField(db_default=0, default=0),
        ),
        migrations.RunPython(fill_masks, fill_sensitive, elidable=False),
        migrations.RemoveIndex(
            model_name="task",
            name="task_dispatch_safe_idx",
        ),
        migrations.RemoveField(
            model_name="task",
            name="is_sensitive",
        ),
        migrations.AddIndex(
            model_name="task",
            index=models.Index(
                condition=models.Q(("slots_free__gt", 0)),
                fields=["project", "category_mask", "slots_free", "id"],
                name="task_dispatch_mask_idx",
            ),
        ),
    ]
