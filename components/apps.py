"""App config of components (its kinds arrive with the components issue)."""
from django.apps import AppConfig


class ComponentsConfig(AppConfig):
    """The components app."""

    name = "components"
