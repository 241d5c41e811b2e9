"""Django's password check behind the per-username delay of accounts.policies."""

from __future__ import annotations

from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from accounts.policies import login_wait


class LoginDelayed(PermissionDenied):
    """Stops authenticate() before the password is checked."""


class DelayedModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if request is not None and username:
            wait = login_wait(username=username)
            if wait:
                # django-axes then neither records this attempt (AXES_RESET_COOL_OFF_ON_FAILURE_
                # DURING_LOCKOUT is off) nor lets the view answer: its middleware answers with
                # accounts.lockout.lockout_response.
                request.axes_locked_out = True
                request.axes_credentials = {"username": username}
                request.fairlabel_login_wait = wait
                raise LoginDelayed
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None and username:
            AccessAttempt.objects.filter(username=username).delete()
        return user
