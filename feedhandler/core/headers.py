"""Where the installed ``.pxd`` headers are, for users who compile against feedhandler (like ``numpy.get_include``)."""
from __future__ import annotations

from pathlib import Path


def get_include() -> str:
    """The directory to put on Cython's ``include_path`` so that ``cimport feedhandler....`` finds the headers.

    It is the directory that holds the installed ``feedhandler`` package (its ``.pxd`` files are installed
    with it), e.g. ``cythonize(..., include_path=[feedhandler.get_include()])``.
    """
    return str(Path(__file__).resolve().parents[2])
