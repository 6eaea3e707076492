"""gunicorn's configuration, from the environment: the platform's production web server.

``gunicorn -c python:edgeplatform.serving.gunicorn_conf edgeplatform.wsgi`` (deploy/Procfile's ``web``, so
``make run`` serves this way too). Read by gunicorn's master before Django starts, so it reads the environment (and
the checkout's ``.env``) itself, with the names and defaults the README's configuration table lists:

- ``EDGE_BIND``/``EDGE_PORT``: where to listen; ``EDGE_WEB_WORKERS`` processes (2 × cores + 1), each with
  ``EDGE_WEB_THREADS`` threads (1: gunicorn's sync worker; more: its gthread worker, which also keeps idle
  connections open ``EDGE_WEB_KEEPALIVE`` seconds);
- ``EDGE_WEB_TIMEOUT``: a worker silent that long is killed and replaced; ``EDGE_WEB_GRACEFUL_TIMEOUT``: on
  SIGTERM (or SIGHUP's reload) workers stop taking connections and get that long to finish the requests they have;
- ``EDGE_WEB_MAX_REQUESTS`` (0: never): a worker is replaced after about that many requests (± 10 %);
- ``EDGE_WEB_BACKLOG``: connections waiting to be accepted.

Logs: gunicorn's own lines go through the platform's logging (JSON by default, ``EDGE_LOG_FORMAT``); the access log
is written by Django's first middleware (``edgeplatform.serving.requestid``), where each line carries the request
id, so gunicorn's is off.
"""
from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import environ

from edgeplatform.serving.logs import logging_config

_env = environ.Env()
if (Path(__file__).resolve().parents[2] / ".env").exists():
    environ.Env.read_env(Path(__file__).resolve().parents[2] / ".env", overwrite=False)

bind = [f"{_env.str('EDGE_BIND', default='127.0.0.1')}:{_env.int('EDGE_PORT', default=8000)}"]
workers = _env.int("EDGE_WEB_WORKERS", default=2 * multiprocessing.cpu_count() + 1)
threads = _env.int("EDGE_WEB_THREADS", default=1)
worker_class = "gthread" if threads > 1 else "sync"
timeout = _env.int("EDGE_WEB_TIMEOUT", default=30)
graceful_timeout = _env.int("EDGE_WEB_GRACEFUL_TIMEOUT", default=30)
keepalive = _env.int("EDGE_WEB_KEEPALIVE", default=5)
max_requests = _env.int("EDGE_WEB_MAX_REQUESTS", default=0)
max_requests_jitter = max_requests // 10
backlog = _env.int("EDGE_WEB_BACKLOG", default=2048)
proc_name = "edge-platform"
# the workers' heartbeat files on tmpfs where there is one (a read-only or slow root file system stalls them)
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None

# no control socket: it would sit in ~/.gunicorn (one per user, shared by every instance); signals do the job
control_socket_disable = True

accesslog = None
errorlog = "-"
loglevel = _env.str("LOG_LEVEL", default="INFO").lower()
logconfig_dict = logging_config(_env.str("EDGE_LOG_FORMAT", default="json"), _env.str("LOG_LEVEL", default="INFO"))


def child_exit(server, worker):
    """A worker is gone: in multiprocess metrics mode its live gauges leave ``/metrics`` with it."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("EDGE_METRICS_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid, os.environ.get("PROMETHEUS_MULTIPROC_DIR")
                                       or os.environ["EDGE_METRICS_DIR"])
