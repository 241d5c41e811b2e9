from django.contrib import admin

from accounts.models import Profile


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("pseudonym", "user", "country", "timezone", "created_at")
    search_fields = ("pseudonym", "user__username")
    readonly_fields = ("pseudonym",)
