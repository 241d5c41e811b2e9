"""Settings for the test suite: the same code paths, faster hashing, a private var/ folder."""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("FAIRLABEL_VAR_DIR", str(Path(tempfile.gettempdir()) / "fairlabel-test"))

from .base import *  # noqa: F403
from .base import CACHES, CELERY_DIR, DATABASES, VAR_DIR

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AUTH_PASSWORD_VALIDATORS: list = []
MEDIA_ROOT = VAR_DIR / "media"
for folder in (VAR_DIR, CELERY_DIR / "queue", CELERY_DIR / "processed", CELERY_DIR / "results"):
    Path(folder).mkdir(parents=True, exist_ok=True)

# One test database per test process, so that several runs on one machine never collide.
_RUN = os.getpid()
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["NAME"] = VAR_DIR / "test.sqlite3"
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{_RUN}.sqlite3")}
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{_RUN}"}

# Jobs run in-process unless a test starts a real worker; on_commit still decides when.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
AXES_ENABLED = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Runs sharing one Redis keep their cache keys (throttle counters) apart, like their databases.
CACHES["default"]["KEY_PREFIX"] = f"test-{_RUN}"
