"""Request body parsers for the content types kubectl and humans send."""
import yaml
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser, JSONParser


class MergePatchParser(JSONParser):
    """JSON merge patch (RFC 7386) and strategic-merge bodies; both are applied as merge patches."""

    media_type = "application/merge-patch+json"


class StrategicMergePatchParser(JSONParser):
    """kubectl's default patch type; for our kinds (no patch-merge keys) it equals a merge patch."""

    media_type = "application/strategic-merge-patch+json"


class ApplyPatchParser(BaseParser):
    """Server-side-apply bodies (``application/apply-patch+yaml``), which may be YAML or JSON."""

    media_type = "application/apply-patch+yaml"

    def parse(self, stream, media_type=None, parser_context=None):
        """Decode the YAML (a superset of JSON) body."""
        return _load_yaml(stream)


class YAMLParser(BaseParser):
    """Manifests posted as YAML, as written for kubectl."""

    media_type = "application/yaml"

    def parse(self, stream, media_type=None, parser_context=None):
        """Decode the YAML body."""
        return _load_yaml(stream)


def _load_yaml(stream):
    try:
        data = yaml.safe_load(stream.read().decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ParseError(f"invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ParseError("the body must be one object")
    return data
