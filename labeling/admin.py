from django import forms
from django.contrib import admin

from fairlabel.errors import DomainError
from labeling.models import (
    Annotation,
    Assignment,
    ExportJob,
    ImportJob,
    PolicyChange,
    PolicyOverride,
    Project,
)
from labeling.policies import POLICY_NAMES, policy_coerce
from labeling.services import policy_set


class PolicyOverrideForm(forms.ModelForm):
    name = forms.ChoiceField(choices=[(n, n) for n in POLICY_NAMES])

    class Meta:
        model = PolicyOverride
        fields = ("name", "value")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("name") and cleaned.get("value"):
            try:
                policy_coerce(cleaned["name"], cleaned["value"])
            except DomainError as exc:
                self.add_error("value", exc.detail)
        return cleaned


class ReadOnlyAdmin(admin.ModelAdmin):
    """Seen in the admin, changed only through the services (prices, overlap, statuses and
    work are rules' inputs and pay's evidence: the admin must not route around them)."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Project)
class ProjectAdmin(ReadOnlyAdmin):
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
class AssignmentAdmin(ReadOnlyAdmin):
    list_display = ("id", "project", "task_id", "status", "served_at", "expires_at")
    list_filter = ("status",)
    raw_id_fields = ("task", "project", "annotator")


@admin.register(Annotation)
class AnnotationAdmin(ReadOnlyAdmin):
    list_display = ("id", "project", "task_id", "seconds", "is_extra", "created_at")
    raw_id_fields = ("task", "project", "annotator", "assignment")


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "format", "status", "total", "imported", "error_count")


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "format", "status", "exported", "created_at")


@admin.register(PolicyOverride)
class PolicyOverrideAdmin(admin.ModelAdmin):
    """Admins override a policy here; every change goes through policy_set (audited)."""

    list_display = ("name", "value", "updated_at")
    form = PolicyOverrideForm

    def save_model(self, request, obj, form, change):
        policy_set(name=obj.name, value=obj.value, changed_by=request.user)

    def delete_model(self, request, obj):
        policy_set(name=obj.name, value=None, changed_by=request.user)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(PolicyChange)
class PolicyChangeAdmin(admin.ModelAdmin):
    list_display = ("name", "old_value", "new_value", "changed_by", "changed_at")
    list_filter = ("name",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
