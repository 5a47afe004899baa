"""`voice-agent agents push|list|show` against a local stack: a push is validated like `check-spec`,
archived as a version named by its content, and routes numbers; the registry shows what is live."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator.local_stack import LOCAL_BUCKET, LocalStack
from voice_agent.agent_registry import AgentRegistry
from voice_agent.spec import spec_version
from voice_agent_cli.main import main

from ..conftest import ROOT

PLUMBING = ROOT / "agents" / "plumbing_dispatch.yaml"


def agents(stack: LocalStack, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["agents", "--endpoint-url", stack.endpoint_url, *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_bad_spec_is_refused_with_check_specs_line_and_nothing_changes(
    local_stack: LocalStack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(PLUMBING.read_text().replace("type: boolean", "type: yes_or_no"))
    assert main(["check-spec", str(bad)]) == 2
    checked = capsys.readouterr().err
    code, out, err = agents(local_stack, capsys, "push", str(bad), "--number", "+12065550177")
    assert (code, out, err) == (2, "", checked)  # the very line check-spec prints
    assert "fields[water_shut_off].type" in err
    code, _, err = agents(local_stack, capsys, "push", str(PLUMBING), "--number", "555-0100")
    assert code == 2 and err == "error: '555-0100' is not an E.164 number like +12065550100\n"
    registry = AgentRegistry(local_stack.table, local_stack.client("s3"), LOCAL_BUCKET)
    assert registry.route("+12065550177") is None


def test_push_list_show_a_new_version_and_its_archived_text(
    local_stack: LocalStack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    v1_text = PLUMBING.read_text()
    code, out, _ = agents(local_stack, capsys, "push", str(PLUMBING), "--number", "+12065550188", "--label", "v1")
    v1 = spec_version(v1_text)
    assert code == 0 and f"pushed plumbing-dispatch @ {v1} (v1)" in out and "+12065550188 -> plumbing-dispatch" in out

    edited = tmp_path / "plumbing.yaml"
    v2_text = v1_text.replace("What's the problem?", "What's going on?")
    edited.write_text(v2_text)
    code, out, _ = agents(local_stack, capsys, "push", str(edited), "--label", "v2")
    v2 = spec_version(v2_text)
    assert code == 0 and f"@ {v2} (v2)" in out

    code, out, _ = agents(local_stack, capsys, "list", "--json")
    [row] = [r for r in json.loads(out) if r["agent"] == "plumbing-dispatch"]
    assert (row["version"], row["label"], row["numbers"]) == (v2, "v2", ["+12065550188"])  # the number stays

    code, out, _ = agents(local_stack, capsys, "show", "plumbing-dispatch")
    lines = out.splitlines()
    assert [line.split()[0:2] for line in lines] == [[v1, "(v1)"], ["*", v2]]  # v2 current, v1 kept
    code, out, _ = agents(local_stack, capsys, "show", "plumbing-dispatch", "--version", v1)
    assert out == v1_text  # what the model was told on v1's calls, byte for byte
    assert agents(local_stack, capsys, "show", "nobody")[0] == 1


def test_without_a_place_it_says_where_to_look(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["agents", "list"]) == 2
    assert "--endpoint-url URL (a local stack) or --aws" in capsys.readouterr().err
