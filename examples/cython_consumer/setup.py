"""Build the example consumers against the installed feedhandler headers: ``python setup.py build_ext --inplace``."""
import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

import feedhandler

setup(
    name="feedhandler-cython-consumer-example",
    ext_modules=cythonize(
        [Extension("book_mirror", ["book_mirror.pyx"], include_dirs=[np.get_include()])],
        include_path=[feedhandler.get_include()],  # where ``cimport feedhandler....`` finds the .pxd files
        compiler_directives={"language_level": 3},
    ),
)
