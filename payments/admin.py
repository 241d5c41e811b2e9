"""Fair pay in the admin: country floors change only through `floor_set` (audited); the ledger
and everything derived from it is read-only; payouts are marked paid through their service."""

from django import forms
from django.contrib import admin, messages

from fairlabel.errors import DomainError
from labeling.admin import ReadOnlyAdmin
from payments import services
from payments.models import (
    CountryFloor,
    Entry,
    FloorChange,
    Payout,
    PriceChange,
    Review,
    Settlement,
    SettlementJob,
)


class CountryFloorForm(forms.ModelForm):
    class Meta:
        model = CountryFloor
        fields = ("country", "hourly")


@admin.register(CountryFloor)
class CountryFloorAdmin(admin.ModelAdmin):
    """An annotator's floor is max(global floor, its country's row). The global floor is the
    policy FAIRLABEL_FLOOR_HOURLY (Policy overrides)."""

    list_display = ("country", "hourly", "updated_at")
    form = CountryFloorForm

    def save_model(self, request, obj, form, change):
        try:
            services.floor_set(country=obj.country, hourly=obj.hourly, changed_by=request.user)
        except DomainError as exc:
            messages.error(request, exc.detail)

    def delete_model(self, request, obj):
        services.floor_set(country=obj.country, hourly=None, changed_by=request.user)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(FloorChange)
class FloorChangeAdmin(ReadOnlyAdmin):
    list_display = ("country", "old_hourly", "new_hourly", "changed_by", "changed_at")


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "amount", "currency", "project", "chain", "seq", "created_at")
    list_filter = ("kind",)
    search_fields = ("reference", "hash")


@admin.register(SettlementJob)
class SettlementJobAdmin(ReadOnlyAdmin):
    list_display = ("id", "period_start", "period_end", "status", "annotators", "entries")


@admin.register(Settlement)
class SettlementAdmin(ReadOnlyAdmin):
    list_display = ("job", "annotator", "project", "floor_hourly", "piece_pay", "topup")
    raw_id_fields = ("annotator", "project")


@admin.register(PriceChange)
class PriceChangeAdmin(ReadOnlyAdmin):
    list_display = ("project", "old_price", "new_price", "new_seconds", "automatic", "changed_at")


@admin.register(Review)
class ReviewAdmin(ReadOnlyAdmin):
    list_display = ("annotation", "project", "status", "reviewed_at", "appeal_deadline")
    list_filter = ("status",)


@admin.register(Payout)
class PayoutAdmin(ReadOnlyAdmin):
    list_display = ("id", "annotator", "amount", "currency", "status", "requested_at", "paid_at")
    list_filter = ("status",)
    actions = ["mark_paid"]

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and request.user.is_superuser  # the action only

    @admin.action(description="Mark the selected payouts as paid")
    def mark_paid(self, request, queryset):
        done = services.payouts_mark_paid(
            ids=list(queryset.values_list("pk", flat=True)), by=request.user
        )
        messages.success(request, f"{done} payouts marked paid.")
