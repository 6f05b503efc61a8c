"""Build the optional native extensions: batch SHA-256 (attestations/_sha256batch.c),
amount parsing (verifier/inputs/_amounts.c) and the account dictionary
(verifier/inputs/_ids.c).

Everything else about the package lives in pyproject.toml; this file exists only because
extension modules whose build may fail need a build_ext that catches the failure. All are
optional: without a C compiler, Python headers or libssl-dev's headers, `pip install .`
and `pip wheel .` still succeed with a warning, and por uses its pure-Python paths (same
results, slower; `por --version --json` says which are native). POR_NATIVE_BUILD=0 skips
the build. A wheel in which nothing was built is tagged `py3-none-any`, as a pure wheel
is, instead of carrying this machine's platform tag for code it does not contain.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

try:  # setuptools >= 70.1 ships bdist_wheel; older ones use the wheel package's
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # pragma: no cover - depends on the build environment
    try:
        from wheel.bdist_wheel import bdist_wheel  # type: ignore[no-redef]
    except ImportError:
        bdist_wheel = None  # type: ignore[assignment,misc]

WHY_NATIVE = {
    "attestations._sha256batch": (
        "SHA-256",
        "its pure-Python hashing",
        "a C compiler and libssl-dev",
    ),
    "verifier.inputs._amounts": ("amount parsing", "Arrow's casts", "a C compiler"),
    "verifier.inputs._ids": ("account dictionary", "Arrow's dictionary_encode", "a C compiler"),
}


class OptionalBuildExt(build_ext):
    """build_ext that warns instead of failing: the native code is an optimisation."""

    built: list[str]

    def run(self) -> None:
        self.built = []
        if os.environ.get("POR_NATIVE_BUILD", "1") == "0":
            for ext in self.extensions:
                self._skip(ext.name, "POR_NATIVE_BUILD=0")
            return
        try:
            super().run()
        except Exception as exc:  # any build failure means "use the fallback"
            for ext in self.extensions:
                if ext.name not in self.built:
                    self._skip(ext.name, f"{type(exc).__name__}: {exc}")

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:  # a compiler or header missing
            self._skip(ext.name, f"{type(exc).__name__}: {exc}")
        else:
            self.built.append(ext.name)

    def _skip(self, name: str, why: str) -> None:
        what, fallback, needs = WHY_NATIVE.get(name, ("code", "its Python path", "a compiler"))
        print(
            f"WARNING: the native {what} extension {name} was not built ({why}); por uses "
            f"{fallback} (same results, slower). For speed install {needs}, then reinstall.",
            file=sys.stderr,
        )


class BuildPyWithoutBinaries(build_py):
    """build_py that never ships an extension built in place (`pip install -e .` leaves
    one beside its source) as package data: a wheel carries the one its own build_ext
    made, or none, and is then pure."""

    def find_data_files(self, package: str, src_dir: str) -> list[str]:
        files: list[str] = super().find_data_files(package, src_dir)
        return [f for f in files if not f.endswith((".so", ".pyd"))]


cmdclass: dict[str, Any] = {"build_ext": OptionalBuildExt, "build_py": BuildPyWithoutBinaries}

if bdist_wheel is not None:

    class WheelTaggedByContent(bdist_wheel):  # type: ignore[misc,valid-type]
        """bdist_wheel whose tag follows what was built: setuptools tags a wheel for this
        platform whenever ext_modules is non-empty, even when every build was skipped."""

        def run(self) -> None:
            self.run_command("build")  # runs once: bdist_wheel's own call is then a no-op
            build_ext_cmd = self.get_finalized_command("build_ext")
            built = getattr(build_ext_cmd, "built", None)
            for ext in self.distribution.ext_modules or []:
                if built is not None and ext.name not in built:
                    # a stale copy left in build/ by an earlier build is not this build's
                    build_lib = self.get_finalized_command("build").build_lib
                    stale = os.path.join(build_lib, build_ext_cmd.get_ext_filename(ext.name))
                    if os.path.exists(stale):
                        os.remove(stale)
            if built is not None and not built:
                self.distribution.ext_modules = []
                self.root_is_pure = True
            super().run()

    cmdclass["bdist_wheel"] = WheelTaggedByContent


setup(
    ext_modules=[
        Extension(
            "attestations._sha256batch",
            sources=["attestations/_sha256batch.c"],
            libraries=["crypto"],
            extra_compile_args=["-O2"],
            optional=True,
        ),
        Extension(
            "verifier.inputs._amounts",
            sources=["verifier/inputs/_amounts.c"],
            extra_compile_args=["-O2"],
            optional=True,
        ),
        Extension(
            "verifier.inputs._ids",
            sources=["verifier/inputs/_ids.c"],
            extra_compile_args=["-O2"],
            optional=True,
        ),
    ],
    cmdclass=cmdclass,
)
