"""`provisioned_concurrency`: warm tools and policy environments the bridge actually invokes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stacks.config import ConfigError, load_config
from tests.stacks.conftest import CONTEXT, Synth


def _by_type(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {lid: r.get("Properties", {}) for lid, r in template["Resources"].items() if r["Type"] == type_}


def test_off_by_default_the_bridge_invokes_the_functions(synth: Synth) -> None:
    assert load_config({}).provisioned_concurrency == 0
    assert not list(synth.resources("AWS::Lambda::Alias"))
    env = json.dumps(next(p for _, _, p in synth.resources("AWS::ECS::TaskDefinition", "Bridge")))
    assert "TOOLS_FUNCTION_NAME" in env and ":live" not in env


def test_a_bad_value_is_one_line() -> None:
    with pytest.raises(ConfigError, match="provisioned_concurrency") as err:
        load_config({"provisioned_concurrency": "-1"})
    assert "\n" not in str(err.value)


def test_set_it_warms_tools_and_policy_and_the_bridge_calls_the_warm_alias(tmp_path: Path) -> None:
    from stacks.voice_agent_app import build_app

    app, config = build_app(CONTEXT | {"provisioned_concurrency": 3}, outdir=str(tmp_path))
    app.synth()
    functions = json.loads((tmp_path / f"{config.stack_prefix}Functions.template.json").read_text())
    bridge = json.loads((tmp_path / f"{config.stack_prefix}Bridge.template.json").read_text())
    aliases = _by_type(functions, "AWS::Lambda::Alias")
    handlers = {lid: p["Handler"] for lid, p in _by_type(functions, "AWS::Lambda::Function").items()}
    assert len(aliases) == 2
    warmed = set()
    for alias in aliases.values():
        assert alias["Name"] == "live"
        assert alias["ProvisionedConcurrencyConfig"] == {"ProvisionedConcurrentExecutions": 3}
        warmed.add(handlers[alias["FunctionName"]["Ref"]])
    assert warmed == {"functions.tools.handler.handler", "functions.policy.handler.handler"}
    # The bridge must invoke the aliases (an unqualified invoke would skip the warm environments),
    # and may invoke only them: the invoke grant names the aliases' ARNs (their Refs).
    task = json.dumps(_by_type(bridge, "AWS::ECS::TaskDefinition"))
    assert task.count(":live") >= 2
    invoke = [
        s
        for p in _by_type(bridge, "AWS::IAM::Policy").values()
        for s in p["PolicyDocument"]["Statement"]
        if s["Action"] == "lambda:InvokeFunction"
    ]
    assert len(invoke) == 1
    refs = json.dumps(invoke[0]["Resource"])
    assert "ToolsLive" in refs and "PolicyLive" in refs and len(invoke[0]["Resource"]) == 2
