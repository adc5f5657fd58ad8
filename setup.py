"""Build script: cythonizes every ``feedhandler/**/*.pyx``.

Build modes are chosen with the ``FEEDHANDLER_BUILD`` environment variable:

``release`` (default)
    ``-O3``, Cython directives tuned for speed where they are safe globally
    (bounds checks stay on; hot functions switch them off one by one).
``profile``
    ``linetrace``/``profile`` directives and ``CYTHON_TRACE=1`` so that
    ``cProfile`` and ``line_profiler`` see Cython functions.
``annotate``
    Like ``release`` and also writes Cython's HTML annotation of each ``.pyx``
    under ``build/cython-annotate/`` (yellow lines are Python interaction).
``debug``
    ``-O0 -g`` and Cython's own checks everywhere, for gdb/valgrind.
``asan``
    AddressSanitizer + UndefinedBehaviorSanitizer (``-fsanitize=address,undefined
    -fno-omit-frame-pointer``, ``-O1 -g1``; any UB report aborts). The interpreter is not
    instrumented, so the ASan runtime must be loaded first:
    ``LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0 python ...``.
    ``tests/sanitize/run.sh`` builds this mode in a separate copy of the tree and fuzzes every decoder.

Before anything is compiled, every ``feedhandler/**/*.in`` is rendered with Cython's Tempita
into the file without ``.in`` (``events.pyx.in`` -> ``events.pyx``), with the names of the
``schema.py`` beside it: those outputs are build output, not in git.

``FEEDHANDLER_NATIVE=1`` adds ``-march=native`` (never for wheels you ship).
``FEEDHANDLER_ONLY=<glob>[,<glob>...]`` restricts the build to matching ``.pyx`` files
(for working on one module without compiling the others).
"""
from __future__ import annotations

import fnmatch
import glob
import os
import sys

import runpy

import numpy as np
from Cython.Build import cythonize
from Cython.Tempita import sub as render_tempita
from setuptools import Extension, setup

MODE = os.environ.get("FEEDHANDLER_BUILD", "release").strip().lower()
if MODE not in {"release", "profile", "annotate", "debug", "asan"}:
    sys.exit(f"FEEDHANDLER_BUILD={MODE!r} is not a build mode: use release, profile, annotate, debug or asan")

DIRECTIVES: dict[str, object] = {
    "language_level": 3,
    "embedsignature": True,  # signatures visible to help() and IDEs
    "binding": False,  # cheaper calls for cdef-class methods
    "cdivision": True,  # C semantics; every division in the kernels has a nonzero divisor
    "initializedcheck": False,  # memoryviews are always initialised in __cinit__
    "infer_types": True,
    "freethreading_compatible": False,
    # boundscheck/wraparound stay ON globally: hot functions switch them off
    # individually, with the bound proven next to the decorator.
}
MACROS: list[tuple[str, str]] = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
CFLAGS = ["-O3", "-fno-strict-aliasing", "-Wno-unused-function", "-Wno-unreachable-code"]
LDFLAGS: list[str] = []

if MODE == "profile":
    DIRECTIVES.update({"linetrace": True, "profile": True, "binding": True})
    MACROS += [("CYTHON_TRACE", "1"), ("CYTHON_TRACE_NOGIL", "1")]
elif MODE == "debug":
    DIRECTIVES.update({"boundscheck": True, "wraparound": True, "initializedcheck": True, "cdivision": False})
    CFLAGS = ["-O0", "-g3", "-Wno-unused-function"]
elif MODE == "asan":
    # Cython's own checks stay as in release: the point is to catch what the hand-proven
    # bounds (boundscheck=False functions) and the integer arithmetic get wrong.
    SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer"]
    # -g1: line tables only (file:line in every report), much cheaper to compile than full -g
    CFLAGS = ["-O1", "-g1", "-fno-strict-aliasing", "-Wno-unused-function", *SANITIZE]
    LDFLAGS = SANITIZE
if os.environ.get("FEEDHANDLER_NATIVE") == "1":
    CFLAGS.append("-march=native")


def _render_templates() -> None:
    """Render each ``feedhandler/**/*.in`` beside itself; a file is rewritten only when it changes."""
    for template in sorted(glob.glob("feedhandler/**/*.in", recursive=True)):
        schema = os.path.join(os.path.dirname(template), "schema.py")
        names = runpy.run_path(schema) if os.path.exists(schema) else {}
        with open(template, encoding="utf-8") as f:
            text = render_tempita(f.read(), **{k: v for k, v in names.items() if not k.startswith("__")})
        target = template[: -len(".in")]
        if os.path.exists(target):
            with open(target, encoding="utf-8") as f:
                if f.read() == text:
                    continue  # unchanged: keep the mtime, so nothing that cimports it rebuilds
        with open(target, "w", encoding="utf-8") as f:
            f.write(text)


def _extensions() -> list[Extension]:
    only = [g for g in os.environ.get("FEEDHANDLER_ONLY", "").split(",") if g]
    exts = []
    for path in sorted(glob.glob("feedhandler/**/*.pyx", recursive=True)):
        if only and not any(fnmatch.fnmatch(path, g) for g in only):
            continue
        name = path[:-4].replace(os.sep, ".")
        exts.append(
            Extension(
                name,
                [path],
                include_dirs=[np.get_include()],
                define_macros=MACROS,
                extra_compile_args=CFLAGS,
                extra_link_args=LDFLAGS,
            )
        )
    return exts


_render_templates()
setup(
    ext_modules=cythonize(
        _extensions(),
        compiler_directives=DIRECTIVES,
        annotate=(MODE == "annotate"),
        nthreads=int(os.environ.get("FEEDHANDLER_JOBS", os.cpu_count() or 1)),
        # one C tree per mode, so a release build never reuses C generated with tracing (and vice versa)
        build_dir=f"build/cython-{MODE}",
    ),
)
