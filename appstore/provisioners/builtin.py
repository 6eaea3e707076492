"""The built-in provisioner types, imported once by the registry: ``workload``, ``helm``, ``model``."""
from appstore.provisioners import helm, model, workload  # noqa: F401
