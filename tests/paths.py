"""Where the checkout's files are, for tests at any depth of ``tests/``."""
from pathlib import Path

__all__ = ["FIXTURES", "ROOT", "TEST_OUTPUT"]

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
TEST_OUTPUT = ROOT / "test-output"
