"""The production server: gunicorn's configuration from the environment, and the real server serving, logging JSON
with request ids, and stopping gracefully on SIGTERM."""
from __future__ import annotations

import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from gunicorn.app.base import Application
from gunicorn.config import Config

from tests.paths import ROOT

CONFIG = "python:edgeplatform.serving.gunicorn_conf"


def _load(monkeypatch, **env) -> Config:
    """gunicorn's own reading of the configuration module under ``env``."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    import edgeplatform.serving.gunicorn_conf as module

    importlib.reload(module)
    return _ConfigOnly().cfg


class _ConfigOnly(Application):
    """gunicorn's loading of ``-c python:…``, without a command line or an application."""

    def load_config(self):
        self.load_config_from_module_name_or_filename(CONFIG)

    def load(self):
        raise AssertionError("not served")


def test_settings_come_from_the_environment(monkeypatch):
    cfg = _load(monkeypatch, EDGE_WEB_WORKERS="3", EDGE_WEB_THREADS="4", EDGE_WEB_TIMEOUT="17",
                EDGE_WEB_GRACEFUL_TIMEOUT="9", EDGE_WEB_KEEPALIVE="7", EDGE_WEB_MAX_REQUESTS="1000",
                EDGE_WEB_BACKLOG="512", EDGE_BIND="0.0.0.0", EDGE_PORT="9999", EDGE_LOG_FORMAT="text")
    assert (cfg.workers, cfg.threads, cfg.worker_class_str) == (3, 4, "gthread")
    assert (cfg.timeout, cfg.graceful_timeout, cfg.keepalive) == (17, 9, 7)
    assert (cfg.max_requests, cfg.max_requests_jitter, cfg.backlog) == (1000, 100, 512)
    assert cfg.bind == ["0.0.0.0:9999"]
    assert cfg.accesslog is None and cfg.errorlog == "-" and cfg.control_socket_disable
    assert "text" in cfg.logconfig_dict["formatters"]


def test_defaults_are_sync_workers_by_the_cores(monkeypatch):
    for key in ("EDGE_WEB_WORKERS", "EDGE_WEB_THREADS", "EDGE_BIND", "EDGE_PORT"):
        monkeypatch.delenv(key, raising=False)
    cfg = _load(monkeypatch)
    assert cfg.workers == 2 * os.cpu_count() + 1 and cfg.worker_class_str == "sync"
    assert cfg.bind == ["127.0.0.1:8000"] and cfg.timeout == 30 and cfg.graceful_timeout == 30
    assert "json" in cfg.logconfig_dict["formatters"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.multiprocess
def test_the_server_answers_logs_json_and_stops_gracefully(tmp_path):
    # GIVEN the Procfile's web command with one worker
    port = _free_port()
    env = {**os.environ, "EDGE_VAR_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
           "EDGE_BIND": "127.0.0.1", "EDGE_PORT": str(port), "EDGE_WEB_WORKERS": "1", "EDGE_LOG_FORMAT": "json",
           "EDGE_WEB_GRACEFUL_TIMEOUT": "5", "CELERY_BROKER_URL": "memory://"}
    env.pop("EDGE_METRICS_DIR", None)
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", CONFIG, "edgeplatform.wsgi"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers={"X-Request-ID": "probe-1"})
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(request, timeout=5) as answer:
                    assert answer.status == 200 and answer.headers["X-Request-ID"] == "probe-1"
                    break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start"
                assert server.poll() is None, server.stdout.read()
                time.sleep(0.2)
        # WHEN it is told to stop
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=15)
    finally:
        if server.poll() is None:
            server.kill()
    # THEN it stopped cleanly, and every line it wrote is JSON; the access line carries the request id
    assert server.returncode == 0, output
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    access = [line for line in lines if line["logger"] == "edgeplatform.access"]
    assert [(a["path"], a["status"], a["request_id"]) for a in access] == [("/healthz", 200, "probe-1")]
    messages = [line["message"] for line in lines if line["logger"] == "gunicorn.error"]
    assert any("Handling signal: term" in m for m in messages) and any("Shutting down" in m for m in messages)
    assert not [line for line in lines if line["logger"] == "gunicorn.access"]
