"""The CLI as a user runs it: exit codes, one-line errors, no tracebacks, valid JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from .conftest import EXAMPLE_SPEC, ROOT


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voice_agent_cli", *args], capture_output=True, text=True, cwd=ROOT, timeout=60
    )


def test_check_spec_accepts_the_example() -> None:
    res = _run("check-spec", str(EXAMPLE_SPEC))
    assert res.returncode == 0, res.stderr
    assert "OK" in res.stdout and "riverside-clinic" in res.stdout


def test_check_spec_rejects_an_unknown_field_type_in_one_line(tmp_path: Path) -> None:
    data = yaml.safe_load(EXAMPLE_SPEC.read_text())
    data["fields"][2]["type"] = "telephone"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    res = _run("check-spec", str(bad))
    assert res.returncode != 0
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "fields[callback_number].type" in lines[0] and "'telephone'" in lines[0]
    assert "Traceback" not in res.stderr


def test_tools_prints_one_record_tool_per_field_plus_the_shared_tools() -> None:
    res = _run("tools", str(EXAMPLE_SPEC))
    assert res.returncode == 0, res.stderr
    tools = json.loads(res.stdout)
    names = [t["name"] for t in tools]
    spec = yaml.safe_load(EXAMPLE_SPEC.read_text())
    assert names == [f"record_{f['name']}" for f in spec["fields"]] + [
        "decline_field",
        "categorize_call",
        "resolve_provider",
        "set_language",
        "end_call",
    ]
    for tool in tools:
        assert tool["type"] == "function" and tool["description"]
        assert tool["parameters"]["type"] == "object" and tool["parameters"]["additionalProperties"] is False


def test_missing_spec_file_is_a_clear_error() -> None:
    res = _run("tools", "no/such/spec.yaml")
    assert res.returncode == 2
    assert res.stderr.startswith("error: no/such/spec.yaml: cannot read the file")


def test_serve_local_refuses_a_scenario_with_another_model_endpoint_in_one_line() -> None:
    res = _run("serve", "--local", "--scenario", "scenarios/riverside_happy_path.yaml", "--openai-base-url", "http://x")
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        "error: --scenario drives the simulated model; it cannot go with --openai-base-url"
    ]


def test_serve_local_max_calls_must_be_positive() -> None:
    res = _run("serve", "--local", "--max-calls", "0")
    assert res.returncode == 2 and "must be at least 1" in res.stderr and "Traceback" not in res.stderr


def test_serve_local_model_target_never_sends_a_real_key_to_loopback() -> None:
    from simulator.local_world import LOCAL_KEY, model_target

    real = {"OPENAI_API_KEY": "sk-real"}
    assert model_target(None, {}) is None  # the embedded stand-in
    service = model_target(None, real)
    assert service is not None and service.base_url is None and service.api_key == "sk-real"
    local = model_target("http://127.0.0.1:9/v1", real)
    assert local is not None and local.base_url == "http://127.0.0.1:9/v1" and local.api_key == LOCAL_KEY
    proxy = model_target("https://proxy.example/v1", real)
    assert proxy is not None and proxy.api_key == "sk-real"
    assert "sk-real" not in repr(proxy)
