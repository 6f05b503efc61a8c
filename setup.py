"""Build the optional native batch SHA-256 extension (attestations/_sha256batch.c).

Everything else about the package lives in pyproject.toml; this file exists only because
an extension module whose build may fail needs a build_ext that catches the failure. The
extension is optional: without a C compiler, Python headers or libssl-dev's headers,
`pip install .` and `pip wheel .` still succeed with a warning, and attestations/hashing.py
then uses its pure-Python path (same bytes, slower). POR_NATIVE_BUILD=0 skips the build.
"""

from __future__ import annotations

import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    """build_ext that warns instead of failing: the native hashing is an optimisation."""

    def run(self) -> None:
        if os.environ.get("POR_NATIVE_BUILD", "1") == "0":
            self._skip("POR_NATIVE_BUILD=0")
            return
        try:
            super().run()
        except Exception as exc:  # any build failure means "use the fallback"
            self._skip(f"{type(exc).__name__}: {exc}")

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:  # a compiler or header missing
            self._skip(f"{type(exc).__name__}: {exc}")

    def _skip(self, why: str) -> None:
        print(
            "WARNING: the native SHA-256 extension attestations._sha256batch was not built "
            f"({why}); por uses its pure-Python hashing (same results, slower). For speed "
            "install a C compiler and libssl-dev, then reinstall.",
            file=sys.stderr,
        )


setup(
    ext_modules=[
        Extension(
            "attestations._sha256batch",
            sources=["attestations/_sha256batch.c"],
            libraries=["crypto"],
            extra_compile_args=["-O2"],
            optional=True,
        )
    ],
    cmdclass={"build_ext": OptionalBuildExt},
)
