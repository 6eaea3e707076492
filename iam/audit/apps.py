"""App config of the audit log (label ``audit``)."""
from django.apps import AppConfig


class AuditConfig(AppConfig):
    """The audit log: hash-chained events of every mutation, denied request and login."""

    name = "iam.audit"
    #: the app's URLs, included by the project (``edgeplatform.urls``)
    api_urls = "iam.audit.urls"
    label = "audit"
    verbose_name = "Audit log"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        """Listen to the write path, logins, lockouts and tasks."""
        from edgeplatform import auditing
        from iam import audit
        from iam.audit import receivers

        receivers.connect()
        auditing.register(audit)
