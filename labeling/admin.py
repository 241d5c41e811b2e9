from django.contrib import admin

from labeling.models import Annotation, Assignment, ExportJob, ImportJob, Project


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = (
        "title",
        "task_type",
        "status",
        "price_per_task",
        "currency",
        "annotations_per_task",
        "created_at",
    )
    list_filter = ("status", "task_type")
    search_fields = ("title",)


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "task_id", "status", "served_at", "expires_at")
    list_filter = ("status",)
    raw_id_fields = ("task", "project", "annotator")


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "task_id", "seconds", "is_extra", "created_at")
    raw_id_fields = ("task", "project", "annotator", "assignment")


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "format", "status", "total", "imported", "error_count")


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "format", "status", "exported", "created_at")
