"""Request bodies of chart uploads: a raw ``.tgz`` (any content type) or a multipart form with a ``chart`` field,
never read past ``EDGE_CHART_MAX_BYTES``."""
from __future__ import annotations

from rest_framework import exceptions, parsers

from charts import store

__all__ = ["ArchiveParser", "ArchiveTooLarge", "MultiPartParser", "refuse_declared_oversize"]

#: what a multipart body may carry beyond the archive itself (boundaries, headers, a provenance file)
MULTIPART_SLACK = 256 * 1024


class ArchiveTooLarge(exceptions.APIException):
    """413: the body is larger than a repository takes."""

    status_code = 413
    default_detail = "the chart archive is too large"


def _too_large() -> ArchiveTooLarge:
    return ArchiveTooLarge(f"the chart archive is larger than the limit of {store.max_bytes()} bytes")


def refuse_declared_oversize(request) -> None:
    """413 before anything reads a body whose ``Content-Length`` already says it is too large."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise exceptions.ParseError("the Content-Length header is not a number") from None
    if length > store.max_bytes() + MULTIPART_SLACK:
        raise _too_large()


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser (files spool to disk past Django's memory limit; the size is checked on the file)."""


class ArchiveParser(parsers.BaseParser):
    """Any other body: the archive's bytes, read at most one byte past the limit (for a body sent chunked)."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None) -> bytes:
        """The body as bytes; 413 past the limit."""
        if stream is None:
            return b""
        data = stream.read(store.max_bytes() + 1)
        if len(data) > store.max_bytes():
            raise _too_large()
        return data
