"""The code base keeps its layering and its lint: import-linter's contracts (``.importlinter``) and ``ruff check``
run with the suite, so CI refuses a change that breaks either, with the tools' own report as the failure."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.paths import ROOT

BIN = Path(sys.executable).parent


def _run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


def test_the_import_contracts_hold():
    """GIVEN the contracts of .importlinter (apps depend on edgeplatform and never the reverse, models import no
    view, API, task or gateway, only edgeplatform.kube imports kubernetes, …), THEN every one is kept."""
    result = _run(str(BIN / "lint-imports"), "--config", str(ROOT / ".importlinter"), "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_ruff_finds_nothing():
    result = _run(sys.executable, "-m", "ruff", "check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr
