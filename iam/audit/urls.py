"""URLs of the audit log (in the iam.theriseunion.io group)."""
from django.urls import re_path

from iam.audit.api import AuditEventDetailView, AuditEventListView

PREFIX = r"^oapis/iam.theriseunion.io/v1alpha1/auditevents"

urlpatterns = [
    re_path(PREFIX + r"/?$", AuditEventListView.as_view(), name="auditevents-list"),
    re_path(PREFIX + r"/(?P<name>[0-9a-z-]+)/?$", AuditEventDetailView.as_view(), name="auditevents-detail"),
]
