"""The token endpoint's rate limit: per client address (trusted proxies only), failing open.

It protects the password hasher from floods, not accounts from guessing: guessing is stopped by
failures, counted in the database by django-axes and accounts.policies, which work without
Redis. So when the cache does not answer, log-ins go on rather than fail with a 500."""

from __future__ import annotations

import logging

from django.conf import settings
from redis.exceptions import RedisError
from rest_framework.throttling import SimpleRateThrottle

from fairlabel.client_ip import client_ip

log = logging.getLogger(__name__)


class LoginRateThrottle(SimpleRateThrottle):
    scope = "login"

    def get_rate(self) -> str:
        return settings.FAIRLABEL_LOGIN_RATE

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request._request)}

    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except (RedisError, OSError):
            log.warning("The cache does not answer: the log-in rate limit is off", exc_info=True)
            return True
