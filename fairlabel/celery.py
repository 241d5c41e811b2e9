import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fairlabel.settings.base")

app = Celery("fairlabel")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(["labeling.importing", "labeling.exporting", "labeling.jobs"])


@app.task(name="fairlabel.ping")
def ping(*, value: int) -> dict:
    """A round trip that proves a worker is consuming the broker."""
    return {"pong": value + 1, "pid": os.getpid()}
