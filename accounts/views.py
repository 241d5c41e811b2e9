from django.contrib import messages
from django.contrib.auth import login
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.forms import SignupForm
from accounts.roles import Role, role_of
from accounts.services import annotator_signup
from fairlabel.errors import DomainError

HOME_BY_ROLE = {
    Role.ANNOTATOR: "labeling:annotator_home",
    Role.OWNER: "labeling:project_list",
    Role.AUDITOR: "labeling:auditor_home",
    Role.ADMIN: "admin:index",
}


def home(request):
    if not request.user.is_authenticated:
        return redirect("accounts:login")
    role = role_of(request.user)
    if role is None:
        return render(request, "accounts/no_role.html", status=403)
    return redirect(HOME_BY_ROLE[role])


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = annotator_signup(**form.cleaned_data)
        except DomainError as exc:
            form.add_error(None, exc.detail)
        else:
            login(request, user, backend="accounts.backends.DelayedModelBackend")
            messages.success(
                request, _("Welcome! Your pseudonym is %(p)s.") % {"p": user.profile.pseudonym}
            )
            return redirect("home")
    return render(request, "accounts/signup.html", {"form": form})
