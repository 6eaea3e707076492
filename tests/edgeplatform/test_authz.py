"""The seam between the project and the permission engine: the engine the iam app installs offers everything the
``Authorizer`` protocol declares, and the grants it compiles everything ``Grants`` declares, so the write path,
the querysets, the API and the console can rely on the protocol alone."""
from __future__ import annotations

import pytest

from edgeplatform import authz
from edgeplatform.resources.scopes import PLATFORM

pytestmark = pytest.mark.django_db


def _members(protocol) -> set[str]:
    return {name for name in vars(protocol) if not name.startswith("_")} | set(protocol.__annotations__)


def test_the_installed_engine_is_an_authorizer():
    engine = authz.authorizer()
    assert isinstance(engine, authz.Authorizer)
    missing = {name for name in _members(authz.Authorizer) if not hasattr(engine, name)}
    assert missing == set()


def test_the_engines_grants_are_what_the_console_reads(platform):
    """GIVEN a user, THEN their grants have every member the protocol declares, and answer as the engine does."""
    user = platform.user("seam-user")
    engine = authz.authorizer()
    found = engine.grants(user)
    assert isinstance(found, authz.Grants)
    assert {name for name in _members(authz.Grants) if not hasattr(found, name)} == set()
    assert found.active and not found.superuser
    assert found.ui_permissions(PLATFORM) == engine.ui_permissions(user, PLATFORM)
    assert engine.grants(None) is None
