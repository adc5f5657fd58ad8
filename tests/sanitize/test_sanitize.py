"""The sanitizer run, in the suite: ``tests/sanitize/run.sh`` (AddressSanitizer + UBSan build of the parsing
modules in a copy of the tree, the decoders' fuzz tests and a bounded random-mutation loop under it).

Marked ``sanitize`` (``pytest -m sanitize`` runs it alone, ``-m "not sanitize"`` leaves it out). It skips only
when gcc's ASan runtime is missing. The mutation loop runs ``FEEDHANDLER_SANITIZE_SECONDS`` (20 here unless
set); the whole run takes a few minutes on two cores, most of it compiling.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def _libasan() -> str | None:
    if shutil.which("gcc") is None:
        return None
    path = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True).stdout.strip()
    return path if os.path.isabs(path) and os.path.exists(path) else None


@pytest.mark.sanitize
@pytest.mark.timeout(1500)
def test_asan_ubsan_build_passes_the_fuzz_tests_and_the_mutation_run():
    if _libasan() is None:
        pytest.skip("gcc's AddressSanitizer runtime (libasan.so) is not installed: no sanitizer build possible")
    env = dict(os.environ, PYTHON=sys.executable)
    env.setdefault("FEEDHANDLER_SANITIZE_SECONDS", "20")
    env.pop("LD_PRELOAD", None)
    started = time.monotonic()
    proc = subprocess.run(["bash", os.path.join(HERE, "run.sh")], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=1450)
    took = time.monotonic() - started
    out = proc.stdout + proc.stderr
    print(out[-3000:])
    print(f"sanitizer run: {took:.0f} s")
    assert proc.returncode == 0, out[-6000:]
    assert "sanitize: clean" in proc.stdout
    # every decoder was mutated, and the fuzz tests ran (none of them silently skipped as a whole)
    for exchange in ("binance", "gateio", "mexc", "okx", "bybit", "coinbase"):
        m = re.search(rf"^{exchange}: (\d+) seed frames, (\d+) mutated frames", proc.stdout, re.MULTILINE)
        assert m and int(m.group(1)) > 0 and int(m.group(2)) > 1000, exchange
    m = re.search(r"^(\d+) passed", proc.stdout, re.MULTILINE)
    assert m and int(m.group(1)) > 300 and " failed" not in proc.stdout
