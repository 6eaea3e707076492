"""Converters for the iam.theriseunion.io kinds.

What a write does beyond the object itself (the escalation check of a user change, password hashing, group
membership, unbinding a deleted subject) is in ``iam.services``; the hooks here name those functions.
"""
from __future__ import annotations

import copy

from django.contrib.auth import password_validation
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count
from rest_framework import serializers

from edgeplatform import authz
from edgeplatform.resources import scopes
from edgeplatform.resources.converters import CategorySpecSerializer, Converter, LabelSelectorField, Parsed, register
from edgeplatform.resources.errors import cause
from edgeplatform.resources.kinds import AGE_COLUMN, KindInfo, label_path
from edgeplatform.resources.kinds import register as register_kind
from edgeplatform.resources.names import CLUSTER_LABEL, SCOPE_LABEL, SCOPE_VALUE_LABEL
from edgeplatform.resources.schemas import (
    COUNT,
    DATE_TIME,
    MEMBER_COUNT,
    POLICY_RULE,
    STRING,
    described,
    observed_state,
)
from iam import services
from iam.aggregation import aggregate_into
from iam.engine import engine, escalation
from iam.engine.rules import validate_rules
from iam.engine.visibility import Rows
from iam.models import (
    BUILTIN_LABEL,
    CATEGORY_LABEL,
    BindingSubject,
    Category,
    IAMRole,
    IAMRoleBinding,
    RoleTemplate,
    User,
    UserGroup,
)

GROUP = "iam.theriseunion.io"
#: actor names of the audit log that are not people (``system:<task>`` cannot be a user name anyway)
RESERVED_USER_NAMES = frozenset({"system", "anonymous"})
ROLE_LEVELS = ("platform", "cluster", "workspace", "nodegroup", "namespace", "node")
#: kubectl's columns for the scope labels of roles and bindings
SCOPE_COLUMN = {"name": "Scope", "type": "string", "jsonPath": label_path(SCOPE_LABEL)}
SCOPE_VALUE_COLUMN = {"name": "Scope-Value", "type": "string", "jsonPath": label_path(SCOPE_VALUE_LABEL)}


class RulesField(serializers.JSONField):
    """A list of Kubernetes PolicyRules with known verbs."""

    openapi_schema = {"type": "array", "items": POLICY_RULE}

    def to_internal_value(self, data):
        """Validate every rule, naming the rule and field at fault."""
        problems = validate_rules(data, "")
        if problems:
            by_field: dict[str, list[str]] = {}
            for where, message in problems:
                by_field.setdefault(where or "", []).append(message)
            if list(by_field) == [""]:
                raise serializers.ValidationError(by_field[""])
            raise serializers.ValidationError(by_field)
        return data


class UIPermissionsField(serializers.ListField):
    """uiPermissions such as ``platform/clusters.manage``."""

    # ``<level>/<resource>.<action>`` (``platform/clusters.manage``); the reference also wrote
    # ``workload/deployment/view`` and ``workload/deployment/*``, so any path of such words is taken.
    child = serializers.RegexField(r"^[A-Za-z0-9*][-A-Za-z0-9_.*/:]{0,252}$")


class I18nField(serializers.DictField):
    """A display string per language (``{"zh-CN": …, "en-US": …}``), as the reference writes them."""

    child = serializers.CharField(allow_blank=True)


class RoleTemplateSpecSerializer(serializers.Serializer):
    """RoleTemplate spec."""

    rules = RulesField(help_text="The PolicyRules the template grants.")
    uiPermissions = UIPermissionsField(required=False, help_text="Console permissions the template grants "
                                       "(<level>/<resource>.<view|create|manage>, e.g. platform/clusters.manage).")
    displayName = I18nField(required=False, help_text="The name shown in the console, per language (zh-CN, en-US).")
    description = I18nField(required=False, help_text="What the template is for, per language.")


class AggregationSerializer(serializers.Serializer):
    """Which templates a role merges."""

    templateNames = serializers.ListField(child=serializers.CharField(), required=False,
                                          help_text="RoleTemplates merged by name.")
    roleSelector = LabelSelectorField(required=False, help_text="RoleTemplates merged by label (e.g. "
                                      "iam.theriseunion.io/aggregate-to-viewer); a template change re-aggregates.")

    def to_internal_value(self, data):
        """⚠ The reference's docs also write a bare list of ``{name: …}``; take it as templateNames."""
        if isinstance(data, list):
            if not all(isinstance(item, dict) and isinstance(item.get("name"), str) for item in data):
                raise serializers.ValidationError("a list here must hold {name: <template>} items")
            data = {"templateNames": [item["name"] for item in data]}
        return super().to_internal_value(data)


class IAMRoleSpecSerializer(serializers.Serializer):
    """IAMRole spec (``aggregatedRoleTemplates`` is written by the platform and ignored on input)."""

    rules = RulesField(required=False, help_text="PolicyRules of the role's own, besides its templates'.")
    uiPermissions = UIPermissionsField(required=False, help_text="Console permissions of the role's own, "
                                       "besides its templates'.")
    displayName = I18nField(required=False, help_text="The name shown in the console, per language (zh-CN, en-US).")
    description = I18nField(required=False, help_text="What the role is for, per language.")
    aggregationRoleTemplates = AggregationSerializer(required=False, help_text="The RoleTemplates the role "
                                                     "merges: by name, by label selector, or both.")
    aggregatedRoleTemplates = serializers.ListField(child=serializers.CharField(), required=False,
                                                    help_text="The templates actually merged (written by the "
                                                              "platform; ignored when given).")

    def validate(self, attrs):
        """Drop the platform-written list; aggregation recomputes it."""
        attrs.pop("aggregatedRoleTemplates", None)
        return attrs


def _check_scope_labels(parsed: Parsed, problems: list, context: dict, *, required_value: bool) -> None:
    """Resolve the scope labels of a role or binding into ``parsed.extra`` (level, value, cluster, path).

    A scope the caller may not learn of is answered exactly as one that does not exist. A namespace or node named
    without its cluster is looked for among those the caller may learn of (so that a namesake in a hidden cluster
    changes nothing), and the cluster label it lives in is added, as the reference writes it where names repeat.
    """
    level = parsed.labels.get(SCOPE_LABEL, "")
    value = parsed.labels.get(SCOPE_VALUE_LABEL, "")
    cluster = parsed.labels.get(CLUSTER_LABEL, "")
    where = f"metadata.labels[{SCOPE_LABEL}]"
    if level not in ROLE_LEVELS:
        problems.append(cause(where, f"must be one of {', '.join(ROLE_LEVELS)}",
                              "FieldValueRequired" if not level else "FieldValueNotSupported"))
        return
    path = None
    if level == "platform":
        if value not in scopes.PLATFORM_VALUES:
            problems.append(cause(f"metadata.labels[{SCOPE_VALUE_LABEL}]", 'must be "global" for the platform'))
        path = scopes.PLATFORM
    elif value:
        user = context.get("user")
        path = authz.known_scope(user, level, value, cluster)
        if path is not None and not cluster and level in scopes.CLUSTER_QUALIFIED:
            cluster = parsed.labels[CLUSTER_LABEL] = scopes.cluster_of(path)
        if path is None:
            what = f'{level} "{value}"' + (f' in cluster "{cluster}"' if cluster else "")
            hint = "" if cluster or level not in scopes.CLUSTER_QUALIFIED else \
                f"; name the cluster with the label {CLUSTER_LABEL}"
            problems.append(cause(f"metadata.labels[{SCOPE_VALUE_LABEL}]", f"{what} not found{hint}",
                                  "FieldValueNotFound"))
    elif required_value:
        problems.append(cause(f"metadata.labels[{SCOPE_VALUE_LABEL}]", "the scope object is required",
                              "FieldValueRequired"))
    parsed.extra.update(level=level, value=value, cluster=cluster, path=path)


@register
class RoleTemplateConverter(Converter):
    """RoleTemplate ⇄ manifest."""

    model = RoleTemplate
    group, kind, plural, short_names = GROUP, "RoleTemplate", "roletemplates", ("rt",)
    spec_serializer = RoleTemplateSpecSerializer
    has_crd, categories = True, ("iam",)
    printer_columns = (SCOPE_COLUMN, {"name": "Category", "type": "string", "jsonPath": label_path(CATEGORY_LABEL)},
                       AGE_COLUMN)

    def clean(self, parsed: Parsed, instance, problems: list, context: dict) -> None:
        """A scope label, when present, names a level."""
        level = parsed.labels.get(SCOPE_LABEL)
        if level is not None and level not in (*ROLE_LEVELS, "project"):
            problems.append(cause(f"metadata.labels[{SCOPE_LABEL}]", f"must be one of {', '.join(ROLE_LEVELS)}",
                                  "FieldValueNotSupported"))

    def admit(self, parsed: Parsed, instance, problems: list, context: dict) -> None:
        """A template's rules flow into every role that aggregates it, wherever it is bound: only rules the caller
        holds platform-wide may be added."""
        before = (instance.spec or {}).get("rules") or [] if instance is not None else []
        added = [rule for rule in parsed.spec.get("rules") or [] if rule not in before]
        escalation.forbid_escalation(context.get("user"), added, [scopes.PLATFORM], "spec.rules", self, parsed.name)

    def status_out(self, obj):
        """Templates have no status."""
        return None

    def visible_extra(self, user, grants, verb: str) -> Rows:
        """Whoever may read templates somewhere sees the templates of that level and the levels below it."""
        levels = {scopes.level_of(p) for p in grants.paths_allowing(verb, self.group, self.plural)}
        return Rows(**{f"labels__{SCOPE_LABEL}": {lvl for level in levels for lvl in _levels_from(level)}})


def _levels_from(level: str) -> tuple[str, ...]:
    return {"cluster": ("cluster", "workspace", "nodegroup", "namespace", "node"),
            "workspace": ("workspace", "namespace"), "nodegroup": ("nodegroup", "node"),
            "namespace": ("namespace",), "node": ("node",)}.get(level, ())


@register
class IAMRoleConverter(Converter):
    """IAMRole ⇄ manifest; a role with a scope value is pinned to that scope, one without is a prototype."""

    model = IAMRole
    group, kind, plural, short_names = GROUP, "IAMRole", "iamroles", ("iamr",)
    spec_serializer = IAMRoleSpecSerializer
    status_schema = observed_state("IAMRole", memberCount=MEMBER_COUNT)
    has_crd, categories = True, ("iam",)
    printer_columns = (SCOPE_COLUMN, SCOPE_VALUE_COLUMN,
                       {"name": "Members", "type": "integer", "jsonPath": ".status.memberCount"}, AGE_COLUMN)

    def clean(self, parsed: Parsed, instance, problems: list, context: dict) -> None:
        """Scope labels must name a level (and, if given, a scope object the caller may learn of)."""
        _check_scope_labels(parsed, problems, context, required_value=False)

    def admit(self, parsed: Parsed, instance, problems: list, context: dict) -> None:
        """A bound role keeps its scope; new rules must be held by the caller where the role applies."""
        if instance is not None and (instance.scope_level, instance.scope_value) != \
                (parsed.extra["level"], parsed.extra["value"] if parsed.extra["level"] != "platform"
                 else instance.scope_value):
            if instance.bindings.exists():
                problems.append(cause(f"metadata.labels[{SCOPE_LABEL}]",
                                      "the scope of a role that is bound cannot change", "FieldValueForbidden"))
        if not problems and not escalation.exempt(context.get("user")):
            self._forbid_escalation(parsed, instance, context["user"])

    def _forbid_escalation(self, parsed: Parsed, instance, user) -> None:
        """New rules must be held by the caller where the role applies: its own scope and where it is bound."""
        draft = IAMRole(name=parsed.name, spec=copy.deepcopy(parsed.spec), annotations=parsed.annotations,
                        effective_rules=[], effective_ui=[])
        aggregate_into(draft)
        before = instance.effective_rules if instance is not None else []
        added = [rule for rule in draft.effective_rules if rule not in before]
        paths = set()
        if parsed.extra["level"] == "platform" or parsed.extra["value"]:
            paths.add(parsed.extra["path"] or scopes.PLATFORM)
        if instance is not None:
            paths.update(instance.bindings.values_list("scope_path", flat=True))
        escalation.forbid_escalation(user, added, paths, "spec.rules", self, parsed.name)

    def assign(self, obj, parsed: Parsed) -> None:
        """Scope columns from the labels, and the aggregation (run again when the row is saved)."""
        super().assign(obj, parsed)
        obj.scope_level = parsed.extra["level"]
        obj.scope_value = "" if parsed.extra["level"] == "platform" else parsed.extra["value"]
        obj.scope_cluster = parsed.extra["cluster"]
        obj.builtin = parsed.labels.get(BUILTIN_LABEL) == "true"
        # the platform-written spec.aggregatedRoleTemplates and effective rules are part of the row: without them
        # a manifest sent back unchanged would look like a change
        aggregate_into(obj)

    def scope_path_for(self, parsed: Parsed, instance=None) -> str:
        """A pinned role lives in its scope; prototypes are platform objects."""
        return parsed.extra["path"] or scopes.PLATFORM

    def status_out(self, obj):
        """``memberCount``: distinct subjects bound to this role."""
        count = getattr(obj, "_member_count", None)
        if count is None:
            count = obj.bindings.values("subject_rows__kind", "subject_rows__name") \
                .exclude(subject_rows__name=None).distinct().count()
        return {**(obj.status or {}), "memberCount": count}

    def visible_extra(self, user, grants, verb: str) -> Rows:
        """Prototypes are visible to whoever may read roles somewhere at their level (or a level above it)."""
        levels = {scopes.level_of(p) for p in grants.paths_allowing(verb, self.group, self.plural)}
        return Rows(scope_value={""}, scope_level={lvl for level in levels for lvl in _levels_from(level)})


def _may_learn_of_role(user, role: IAMRole, level: str, path: str) -> bool:
    """May ``user``, who may write bindings at ``path``, learn that ``role`` exists?

    Yes when they may read it, and when it is one that can be bound right there (a prototype of that level, or a
    role pinned to that very scope): those are the roles the administrator of bindings at a scope hands out. A
    role pinned to a scope hidden from them is answered as a missing one, its scope unnamed.
    """
    if user is None or engine.allowed(user, "get", GROUP, "iamroles", role.scope_path, role.name, obj=role):
        return True
    return role.scope_level == level and (role.is_prototype or role.scope_path == path)


def member_counts(roles: list) -> None:
    """Fill ``_member_count`` on many roles with one query (list views)."""

    counts = dict(BindingSubject.objects.filter(binding__role__in=roles).values("binding__role")
                  .annotate(n=Count("name", distinct=True)).values_list("binding__role", "n"))
    for role in roles:
        role._member_count = counts.get(role.pk, 0)


class RoleRefSerializer(serializers.Serializer):
    """The role a binding grants (the reference's samples sometimes leave out apiGroup)."""

    apiGroup = serializers.ChoiceField(choices=[GROUP], default=GROUP, help_text="The role's API group.")
    kind = serializers.ChoiceField(choices=["IAMRole"], help_text="The role's kind.")
    name = serializers.CharField(help_text="The IAMRole granted; it must be at the binding's scope.")


class SubjectSerializer(serializers.Serializer):
    """Who is bound."""

    kind = serializers.ChoiceField(choices=["User", "Group", "ServiceAccount"], help_text="What the subject is.")
    name = serializers.CharField(help_text="The user's, group's or service account's name.")
    apiGroup = serializers.CharField(required=False, allow_blank=True,
                                     help_text="The subject's API group (iam.theriseunion.io for users and groups).")
    namespace = serializers.CharField(required=False, allow_blank=True,
                                      help_text="The service account's namespace (service accounts only).")

    def validate(self, attrs):
        """Service accounts live in a namespace."""
        if attrs["kind"] == "ServiceAccount" and not attrs.get("namespace"):
            raise serializers.ValidationError({"namespace": "required for a ServiceAccount subject"})
        return attrs


class IAMRoleBindingSpecSerializer(serializers.Serializer):
    """IAMRoleBinding spec."""

    roleRef = RoleRefSerializer(help_text="The role granted (immutable in effect: bind another role with another "
                                          "binding).")
    subjects = SubjectSerializer(many=True, required=False, help_text="Who is granted the role.")


@register
class IAMRoleBindingConverter(Converter):
    """IAMRoleBinding ⇄ manifest; the scope lives only in labels."""

    model = IAMRoleBinding
    group, kind, plural, short_names = GROUP, "IAMRoleBinding", "iamrolebindings", ("iamrb",)
    spec_serializer = IAMRoleBindingSpecSerializer
    has_crd, categories = True, ("iam",)
    printer_columns = ({"name": "Role", "type": "string", "jsonPath": ".spec.roleRef.name"}, SCOPE_COLUMN,
                       SCOPE_VALUE_COLUMN, AGE_COLUMN)

    def clean(self, parsed: Parsed, instance, problems: list, context: dict) -> None:
        """The scope must be one the caller may learn of."""
        _check_scope_labels(parsed, problems, context, required_value=True)

    def admit(self, parsed: Parsed, instance, problems: list, context: dict) -> None:
        """The role must exist, be one the caller may learn of and fit the scope (pinned roles bind only at their
        scope); binding (or adding subjects) hands out its rules there, so the caller must hold them."""
        user = context.get("user")
        level, path = parsed.extra["level"], parsed.extra["path"]
        role_name = parsed.spec["roleRef"]["name"]
        role = IAMRole.objects.filter(name=role_name).first()
        if role is not None and not _may_learn_of_role(user, role, level, path):
            role = None  # answered exactly as a role that does not exist
        if role is None:
            problems.append(cause("spec.roleRef.name", f'IAMRole "{role_name}" not found', "FieldValueNotFound"))
            return
        if instance is not None and instance.role_id != role.pk:
            problems.append(cause("spec.roleRef", "is immutable; delete and re-create the binding",
                                  "FieldValueForbidden"))
        elif role.scope_level != level:
            problems.append(cause("spec.roleRef.name", f'role "{role.name}" is a {role.scope_level} role and '
                                                       f"cannot be bound at {level} scope"))
        elif not role.is_prototype and role.scope_path != path:
            home = f'scope "{role.scope_path}"' if authz.may_know_scope(user, role.scope_path) else "another scope"
            problems.append(cause("spec.roleRef.name", f'role "{role.name}" belongs to {home} '
                                                       f'and cannot be bound at "{path}"'))
        if problems:
            return
        escalation.forbid_escalation(user, role.effective_rules, [path], "spec.roleRef.name", self, parsed.name)
        parsed.extra["role"] = role

    def assign(self, obj, parsed: Parsed) -> None:
        """Role and scope columns; the subject index follows on save."""
        super().assign(obj, parsed)
        obj.role = parsed.extra["role"]
        obj.scope_level = parsed.extra["level"]
        obj.scope_value = parsed.extra["value"]
        obj.scope_cluster = parsed.extra["cluster"]

    def scope_path_for(self, parsed: Parsed, instance=None) -> str:
        """A binding lives at the scope it grants."""
        return parsed.extra["path"]

    def status_out(self, obj):
        """Bindings have no status."""
        return None


class GroupNameField(serializers.RegexField):
    """A group name as a free string, as in the reference and in Kubernetes (``system:admin``, ``Domain Users``):
    1–150 characters (the auth group's limit), no control characters."""

    def __init__(self, **kwargs):
        super().__init__(r"^[^\x00-\x1f\x7f]+$", max_length=150, **kwargs)


class UserSpecSerializer(serializers.Serializer):
    """User spec; passwords are write-only."""

    email = serializers.EmailField(required=False, allow_blank=True, help_text="The user's e-mail address.")
    displayName = serializers.CharField(required=False, allow_blank=True, max_length=128,
                                        help_text="The name shown in the console.")
    description = serializers.CharField(required=False, allow_blank=True, max_length=1024,
                                        help_text="A note about the user.")
    lang = serializers.CharField(required=False, allow_blank=True, max_length=16,
                                 help_text="The console language (zh-CN, en-US).")
    groups = serializers.ListField(child=GroupNameField(), required=False,
                                   help_text="The groups the user is a member of.")
    password = serializers.CharField(required=False, write_only=True, trim_whitespace=False,
                                     help_text="A new password in plain text: hashed on arrival, never shown.")
    encryptedPassword = serializers.RegexField(r"^\$2[abxy]\$\d\d\$[./A-Za-z0-9]{53}$", required=False,
                                               write_only=True, help_text="The password as a bcrypt hash "
                                                                          "(write-only).")


@register
class UserConverter(Converter):
    """User ⇄ manifest. ``status.state`` (Active|Disabled) is honoured on input, as in the reference."""

    model = User
    group, kind, plural = GROUP, "User", "users"
    spec_serializer = UserSpecSerializer
    status_schema = observed_state(
        "User",
        state={"type": "string", "enum": ["Active", "Disabled"],
               "description": "Active users may log in; Disabled ones may not (honoured when written)."},
        reason=described("Why the user is in this state.", STRING),
        lastLoginTime=described("When the user last logged in.", DATE_TIME))
    has_crd, categories = True, ("iam",)
    printer_columns = ({"name": "Email", "type": "string", "jsonPath": ".spec.email"},
                       {"name": "State", "type": "string", "jsonPath": ".status.state"}, AGE_COLUMN)

    def parse(self, manifest, instance=None, name=None, context=None):
        """Also read the desired state from ``status.state`` (a status that is no object is ignored)."""
        state = self.status_in(manifest).get("state")
        if state not in (None, "Active", "Disabled"):
            from edgeplatform.resources.errors import invalid

            metadata = manifest.get("metadata") if isinstance(manifest, dict) else None
            name_given = metadata.get("name") if isinstance(metadata, dict) else None
            raise invalid(self.kind, name or (name_given if isinstance(name_given, str) else ""),
                          [cause("status.state", "must be Active or Disabled", "FieldValueNotSupported")], self.group)
        parsed = super().parse(manifest, instance, name, context)
        parsed.extra["state"] = state
        return parsed

    def clean(self, parsed: Parsed, instance, problems: list, context: dict) -> None:
        """Names the platform uses for itself are taken; a password must pass the validators."""
        if instance is None and parsed.name in RESERVED_USER_NAMES:
            problems.append(cause("metadata.name", f'"{parsed.name}" is reserved: the audit log uses it for the '
                                                   "platform itself", "FieldValueForbidden"))
        # group names are free strings (a group need not exist yet); duplicates mean nothing
        parsed.extra["groups"] = sorted(set(parsed.spec.get("groups") or []))
        password = parsed.spec.get("password")
        if password:
            try:
                password_validation.validate_password(password, instance or User(name=parsed.name))
            except DjangoValidationError as exc:
                problems.append(cause("spec.password", " ".join(exc.messages)))

    def admit(self, parsed: Parsed, instance, problems: list, context: dict) -> None:
        """No one takes over a user or joins a group that holds more than they do (``forbid_user_escalation``)."""
        services.forbid_user_escalation(context.get("user"), instance, parsed.spec, parsed.extra.get("state"), self,
                                        parsed.name)

    def changes_outside_row(self, obj, parsed: Parsed) -> bool:
        """Membership is stored beside the row: a change of groups alone is a write."""
        return set(obj.groups.values_list("name", flat=True)) != set(parsed.extra["groups"])

    def assign(self, obj, parsed: Parsed) -> None:
        """Columns, password hash and the desired state; spec keeps no secret."""
        spec = dict(parsed.spec)
        password, encrypted = spec.pop("password", None), spec.pop("encryptedPassword", None)
        # stored as the manifest shows them (spec_out), so that a manifest sent back unchanged is no change
        spec.update(email=spec.get("email", ""), groups=parsed.extra["groups"])
        super().assign(obj, Parsed(parsed.name, parsed.labels, parsed.annotations, spec))
        obj.email = spec.get("email", "")
        services.set_credentials(obj, password, encrypted)
        if parsed.extra.get("state"):
            obj.is_active = parsed.extra["state"] == "Active"

    def after_save(self, obj, parsed: Parsed, created: bool) -> None:
        """Group membership follows ``spec.groups`` (``set_membership``)."""
        services.set_membership(obj, parsed.extra["groups"])

    def spec_out(self, obj) -> dict:
        """Spec with the current groups and email."""
        spec = dict(obj.spec or {})
        spec["email"] = obj.email
        spec["groups"] = sorted(g.name for g in obj.groups.all())
        return spec

    def status_out(self, obj):
        """state, reason and lastLoginTime."""
        status = {**(obj.status or {}), "state": "Active" if obj.is_active else "Disabled"}
        if obj.last_login:
            status["lastLoginTime"] = obj.last_login.strftime("%Y-%m-%dT%H:%M:%SZ")
        return status

    def before_delete(self, obj) -> None:
        """A deleted user leaves every binding (``unbind``)."""
        services.unbind("User", obj.name)

    def visible_extra(self, user, grants, verb: str) -> Rows:
        """Everyone may read their own user (the engine asks this for reading verbs only)."""
        return Rows(pk={user.pk})


class GroupSpecSerializer(serializers.Serializer):
    """Group spec."""

    displayName = serializers.CharField(required=False, allow_blank=True, max_length=128,
                                        help_text="The name shown in the console.")
    description = serializers.CharField(required=False, allow_blank=True, max_length=1024,
                                        help_text="What the group is for.")


@register
class UserGroupConverter(Converter):
    """Group ⇄ manifest (members are set on users, ``spec.groups``, as in the reference)."""

    model = UserGroup
    group, kind, plural = GROUP, "Group", "groups"
    spec_serializer = GroupSpecSerializer
    status_schema = observed_state("Group", memberCount=described("Users in the group.", COUNT))  # no CRD

    def assign(self, obj, parsed: Parsed) -> None:
        """Create the underlying auth group on first save."""
        super().assign(obj, parsed)
        if obj.group_id is None:
            obj.group, _ = Group.objects.get_or_create(name=parsed.name)

    def before_delete(self, obj) -> None:
        """A deleted group leaves every binding (``unbind``)."""
        services.unbind("Group", obj.name)

    def after_delete(self, obj) -> None:
        """The auth group underneath goes too (``delete_auth_group``)."""
        services.delete_auth_group(obj)

    def status_out(self, obj):
        """memberCount."""
        return {"memberCount": obj.group.user_set.count()}


@register
class CategoryConverter(Converter):
    """Category ⇄ manifest (no status)."""

    model = Category
    group, kind, plural = GROUP, "Category", "categories"
    spec_serializer = CategorySpecSerializer
    has_crd, categories = True, ("iam",)
    printer_columns = ({"name": "Icon", "type": "string", "jsonPath": ".spec.icon", "priority": 1}, AGE_COLUMN)

    def status_out(self, obj):
        """Categories have no status."""
        return None


# --- LoginRecord (REFERENCE-API): a CRD without a converter ---------------------------------------------------

#: LoginRecord's spec as the reference declares it; the platform has no serializer for it: it records logins in its
#: audit log, and the CRD lets a host cluster keep records written elsewhere. Nothing syncs it.
LOGIN_RECORD_SPEC = {
    "type": "object", "required": ["type", "provider", "sourceIP", "success", "reason"],
    "properties": {
        "type": described("How the user authenticated: Password, OAuth or Token.", STRING),
        "provider": described("The identity provider that authenticated the user (local, LDAP, an OIDC "
                              "issuer, …).", STRING),
        "sourceIP": described("The address the login came from.", STRING),
        "success": {"type": "boolean", "description": "Whether the login succeeded."},
        "reason": described("Why the login failed (or how it succeeded).", STRING),
        "userAgent": described("The client's User-Agent header.", STRING),
    },
}
LOGIN_RECORD = register_kind(KindInfo(
    GROUP, "LoginRecord", "loginrecords", "Cluster", None,
    {"type": "object", "description": "LoginRecords have no observed state (the reference declares an empty "
                                      "status)."},
    ({"name": "Type", "type": "string", "jsonPath": ".spec.type"},
     {"name": "Provider", "type": "string", "jsonPath": ".spec.provider"},
     {"name": "From", "type": "string", "jsonPath": ".spec.sourceIP"},
     {"name": "Success", "type": "string", "jsonPath": ".spec.success"},
     {"name": "Reason", "type": "string", "jsonPath": ".spec.reason"},
     AGE_COLUMN), categories=("iam",), declared_spec=LOGIN_RECORD_SPEC))
