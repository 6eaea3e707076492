"""Fixtures of the chart repository tests: a private charts storage and Helm home, archives built by hand, and a
small fleet of users with the built-in roles (clusters c1 and c2)."""
from __future__ import annotations

import base64

import pytest

from tests.helm_repo import package
from tests.paths import FIXTURES

DEMO = FIXTURES / "charts" / "demo"
WEB = FIXTURES / "charts" / "web"


def archive(name: str = "demo", version: str = "0.1.0", *, source=DEMO, top: str | None = None, **fields) -> bytes:
    """A chart archive as ``helm package`` writes it: the files of ``source`` under ``<top or name>/``, with
    Chart.yaml's name, version and ``fields`` replaced."""
    return package(source, version, top=top, name=name, **fields)[1]


def basic(username: str, password: str) -> dict:
    """Django test client headers for basic auth."""
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def bearer(token: str) -> dict:
    """Django test client headers for a bearer token."""
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture(autouse=True)
def chart_storage(settings, tmp_path):
    """Archives under the test's own directory; every repository's cached index forgotten."""
    from charts import index

    location = tmp_path / "chart-storage"
    settings.STORAGES = {**settings.STORAGES, "charts": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                                         "OPTIONS": {"location": str(location)}}}
    settings.EDGE_HELM_HOME = str(tmp_path / "helm")
    index.invalidate_all()
    yield location
    index.invalidate_all()


@pytest.fixture
def people(platform):
    """Clusters c1 and c2 and one user per part of the permission matrix, each with a token (by user name).

    ``nobody``: signed in, no binding; ``admin1``: cluster-admin of c1; ``viewer1``: cluster-viewer of c1;
    ``regular``: platform-regular (reads library); ``root``: platform administrator (superuser)."""
    from tests.support import issue_token

    platform.cluster("c1")
    platform.cluster("c2")
    users = {name: platform.user(name) for name in ("nobody", "admin1", "viewer1", "regular")}
    users["root"] = platform.user("root", superuser=True)
    platform.bind("a1", "cluster-admin", "cluster", "c1", users=("admin1",))
    platform.bind("v1", "cluster-viewer", "cluster", "c1", users=("viewer1",))
    platform.bind("r", "platform-regular", "platform", "global", users=("regular",))
    return {name: (user, issue_token(user)) for name, user in users.items()}
