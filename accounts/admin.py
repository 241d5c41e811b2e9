from django.contrib import admin
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from accounts.models import Profile

# The admin's "View site" link leads to Fairlabel's own pages (all projects, for an admin),
# not back to "/", which sends an admin to this admin again.
admin.site.site_url = reverse_lazy("labeling:project_list")
admin.site.site_header = _("Fairlabel administration")
admin.site.site_title = _("Fairlabel administration")


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("pseudonym", "user", "country", "timezone", "created_at")
    search_fields = ("pseudonym", "user__username")
    readonly_fields = ("pseudonym",)
