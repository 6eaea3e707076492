"""The console's identity and access pages, found here by the console site; they live in ``iam.console``."""
from iam import console

__all__ = ["console"]
