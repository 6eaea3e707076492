"""URLs of app.theriseunion.io: AppCategories, Applications, ApplicationVersions and ApplicationDeployments, and the
actions on versions and deployments (``appstore.api.actions``: review, deprecate, rollback)."""
from django.db.models import prefetch_related_objects

from appstore.api import actions
from appstore.manifests import (
    AppCategoryConverter,
    ApplicationConverter,
    ApplicationDeploymentConverter,
    ApplicationVersionConverter,
)
from edgeplatform.resources.api import ManifestViewSet, manifest_urls, manifest_viewset

__all__ = ["urlpatterns"]


class RelatedViewSet(ManifestViewSet):
    """A page's related rows are read at once (the converter's ``related``)."""

    def prefetch(self, rows):
        """Avoid a query per row for what ``to_manifest`` reads."""
        prefetch_related_objects(rows, *self.converter.related)


urlpatterns = [
    *actions.urlpatterns,
    *manifest_urls(AppCategoryConverter()),
    *manifest_urls(ApplicationConverter(), manifest_viewset(ApplicationConverter(), RelatedViewSet)),
    *manifest_urls(ApplicationVersionConverter(), manifest_viewset(ApplicationVersionConverter(), RelatedViewSet)),
    *manifest_urls(ApplicationDeploymentConverter(),
                   manifest_viewset(ApplicationDeploymentConverter(), RelatedViewSet)),
]
