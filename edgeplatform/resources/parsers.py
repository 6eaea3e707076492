"""Request body parsers for the content types kubectl and people send; every one decodes through
``documents`` (bounded, strict), so no surface sees a body that has not been checked."""
from rest_framework.parsers import BaseParser

from edgeplatform.resources import documents

__all__ = [
    "PATCH_TYPES",
    "ApplyPatchParser",
    "JSONParser",
    "MergePatchParser",
    "StrategicMergePatchParser",
    "XYAMLParser",
    "YAMLParser",
]


class JSONParser(BaseParser):
    """``application/json``, strictly (see ``documents.decode_json``)."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        """Decode the JSON body."""
        return documents.decode_json(stream)


class MergePatchParser(JSONParser):
    """JSON merge patch (RFC 7386)."""

    media_type = "application/merge-patch+json"


class StrategicMergePatchParser(JSONParser):
    """kubectl's default patch type; for our kinds (no patch-merge keys: maps merge, lists replace) it is applied
    as a merge patch."""

    media_type = "application/strategic-merge-patch+json"


class YAMLParser(BaseParser):
    """Manifests posted as YAML, as written for kubectl (see ``documents.decode_yaml``)."""

    media_type = "application/yaml"

    def parse(self, stream, media_type=None, parser_context=None):
        """Decode the YAML body."""
        return documents.decode_yaml(stream)


class XYAMLParser(YAMLParser):
    """The older spelling of the YAML media type."""

    media_type = "application/x-yaml"


class ApplyPatchParser(YAMLParser):
    """Server-side-apply bodies (``application/apply-patch+yaml``), which may be YAML or JSON."""

    media_type = "application/apply-patch+yaml"


#: PATCH content type → how the body is applied (``api.ManifestViewSet.partial_update``)
PATCH_TYPES = {
    MergePatchParser.media_type: "merge",
    StrategicMergePatchParser.media_type: "strategic",
    ApplyPatchParser.media_type: "apply",
    JSONParser.media_type: "merge",
}
