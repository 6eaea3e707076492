"""Test support for Kubernetes: an emulated API server and the pytest fixtures that start it."""
from .emulator import Emulator, Request, RequestLog

__all__ = ["Emulator", "Request", "RequestLog"]
