"""Log records as JSON lines carrying the request id (``EDGE_LOG_FORMAT=json``, the default), or as text.

``LOGGING`` in the settings is :func:`logging_config`; gunicorn's own loggers are configured with the same
dictionary (``edgeplatform/serving/gunicorn.py``), so every line a web process writes has one shape.
"""
from __future__ import annotations

import logging

from pythonjsonlogger.json import JsonFormatter

from edgeplatform.serving import requestid

__all__ = ["JSONFormatter", "RequestIDFilter", "logging_config"]


class RequestIDFilter(logging.Filter):
    """Puts the id of the request in progress (``requestid.current()``) on each record as ``request_id``; a record
    Django logs about a request after the middleware returned (``django.request``) takes that request's id."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keeps the record; only adds the id."""
        if not getattr(record, "request_id", ""):
            record.request_id = requestid.current() or getattr(getattr(record, "request", None), "request_id", "")
        return True


class JSONFormatter(JsonFormatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, request id, the record's extras
    and, for an exception, its trace as one string."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", False)
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s", *args, **kwargs)

    def formatTime(self, record, datefmt=None):
        """ISO 8601 in UTC with milliseconds."""
        import datetime

        moment = datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def logging_config(fmt: str = "json", level: str = "INFO") -> dict:
    """The ``logging.config.dictConfig`` of every platform process: one stream handler on stderr."""
    formatters = {
        "json": {"()": "edgeplatform.serving.logs.JSONFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    }
    if fmt not in formatters:
        raise ValueError(f"EDGE_LOG_FORMAT must be json or text, not {fmt!r}")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "edgeplatform.serving.logs.RequestIDFilter"}},
        "formatters": {fmt: formatters[fmt]},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": fmt, "filters": ["request_id"]}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # gunicorn's messages go through the same handler; its access line is left out (gunicorn writes one
            # whenever a logging configuration is given): the platform's own (edgeplatform.access) has the request id
            "gunicorn.error": {"level": level, "handlers": [], "propagate": True},
            "gunicorn.access": {"handlers": [], "propagate": False},
        },
    }
