"""Benchmark suite support: prints, per group, each case's median and its ratio to the fastest case.

Run everything with ``pytest benchmarks/ --benchmark-only`` (see the README); every group holds a
feedhandler case beside its baselines, measured in the same run.
"""
from __future__ import annotations

import platform
import sys
from collections import defaultdict
from pathlib import Path

# tests/ holds shared helpers (e.g. the test-only protobuf schemas) some benchmarks use
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def _fmt(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001
    session = getattr(config, "_benchmarksession", None)
    if session is None or not session.benchmarks:
        return
    groups: dict[str, list] = defaultdict(list)
    for bench in session.benchmarks:
        if bench.has_error or not bench.stats:
            continue
        groups[bench.group or "(no group)"].append(bench)
    tr = terminalreporter
    tr.section("feedhandler: ratios within each group (median; same run)")
    tr.write_line(f"machine: {platform.machine()}, {platform.processor() or 'cpu n/a'}, "
                  f"Python {platform.python_version()}")
    for group, benches in sorted(groups.items()):
        benches.sort(key=lambda b: b.stats.median)
        fastest = benches[0].stats.median
        tr.write_line(f"[{group}]")
        for b in benches:
            ratio = b.stats.median / fastest if fastest else float("nan")
            extra = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                              for k, v in sorted(b.extra_info.items()) if not isinstance(v, (dict, list)))
            tr.write_line(f"  {b.name:<55} median {_fmt(b.stats.median):>10}  x{ratio:7.2f}"
                          + (f"   ({extra})" if extra else ""))
