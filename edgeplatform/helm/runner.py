"""Where Helm runs: in this process, or in a fresh subprocess per call.

helm-python-sdk loads Helm's Go runtime into the process. That runtime does not survive ``fork()`` (network calls
in the child hang), and Helm takes its server-side-apply field manager from the process name. ``SpawnedRunner``
answers both: every call starts a new interpreter with ``subprocess`` (fork + exec: nothing inherited from the
parent's memory) through a link named ``edge-platform`` to the Python executable, so Helm's field manager is
``edge-platform``. It uses no ``multiprocessing``, so it also works where that refuses to start children: in a
daemonic process such as a Celery prefork worker. The request goes to the child as JSON on stdin and the answer
comes back as JSON on stdout. That costs about 0.2 s per call, small next to an install. ``InProcessRunner``
runs the same calls here (tests, scripts, a process that never forks after loading Helm); its field manager is
this process's name.
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from .errors import HelmError

FIELD_MANAGER = "edge-platform"

log = logging.getLogger(__name__)
_link_lock = threading.Lock()
# what the child runs; ``-m`` would warn, because importing the package already imports this module
_CHILD = "from edgeplatform.helm.runner import serve; serve()"


class InProcessRunner:
    """Runs Helm calls in the current process (loads the Go runtime here: never before a fork)."""

    isolated = False

    def __init__(self, environment: dict[str, str]):
        self.environment = environment

    def run(self, operation: str, params: dict[str, Any], timeout: float) -> Any:
        """Run ``operation`` and return its result or raise ``HelmError``."""
        from . import native

        return native.call(operation, params, self.environment)


def serve() -> None:
    """Entry point of the Helm subprocess: read one request (JSON) from stdin, run it, write one answer (JSON)
    to stdout: ``{"result": ...}`` or ``{"error": {"message", "kind", "operation"}}``."""
    from . import native

    answer_to = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything else written to stdout (by Python or by Go) goes to stderr, not into the answer
    request = json.load(sys.stdin)
    try:
        answer = {"result": native.call(request["operation"], request["params"], request["environment"])}
    except HelmError as error:
        answer = {"error": {"message": error.message, "kind": error.kind, "operation": error.operation}}
    except Exception as error:  # anything else still has to reach the caller, as a HelmError
        answer = {"error": {"message": f"{type(error).__name__}: {error}", "operation": request["operation"]}}
    answer_to.write(json.dumps(answer))
    answer_to.close()


class SpawnedRunner:
    """Runs each Helm call in a fresh interpreter named ``edge-platform``; kills it after ``timeout``."""

    isolated = True

    def __init__(self, environment: dict[str, str], bin_dir: Path):
        self.environment = environment
        self.executable = self._link(bin_dir)

    @staticmethod
    def _link(bin_dir: Path) -> str:
        """A symlink ``<bin_dir>/edge-platform`` → this interpreter (Go's os.Args[0] names the field manager).

        Started through the link, Python does not find a virtualenv's packages: ``run`` hands the child this
        process's ``sys.path`` in ``PYTHONPATH``."""
        link = bin_dir / FIELD_MANAGER
        with _link_lock:
            if not (link.is_symlink() and os.readlink(link) == sys.executable):
                bin_dir.mkdir(parents=True, exist_ok=True)
                temporary = bin_dir / f".{FIELD_MANAGER}.{os.getpid()}"
                temporary.unlink(missing_ok=True)
                temporary.symlink_to(sys.executable)
                os.replace(temporary, link)  # atomic: concurrent processes never see a missing link
        return str(link)

    def run(self, operation: str, params: dict[str, Any], timeout: float) -> Any:
        """Run ``operation`` in a subprocess and return its result or raise ``HelmError``."""
        try:
            request = json.dumps({"operation": operation, "params": params, "environment": self.environment})
        except (TypeError, ValueError) as error:
            raise HelmError(f"the arguments are not plain JSON data: {error}", kind="invalid", operation=operation)
        environment = {**os.environ, **self.environment, "PYTHONPATH": os.pathsep.join(sys.path)}
        try:
            child = subprocess.run([self.executable, "-c", _CHILD], input=request, capture_output=True, text=True,
                                   env=environment, timeout=timeout)
        except subprocess.TimeoutExpired:  # subprocess.run has killed the child
            raise HelmError(f"no answer within {timeout:g} s", kind="timeout", operation=operation) from None
        except OSError as error:
            raise HelmError(f"the Helm process did not start: {error}", operation=operation) from None
        try:
            answer = json.loads(child.stdout)
        except ValueError:
            ended = f"was killed by signal {-child.returncode}" if child.returncode < 0 else \
                f"exited with code {child.returncode}"
            raise HelmError(f"the Helm process {ended} without an answer{_last_words(child.stderr)}",
                            operation=operation) from None
        if child.stderr.strip():
            log.debug("helm %s: %s", operation, child.stderr.strip())
        if "error" in answer:
            raise HelmError(**answer["error"])
        return answer["result"]


def _last_words(stderr: str, limit: int = 300) -> str:
    """What a dead child last said on stderr: Go's panic line (before its stack dump), else the last line."""
    lines = stderr.strip().splitlines()
    fatal = [line for line in lines if line.startswith(("panic: ", "fatal error: "))]
    return f": {(fatal or lines[-1:])[0][:limit]}" if lines else ""
