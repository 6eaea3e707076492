"""Where Helm runs: in this process, or in a fresh spawned one per call.

helm-python-sdk loads Helm's Go runtime into the process. That runtime does not survive ``fork()`` (network calls
in the child hang), and Helm takes its server-side-apply field manager from the process name. ``SpawnedRunner``
answers both: every call starts a new interpreter with the ``spawn`` start method — nothing inherited from a
forked parent — through a link named ``edge-platform`` to the Python executable, so Helm's field manager is
``edge-platform``. That costs about 0.2 s per call, small next to an install. ``InProcessRunner`` runs the same
calls here (tests, scripts, a process that never forks after loading Helm); its field manager is this
process's name.
"""
from __future__ import annotations

import multiprocessing
import multiprocessing.spawn
import os
import sys
import threading
from pathlib import Path
from typing import Any

from .errors import HelmError

FIELD_MANAGER = "edge-platform"

_link_lock = threading.Lock()


class InProcessRunner:
    """Runs Helm calls in the current process (loads the Go runtime here: never before a fork)."""

    isolated = False

    def __init__(self, environment: dict[str, str]):
        self.environment = environment

    def run(self, operation: str, params: dict[str, Any], timeout: float) -> Any:
        """Run ``operation`` and return its result or raise ``HelmError``."""
        from . import native

        return native.call(operation, params, self.environment)


def _child(connection, operation: str, params: dict, environment: dict) -> None:
    """Entry point of the spawned process: run one call, send back ("ok", result) or ("error", HelmError)."""
    from . import native

    try:
        connection.send(("ok", native.call(operation, params, environment)))
    except HelmError as error:
        connection.send(("error", error))
    except BaseException as error:  # anything else still has to reach the caller, as a HelmError
        connection.send(("error", HelmError(f"{type(error).__name__}: {error}", operation=operation)))
    finally:
        connection.close()


class SpawnedRunner:
    """Runs each Helm call in a freshly spawned interpreter named ``edge-platform``; kills it after ``timeout``."""

    isolated = True

    def __init__(self, environment: dict[str, str], bin_dir: Path):
        self.environment = environment
        self.executable = self._link(bin_dir)

    @staticmethod
    def _link(bin_dir: Path) -> str:
        """A symlink ``<bin_dir>/edge-platform`` → this interpreter (Go's os.Args[0] names the field manager).

        The child finds our packages anyway: the spawn start method hands it the parent's ``sys.path``."""
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
        """Run ``operation`` in a spawned process and return its result or raise ``HelmError``."""
        context = multiprocessing.get_context("spawn")
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(target=_child, args=(sender, operation, params, self.environment),
                                  name=f"helm-{operation}", daemon=True)
        with _link_lock:  # the spawn executable is process-global: set it for this start only
            previous = multiprocessing.spawn.get_executable()
            context.set_executable(self.executable)
            try:
                process.start()
            finally:
                context.set_executable(previous)
        sender.close()
        try:
            if not receiver.poll(timeout):
                raise HelmError(f"no answer within {timeout:.0f} s", kind="timeout", operation=operation)
            status, value = receiver.recv()
        except EOFError:
            process.join(5)
            raise HelmError(f"the Helm process ended without an answer (exit code {process.exitcode})",
                            operation=operation)
        finally:
            receiver.close()
            if process.is_alive():
                process.join(5)
            if process.is_alive():
                process.kill()
                process.join()
        if status == "error":
            raise value
        return value
