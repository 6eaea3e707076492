"""URLs of iam.theriseunion.io, and of logging in with OAuth (``/oauth/token``, ``/oauth/revoke``)."""
from django.urls import path, re_path

from edgeplatform.resources.api import ManifestViewSet, manifest_urls, manifest_viewset
from iam.api.access_review import SubjectAccessReviewView
from iam.api.auth import RevokeView, TokenView
from iam.api.lockouts import LockoutDetailView, LockoutListView
from iam.api.user_tokens import UserTokenDetailView, UserTokenListView
from iam.manifests import (
    CategoryConverter,
    IAMRoleBindingConverter,
    IAMRoleConverter,
    RoleTemplateConverter,
    UserConverter,
    UserGroupConverter,
    member_counts,
)


class IAMRoleViewSet(ManifestViewSet):
    """Roles: member counts for a whole page in one query."""

    def prefetch(self, rows):
        """Fill memberCount for every row."""
        member_counts(rows)


class UserViewSet(ManifestViewSet):
    """Users: groups for a whole page in one query."""

    def prefetch(self, rows):
        """Load every row's groups at once."""
        from django.db.models import prefetch_related_objects

        prefetch_related_objects(rows, "groups")


class GroupViewSet(ManifestViewSet):
    """Groups: member counts need the auth group."""

    def prefetch(self, rows):
        """Load the auth groups at once."""
        from django.db.models import prefetch_related_objects

        prefetch_related_objects(rows, "group__user_set")


urlpatterns = [
    *manifest_urls(RoleTemplateConverter()),
    *manifest_urls(IAMRoleConverter(), manifest_viewset(IAMRoleConverter(), IAMRoleViewSet)),
    *manifest_urls(IAMRoleBindingConverter()),
    *manifest_urls(UserConverter(), manifest_viewset(UserConverter(), UserViewSet)),
    *manifest_urls(UserGroupConverter(), manifest_viewset(UserGroupConverter(), GroupViewSet)),
    *manifest_urls(CategoryConverter()),
    re_path(r"^oapis/iam.theriseunion.io/v1alpha1/subjectaccessreviews/?$", SubjectAccessReviewView.as_view(),
            name="subjectaccessreviews"),
    re_path(r"^oapis/iam.theriseunion.io/v1alpha1/lockouts/?$", LockoutListView.as_view(), name="lockouts"),
    re_path(r"^oapis/iam.theriseunion.io/v1alpha1/lockouts/(?P<name>[^/]+)/?$", LockoutDetailView.as_view(),
            name="lockout"),
    re_path(r"^oapis/iam.theriseunion.io/v1alpha1/users/(?P<name>[^/]+)/tokens/?$", UserTokenListView.as_view(),
            name="user-tokens"),
    re_path(r"^oapis/iam.theriseunion.io/v1alpha1/users/(?P<name>[^/]+)/tokens/(?P<token_id>[0-9]+)/?$",
            UserTokenDetailView.as_view(), name="user-token"),
    path("oauth/token", TokenView.as_view(), name="oauth-token"),
    path("oauth/revoke", RevokeView.as_view(), name="oauth-revoke"),
]
