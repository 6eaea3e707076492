"""IAM objects: User, UserGroup, Category, RoleTemplate, IAMRole, IAMRoleBinding, tokens and the grant change log."""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import Group, PermissionsMixin
from django.db import models
from django.utils import timezone

from edgeplatform.resources.models import ManifestModel, ScopedQuerySet
from edgeplatform.resources.names import CLUSTER_LABEL, SCOPE_LABEL, SCOPE_VALUE_LABEL  # noqa: F401  (iam's own)

BUILTIN_LABEL = "iam.theriseunion.io/builtin"
CATEGORY_LABEL = "iam.theriseunion.io/category"
DEPENDENCIES_ANNOTATION = "iam.theriseunion.io/dependencies"

__all__ = [
    "APIClient",
    "AccessToken",
    "BindingSubject",
    "Category",
    "GrantChange",
    "IAMRole",
    "IAMRoleBinding",
    "RefreshToken",
    "RoleTemplate",
    "User",
    "UserGroup",
]


class UserManager(BaseUserManager.from_queryset(ScopedQuerySet)):
    """Creates users by name; superusers are platform admins."""

    use_in_migrations = True

    def create_user(self, name, email="", password=None, **extra):
        """A user with a hashed password (None: an unusable one)."""
        user = self.model(name=name, email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, name, email="", password=None, **extra):
        """A platform admin."""
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(name, email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin, ManifestModel):
    """A person or program that logs in. ``name`` is the Kubernetes-style user name."""

    email = models.EmailField(blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    USERNAME_FIELD = "name"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["email"]
    objects = UserManager()

    class Meta(ManifestModel.Meta):
        constraints = [models.UniqueConstraint(fields=["name"], name="user_name_unique")]

    @property
    def username(self) -> str:
        """Django's name for the login name."""
        return self.name


class UserGroup(ManifestModel):
    """A group of users (a Django auth Group underneath, so guardian and ModelBackend see it)."""

    group = models.OneToOneField(Group, on_delete=models.CASCADE, related_name="meta")

    class Meta(ManifestModel.Meta):
        constraints = [models.UniqueConstraint(fields=["name"], name="usergroup_name_unique")]


class Category(ManifestModel):
    """A category that role templates are grouped by in the console."""

    class Meta(ManifestModel.Meta):
        verbose_name_plural = "categories"
        constraints = [models.UniqueConstraint(fields=["name"], name="category_name_unique")]


class RoleTemplate(ManifestModel):
    """A reusable, named set of rules and uiPermissions that roles aggregate."""

    class Meta(ManifestModel.Meta):
        constraints = [models.UniqueConstraint(fields=["name"], name="roletemplate_name_unique")]

    @property
    def level(self) -> str:
        """The scope level this template is meant for."""
        return self.labels.get(SCOPE_LABEL, "")

    @property
    def dependencies(self) -> list[str]:
        """Templates this one needs (annotation, comma list)."""
        raw = self.annotations.get(DEPENDENCIES_ANNOTATION, "")
        return [name.strip() for name in raw.split(",") if name.strip()]


class IAMRole(ManifestModel):
    """A role at one level: own rules plus the rules of the templates it aggregates.

    ``effective_rules`` / ``effective_ui`` are computed data with one writer
    (``iam.aggregation``); the engine reads only them.
    """

    scope_level = models.CharField(max_length=16, db_index=True)
    scope_value = models.CharField(max_length=253, blank=True, db_index=True)
    scope_cluster = models.CharField(max_length=63, blank=True)
    builtin = models.BooleanField(default=False)
    effective_rules = models.JSONField(default=list, blank=True)
    effective_ui = models.JSONField(default=list, blank=True)
    #: digest of the effective rules and uiPermissions: compiled rule sets are cached under it
    digest = models.CharField(max_length=64, blank=True)

    class Meta(ManifestModel.Meta):
        verbose_name = "IAM role"
        constraints = [models.UniqueConstraint(fields=["name"], name="iamrole_name_unique")]

    def save(self, *args, **kwargs):
        """Aggregate before every write, so effective rules never lag the spec."""
        from iam.aggregation import aggregate_into

        aggregate_into(self)
        super().save(*args, **kwargs)

    @property
    def is_prototype(self) -> bool:
        """A role without a scope value (or the platform's ``global``) binds anywhere at its level."""
        return self.scope_value in ("", "global", "platform")


class IAMRoleBinding(ManifestModel):
    """Subjects bound to a role at one scope; the scope lives in labels, the path in ``scope_path``."""

    role = models.ForeignKey(IAMRole, on_delete=models.CASCADE, related_name="bindings")
    scope_level = models.CharField(max_length=16, db_index=True)
    scope_value = models.CharField(max_length=253, blank=True)
    scope_cluster = models.CharField(max_length=63, blank=True)

    class Meta(ManifestModel.Meta):
        verbose_name = "IAM role binding"
        constraints = [models.UniqueConstraint(fields=["name"], name="iamrolebinding_name_unique")]

    def save(self, *args, **kwargs):
        """Keep the subject index in step with ``spec.subjects``."""
        super().save(*args, **kwargs)
        wanted = {(s.get("kind", ""), s.get("name", ""), s.get("namespace", "") or "")
                  for s in (self.spec or {}).get("subjects") or []}
        have = {(s.kind, s.name, s.namespace): s.pk for s in self.subject_rows.all()}
        stale = [pk for key, pk in have.items() if key not in wanted]
        if stale:
            BindingSubject.objects.filter(pk__in=stale).delete()
        BindingSubject.objects.bulk_create(
            [BindingSubject(binding=self, kind=k, name=n, namespace=ns) for k, n, ns in wanted - set(have)])


class BindingSubject(models.Model):
    """One subject of a binding, indexed so a user's bindings are one query."""

    binding = models.ForeignKey(IAMRoleBinding, on_delete=models.CASCADE, related_name="subject_rows")
    kind = models.CharField(max_length=32)
    name = models.CharField(max_length=253)
    namespace = models.CharField(max_length=253, blank=True)

    class Meta:
        indexes = [models.Index(fields=["kind", "name"], name="bindingsubject_lookup")]


class GrantChange(models.Model):
    """The change log every process polls: a row per change to who may do what.

    ``user`` null means the change may affect anyone (a role or template changed).
    Written in the transaction of the change itself, so no reader sees the log entry
    before the data it announces.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             db_constraint=False, related_name="+")
    created = models.DateTimeField(default=timezone.now, db_index=True)


class AccessToken(models.Model):
    """A bearer token for the API; only its SHA-256 is stored."""

    key_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_tokens")
    name = models.CharField(max_length=128, blank=True)
    grant_type = models.CharField(max_length=32, default="password")
    created = models.DateTimeField(default=timezone.now)
    #: null: a personal token that never expires
    expires = models.DateTimeField(db_index=True, null=True, blank=True)
    revoked = models.DateTimeField(null=True, blank=True)
    last_used = models.DateTimeField(null=True, blank=True)
    #: the registered client the token was issued to (client-credentials and its refreshes)
    client = models.ForeignKey("APIClient", null=True, blank=True, on_delete=models.CASCADE, related_name="+")

    @property
    def is_valid(self) -> bool:
        """Neither expired nor revoked."""
        return self.revoked is None and (self.expires is None or self.expires > timezone.now())


class RefreshToken(models.Model):
    """A single-use refresh token (only its SHA-256 is stored).

    Refreshing rotates: the used token is revoked and a new one of the same ``family`` is issued.
    Presenting an already-rotated token again revokes the whole family (the token leaked).
    """

    key_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="refresh_tokens")
    client = models.ForeignKey("APIClient", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    access_token = models.ForeignKey(AccessToken, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    family = models.CharField(max_length=32, db_index=True)
    created = models.DateTimeField(default=timezone.now)
    expires = models.DateTimeField(db_index=True)
    revoked = models.DateTimeField(null=True, blank=True)
    #: set when the token was used to refresh (as opposed to revoked by a person or a disable)
    rotated = models.BooleanField(default=False)

    @property
    def is_valid(self) -> bool:
        """Neither expired nor revoked."""
        return self.revoked is None and self.expires > timezone.now()


class APIClient(models.Model):
    """A registered program that gets tokens with the client-credentials grant.

    The client acts as ``user`` (a service-account user): the bindings naming that user decide what the
    client may do, and disabling the user stops the client. Only the SHA-256 of the secret is stored: the
    secret is 256 random bits, so a slow password hash would add cost without adding safety.
    """

    client_id = models.CharField(max_length=128, unique=True)
    secret_hash = models.CharField(max_length=64)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_clients")
    description = models.CharField(max_length=256, blank=True)
    created = models.DateTimeField(default=timezone.now)
    last_used = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API client"

    def __str__(self) -> str:
        return self.client_id
