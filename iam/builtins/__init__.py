"""The built-in role templates and roles, as manifests (documented in docs/builtin-roles.md)."""
from pathlib import Path

HERE = Path(__file__).resolve().parent


def files() -> list[Path]:
    """The built-in manifest files, templates before roles."""
    return sorted(HERE.glob("*.yaml"), key=lambda p: (p.name == "roles.yaml", p.name))


def install() -> int:
    """Create or refresh every built-in template and role; return how many objects were written."""
    from edgeplatform.resources.loader import apply_files

    return len(apply_files(files()))
