"""The Celery application: tasks of every app, queues and the beat schedule."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "edgeplatform.settings")

app = Celery("edgeplatform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
