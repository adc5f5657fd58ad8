"""Shared test setup.

- The tests directory is importable (shared helpers such as ``protos``).
- Under CI (``CI`` set) hypothesis runs derandomized, so a CI run is reproducible; on a developer's machine
  it explores new random examples on every run.
"""
import os
import sys
from pathlib import Path

from hypothesis import settings

sys.path.insert(0, str(Path(__file__).parent))

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
