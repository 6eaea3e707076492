"""The API docs pages (Swagger UI at /oapis/docs/, ReDoc at /oapis/redoc/) work on an air-gapped site: they refer to
nothing outside the platform, and every asset they refer to is served by it (drf-spectacular-sidecar)."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest


class _References(HTMLParser):
    """Every URL a page refers to: src and href attributes."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        """Collect src and href."""
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["/oapis/docs/", "/oapis/redoc/"])
def test_the_docs_pages_load_nothing_from_outside_the_platform(client, page):
    response = client.get(page)
    assert response.status_code == 200
    html = response.content.decode()
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html, re.IGNORECASE), \
        re.findall(r"(?:https?:)?//[^\s\"'<>]+", html)
    parser = _References()
    parser.feed(html)
    assert len(parser.urls) >= (3 if page == "/oapis/docs/" else 1)
    for url in parser.urls:
        assert url.startswith("/"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert b"".join(asset.streaming_content if asset.streaming else [asset.content]), url
    assert "/oapis/schema/" in html


def test_the_docs_assets_are_the_installed_sidecar():
    import drf_spectacular_sidecar
    from django.contrib.staticfiles import finders

    for asset in ("swagger-ui-dist/swagger-ui-bundle.js", "swagger-ui-dist/swagger-ui.css",
                  "redoc/bundles/redoc.standalone.js"):
        found = finders.find(f"drf_spectacular_sidecar/{asset}")
        assert found and found.startswith(drf_spectacular_sidecar.__path__[0]), asset

