"""One Lambda asset for every handler, bundled on this machine with pip: no Docker.

The bundle holds the library (voice_agent/), the thin handlers (functions/), the agent spec at
its repo-relative path, and the pinned runtime dependencies from functions/requirements.txt,
installed as wheels for the function's platform (manylinux2014 aarch64) and Python version, all
precompiled to bytecode by that Python version when this machine has it (see `precompile`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from stacks.config import REPO_ROOT

LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_12
LAMBDA_ARCHITECTURE = lambda_.Architecture.ARM_64
REQUIREMENTS = REPO_ROOT / "functions" / "requirements.txt"
_PACKAGES = ("voice_agent", "functions")
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "tests", "requirements.txt")

# What the asset hash covers: the packages, the specs and the pins. Anything else (tests, the
# simulator, the bridge) changing must not redeploy the functions.
ASSET_EXCLUDE = [
    "*",
    "!voice_agent",
    "!voice_agent/**",
    "!functions",
    "!functions/**",
    "!agents",
    "!agents/**",
    "**/__pycache__",
    "**/*.pyc",
]


class BundleError(RuntimeError):
    """pip could not produce the bundle; str() is one line starting with PREFIX."""

    PREFIX = "Lambda bundle:"


@jsii.implements(ILocalBundling)
class LocalPipBundling:
    def __init__(self, spec_relpath: str, python_version: str, platform: str) -> None:
        self._spec_relpath = spec_relpath
        self._python_version = python_version
        self._platform = platform

    def try_bundle(self, output_dir: str, *_args: Any, **_kwargs: Any) -> bool:
        out = Path(output_dir)
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",  # .pyc compiled here would be for this interpreter, not the runtime's
            "--only-binary=:all:",
            "--implementation=cp",
            f"--platform={self._platform}",
            f"--python-version={self._python_version}",
            f"--target={out}",
            "-r",
            str(REQUIREMENTS),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["pip failed"])[-1]
            raise BundleError(f"{BundleError.PREFIX} pip install failed: {last}")
        for package in _PACKAGES:
            shutil.copytree(REPO_ROOT / package, out / package, ignore=_SKIP, dirs_exist_ok=True)
        spec_target = out / self._spec_relpath
        spec_target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / self._spec_relpath, spec_target)
        precompile(out, self._python_version)
        return True


def runtime_python(python_version: str) -> str | None:
    """An interpreter of the functions' Python version on this machine, if there is one."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == python_version:
        return sys.executable
    return shutil.which(f"python{python_version}")


def precompile(out: Path, python_version: str) -> bool:
    """Bytecode for every module of the bundle, made by the runtime's own Python version.

    Lambda's code directory is read-only, so a bundle without it compiles pydantic, the SDKs and
    our modules from source on every cold start (measured: 450 ms instead of 270 ms for the policy
    handler's import). `unchecked-hash` pycs are never revalidated against their sources, which a
    deployed bundle never changes. Without that interpreter the bundle still works, only slower
    to start cold, and synth says so.
    """
    python = runtime_python(python_version)
    if python is None:
        print(
            f"warning: {BundleError.PREFIX} no python{python_version} on PATH to precompile the functions' bytecode; "
            "cold starts will compile it from source (install Python "
            f"{python_version} and synth again for faster cold starts)",
            file=sys.stderr,
        )
        return False
    cmd = [python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:  # a module that does not compile fails where it is imported, as it would anyway
        last = (proc.stdout.strip().splitlines() or proc.stderr.strip().splitlines() or ["compileall failed"])[-1]
        print(f"warning: {BundleError.PREFIX} some bytecode was not precompiled: {last}", file=sys.stderr)
    return True


def lambda_code(spec_relpath: str) -> lambda_.Code:
    """The shared asset. Bundling is skipped (and pip never runs) for stacks outside the
    `aws:cdk:bundling-stacks` context, which is how the tests synthesize quickly."""
    python_version = LAMBDA_RUNTIME.name.removeprefix("python")
    platform = "manylinux2014_aarch64" if LAMBDA_ARCHITECTURE.name == "arm64" else "manylinux2014_x86_64"
    return lambda_.Code.from_asset(
        str(REPO_ROOT),
        exclude=ASSET_EXCLUDE,
        bundling=BundlingOptions(
            # Never pulled: local bundling always succeeds or raises.
            image=DockerImage.from_registry("public.ecr.aws/sam/build-python" + python_version),
            local=LocalPipBundling(spec_relpath, python_version, platform),
        ),
    )
