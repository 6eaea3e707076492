"""What the app store's console pages share: an application's display name and description, category headings,
the latest version, review and phase badges, and the engine's answers the buttons depend on."""
from __future__ import annotations

from django.db.models import Q
from django.db.models.fields.json import KeyTextTransform

from appstore import review, versions
from appstore.models import AppCategory, Application, ApplicationDeployment, ApplicationVersion
from edgeplatform.console import access
from edgeplatform.resources.converters import registered
from edgeplatform.resources.names import DESCRIPTION_ANNOTATION, DISPLAY_NAME_ANNOTATION

__all__ = [
    "PHASE_BADGES",
    "REVIEW_BADGES",
    "UI",
    "category_titles",
    "description",
    "display_name",
    "latest",
    "may_review",
    "search",
    "version_state",
]

#: badge class of a version's state and a deployment's or topology's phase (``static/console/console.css``)
REVIEW_BADGES = {"Pending": "busy", "Approved": "ok", "Rejected": "error", "Deprecated": "off"}
PHASE_BADGES = {"Running": "ok", "Progressing": "busy", "Pending": "wait", "Degraded": "error", "Failed": "error",
                "Deleting": "busy", "Missing": "error", "Unreachable": "error"}
#: the uiPermissions of the app store's pages: by kind, those that show the page and those that show its buttons
UI = {
    "applications": {"view": ("platform/appstore.view", "workspace/applications.view"),
                     "manage": ("platform/appstore.manage", "workspace/applications.manage")},
    "deployments": {"view": ("workspace/applications.view", "project/appdeployments.view",
                             "nodegroup/deployments.view"),
                    "manage": ("workspace/applications.manage", "project/appdeployments.manage",
                               "nodegroup/deployments.manage")},
}
#: the language a category's i18n name is shown in first, then any
LANGUAGES = ("en-US", "en")


def display_name(app: Application) -> str:
    """The application's display name annotation, else its name."""
    return (app.annotations or {}).get(DISPLAY_NAME_ANNOTATION) or app.name


def description(app: Application) -> str:
    """The application's description annotation."""
    return (app.annotations or {}).get(DESCRIPTION_ANNOTATION) or ""


def search(rows, text: str):
    """Applications whose name, display name or description holds ``text`` (case-insensitive)."""
    text = (text or "").strip()
    if not text:
        return rows
    rows = rows.annotate(_display=KeyTextTransform(DISPLAY_NAME_ANNOTATION, "annotations"),
                         _description=KeyTextTransform(DESCRIPTION_ANNOTATION, "annotations"))
    return rows.filter(Q(name__icontains=text) | Q(_display__icontains=text) | Q(_description__icontains=text))


def _i18n(value) -> str:
    if isinstance(value, dict):
        for language in LANGUAGES:
            if value.get(language):
                return str(value[language])
        return next((str(item) for item in value.values() if item), "")
    return str(value or "")


def _iam_category_model():
    for converter in registered():
        if converter.group == "iam.theriseunion.io" and converter.kind == "Category":
            return converter.model
    return None


def category_titles(names) -> dict[str, str]:
    """Heading per category label value: the AppCategory of that name's display name, else the IAM Category's,
    else the value itself (two queries whatever the number)."""
    names = {name for name in names if name}
    titles = {name: name for name in names}
    found: set[str] = set()
    for model in (AppCategory, _iam_category_model()):
        if model is None:
            continue
        for name, spec in model.objects.filter(name__in=names - found).values_list("name", "spec"):
            title = _i18n((spec or {}).get("displayName"))
            if title:
                titles[name] = title
                found.add(name)
    return titles


def latest(app: Application, approved: list[ApplicationVersion] | None = None) -> str:
    """``status.latestVersion``, else the newest approved, non-deprecated version of ``approved`` (or of the
    application's versions) as ``appstore.versions`` picks it; "" when there is none."""
    shown = (app.status or {}).get("latestVersion")
    if shown:
        return shown
    if approved is None:
        approved = list(app.versions.filter(review_phase=review.APPROVED, deprecated=False).only("version"))
    found = versions.newest(versions.LATEST, [v for v in approved if not v.deprecated], key=lambda v: v.version)
    return found.version if found is not None else ""


def version_state(version: ApplicationVersion) -> str:
    """Pending, Approved, Rejected or Deprecated."""
    return review.phase_of(version.review_phase, version.deprecated)


def may_review(user, version: ApplicationVersion) -> bool:
    """May ``user`` approve or reject ``version`` now: Pending, ``review`` granted at its scope, not its
    submitter (``appstore.review.decide`` refuses the rest)."""
    if version.review_phase != review.PENDING:
        return False
    if (version.status or {}).get("submitter") == user.get_username():
        return False
    return access.may(user, "review", version)


def deploy_converter():
    """The ApplicationDeployment converter."""
    return ApplicationDeployment._converter
