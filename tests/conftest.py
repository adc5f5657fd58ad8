"""Make the tests directory importable (shared helpers such as ``protos``)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
