"""Build script: compiles the Cython core in ext/ unless told to build pure Python.

Set STREAMFOLD_NO_EXTENSIONS=1 to install the pure-Python twin only (non-CPython interpreters
always get the twin).  Set STREAMFOLD_COVERAGE=1 to build the extension with line tracing,
so that coverage.py (with the Cython.Coverage plugin configured in pyproject.toml) measures
the .pyx and .pxi files too; such a build is slower and only for measuring coverage.
"""

import os
import platform

from setuptools import Extension, setup


def _flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


NO_EXTENSIONS = _flag("STREAMFOLD_NO_EXTENSIONS") or platform.python_implementation() != "CPython"
COVERAGE = _flag("STREAMFOLD_COVERAGE")

if NO_EXTENSIONS:
    print("*** streamfold: building the pure-Python implementation only")
    ext_modules = []
else:
    from Cython.Build import cythonize

    directives = {"language_level": "3", "embedsignature": True}
    macros = []
    if COVERAGE:
        directives["linetrace"] = True
        macros = [("CYTHON_TRACE_NOGIL", "1")]
    # the generated C of a traced build must not be reused by a normal one, nor the reverse
    marker = os.path.join("ext", ".traced-build")
    rebuild = os.path.exists(marker) != COVERAGE
    if COVERAGE:
        open(marker, "w").close()
    elif os.path.exists(marker):
        os.remove(marker)
    print(f"*** streamfold: building the Cython extensions{' with line tracing (coverage)' if COVERAGE else ''}")
    ext_modules = cythonize(
        [
            Extension("streamfold._framing_c", ["ext/streamfold/_framing_c.pyx"], define_macros=macros),
            Extension("streamfold._fold_c", ["ext/streamfold/_fold_c.pyx"], define_macros=macros),
        ],
        include_path=["ext"],
        compiler_directives=directives,
        force=rebuild,
    )

setup(ext_modules=ext_modules)
