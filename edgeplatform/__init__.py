"""Edge Platform: a control plane for fleets of edge Kubernetes clusters."""
from edgeplatform.celery import app as celery_app

__all__ = ["celery_app"]
