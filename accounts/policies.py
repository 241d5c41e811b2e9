"""Log-in protection: how long a log-in must wait, decided from django-axes' failure records.

The policy (README, "Log-in protection"):
* Per address: django-axes refuses an address after AXES_FAILURE_LIMIT failures within
  AXES_COOLOFF_TIME (high enough for an office behind one address; successes never count).
* Per username, from any address: after FAIRLABEL_LOGIN_FREE_FAILURES failures each new attempt
  waits, 1 s doubling up to FAIRLABEL_LOGIN_MAX_DELAY_SECONDS. Guessing one account slows to one
  try per delay however many addresses the guesser has, and a stranger who types wrong passwords
  for the owner or the admin can delay them by at most the cap, never lock them out. A success
  clears the username's failures.
Attempts refused while waiting are not recorded, so they cannot push the wait further.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max, Sum
from django.utils import timezone


def _window_start(now: datetime) -> datetime:
    return now - settings.AXES_COOLOFF_TIME


def username_delay(failures: int) -> int:
    """Seconds an attempt must wait after the last failure, given the username's failures."""
    free = settings.FAIRLABEL_LOGIN_FREE_FAILURES
    if failures < free:
        return 0
    cap = settings.FAIRLABEL_LOGIN_MAX_DELAY_SECONDS
    return min(2 ** min(failures - free, 32), cap)


def login_wait(*, username: str, now: datetime | None = None) -> int:
    """Whole seconds before `username` may try again (0: now)."""
    now = now or timezone.now()
    recent = AccessAttempt.objects.filter(username=username, attempt_time__gte=_window_start(now))
    seen = recent.aggregate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
    delay = username_delay(seen["failures"] or 0)
    if not delay:
        return 0
    remaining = (seen["last"] + timedelta(seconds=delay) - now).total_seconds()
    return max(0, math.ceil(remaining))


def address_wait(*, ip_address: str, now: datetime | None = None) -> int:
    """Whole seconds until an address that django-axes refuses may try again."""
    now = now or timezone.now()
    last = AccessAttempt.objects.filter(ip_address=ip_address).aggregate(last=Max("attempt_time"))
    if last["last"] is None:
        return 0
    remaining = (last["last"] + settings.AXES_COOLOFF_TIME - now).total_seconds()
    return max(0, math.ceil(remaining))
