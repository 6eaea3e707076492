"""Helm for the platform: a driver for releases on any cluster and a client for HTTP chart repositories.

Nothing here loads Helm's Go runtime at import time (see ``runner``): importing this package is safe in
processes that fork afterwards.
"""
from .driver import HelmDriver, helm_environment, helm_home
from .errors import HelmError
from .repository import ChartRepository, ChartVersion

__all__ = ["ChartRepository", "ChartVersion", "HelmDriver", "HelmError", "helm_environment", "helm_home"]
