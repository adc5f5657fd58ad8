"""Compile a small Cython module in a temporary directory against the installed feedhandler headers.

Tests use it for code that must be compiled to exercise a C-level API (a ``FrameDecoder`` subclass, a
``Consumer``): ``cimport feedhandler....`` resolves through :func:`feedhandler.get_include`, as it would
in a user's project.
"""
from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import feedhandler


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def build_module(directory: Path, name: str, source: str, timeout: float = 300) -> ModuleType:
    """Write ``<name>.pyx``, build it in place with setuptools + Cython, import it and return it."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.pyx").write_text(textwrap.dedent(source))
    (directory / "setup.py").write_text(textwrap.dedent(f"""
        from setuptools import Extension, setup
        from Cython.Build import cythonize
        setup(ext_modules=cythonize([Extension({name!r}, [{name + '.pyx'!r}])],
              include_path=[{feedhandler.get_include()!r}], compiler_directives={{"language_level": 3}},
              quiet=True))
    """))
    return _setup_and_import(directory, name, timeout)


def build_example(directory: Path, example: str, module: str, timeout: float = 300) -> ModuleType:
    """Copy ``examples/<example>`` to ``directory``, build it with its own ``setup.py``, import ``module``."""
    shutil.copytree(EXAMPLES / example, directory, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("build", "*.c", "*.so"))
    return _setup_and_import(directory, module, timeout)


def _setup_and_import(directory: Path, name: str, timeout: float) -> ModuleType:
    proc = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace", "-q"], cwd=directory,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sys.path.insert(0, str(directory))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(directory))
