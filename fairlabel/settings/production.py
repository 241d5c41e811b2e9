"""Production: every secret from the environment, DEBUG refused, HTTPS everywhere."""

from django.core.exceptions import ImproperlyConfigured

from fairlabel.env import env_bool, env_int, env_list, env_str

from .base import *  # noqa: F403

DEBUG = env_bool("DEBUG", False)
if DEBUG:
    raise ImproperlyConfigured("DEBUG must be off in production.")
SECRET_KEY = env_str("SECRET_KEY")
if SECRET_KEY.startswith("local-only-insecure") or len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be a random value of at least 50 characters.")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = False

# The rules that protect annotators are not optional in production.
_missing = [g for g in FAIRLABEL_PROTECTION_GATES if g not in FAIRLABEL_DISPATCH_GATES]  # noqa: F405
_missing += [h for h in FAIRLABEL_PROTECTION_HOOKS if h not in FAIRLABEL_ASSIGNMENT_HOOKS]  # noqa: F405
_missing += [
    c
    for c in FAIRLABEL_PROTECTION_ACCESS_CHECKS  # noqa: F405
    if c not in FAIRLABEL_TASK_ACCESS_CHECKS  # noqa: F405
]
if _missing:
    raise ImproperlyConfigured(
        "FAIRLABEL_DISPATCH_GATES / FAIRLABEL_ASSIGNMENT_HOOKS lack the protection rules: "
        + ", ".join(_missing)
    )
