"""Navigation per role: each role sees only the links it may follow."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts.roles import Role, role_of

NAVIGATION = {
    Role.ANNOTATOR: [("labeling:annotator_home", _("Tasks")), ("payments:earnings", _("Earnings"))],
    Role.OWNER: [
        ("labeling:project_list", _("My projects")),
        ("labeling:project_create", _("New project")),
    ],
    Role.AUDITOR: [
        ("labeling:auditor_home", _("Projects under audit")),
        ("payments:reports", _("Reports")),
        ("payments:voice", _("Messages")),
    ],
    Role.ADMIN: [
        ("labeling:project_list", _("All projects")),
        ("labeling:auditor_home", _("Audit")),
        ("payments:payouts", _("Payouts")),
        ("admin:index", _("Administration")),
    ],
}


# The role as people read it in the top bar, in their language (not the group's code).
ROLE_NAMES = {
    Role.ANNOTATOR: _("annotator"),
    Role.OWNER: _("owner"),
    Role.AUDITOR: _("auditor"),
    Role.ADMIN: _("admin"),
}


def navigation(request):
    role = role_of(getattr(request, "user", None))
    links = [{"url": reverse(name), "label": label} for name, label in NAVIGATION.get(role, [])]
    return {
        "nav_links": links,
        "user_role": role.value if role else None,
        "user_role_name": ROLE_NAMES.get(role, "") if role else "",
    }
