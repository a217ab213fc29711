"""Build script: compiles the Cython core in ext/ unless told to build pure Python.

Set STREAMFOLD_NO_EXTENSIONS=1 to install the pure-Python twin only.  Non-CPython
interpreters always get the twin.
"""

import os
import platform

from setuptools import Extension, setup

NO_EXTENSIONS = os.environ.get("STREAMFOLD_NO_EXTENSIONS", "") not in ("", "0")
if platform.python_implementation() != "CPython":
    NO_EXTENSIONS = True

if NO_EXTENSIONS:
    print("*** streamfold: building the pure-Python implementation only")
    ext_modules = []
else:
    from Cython.Build import cythonize

    print("*** streamfold: building the Cython extensions")
    ext_modules = cythonize(
        [
            Extension("streamfold._framing_c", ["ext/streamfold/_framing_c.pyx"]),
            Extension("streamfold._fold_c", ["ext/streamfold/_fold_c.pyx"]),
        ],
        include_path=["ext"],
        compiler_directives={"language_level": "3", "embedsignature": True},
    )

setup(ext_modules=ext_modules)
