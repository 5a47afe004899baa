"""The Lambda bundle carries bytecode made by the runtime's Python version: Lambda's code directory
is read-only, so a bundle without it compiles every module from source on each cold start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from stacks.lambda_bundle import precompile, runtime_python

HERE = f"{sys.version_info.major}.{sys.version_info.minor}"


def test_the_bundle_is_precompiled_by_the_runtime_python(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "mod.py").write_text("VALUE = 42\n")
    assert runtime_python(HERE) == sys.executable
    assert precompile(tmp_path, HERE)
    tag = sys.implementation.cache_tag
    assert (tmp_path / "pkg" / "__pycache__" / f"mod.{tag}.pyc").is_file()
    (tmp_path / "pkg" / "mod.py").write_text("VALUE = 0\n")  # unchecked-hash: the deployed bytecode is what runs
    code = "import pkg.mod; print(pkg.mod.VALUE)"
    out = subprocess.run([sys.executable, "-B", "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "42"


def test_without_that_python_the_bundle_still_builds_and_synth_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "mod.py").write_text("VALUE = 1\n")
    assert runtime_python("2.1") is None
    assert not precompile(tmp_path, "2.1")
    assert not list(tmp_path.rglob("*.pyc"))
    assert "no python2.1 on PATH to precompile" in capsys.readouterr().err
