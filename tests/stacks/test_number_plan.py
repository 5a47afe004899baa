"""`cdk deploy -c number_plan=numbers.yaml`: every agent of the plan ships in the bridge image and
every number is attached to the Voice Connector and read back. A bad plan stops synth with one
line. (What the functions may read of agents/ is in test_security.py.)"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Aspects
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from stacks.config import ConfigError, load_config
from stacks.telephony_stack import TelephonyStack
from tests.stacks.conftest import CONTEXT

PLAN = {**{k: v for k, v in CONTEXT.items() if k != "phone_number"}, "number_plan": "numbers.yaml"}


def test_the_plan_names_every_agent_and_number() -> None:
    config = load_config(PLAN)
    assert config.phone_numbers == ("+12065550100", "+12065550101")
    assert config.agent_relpaths == ("agents/plumbing_dispatch.yaml", "agents/riverside_clinic.yaml")
    assert config.number_plan.numbers["+12065550101"] == "plumbing-dispatch"
    assert config.max_call_seconds == 900  # the longest call of any agent: the clinic's


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"phone_number": "+12065550100"}, "context phone_number: with number_plan, list every number in the plan"),
        ({"number_plan": "tests/stacks/fixtures/plan_unknown_agent.yaml"}, "no spec in agents/ for agent nobody"),
        ({"number_plan": "tests/stacks/fixtures/plan_bad_number.yaml"}, "numbers.555-0100"),
        ({"number_plan": "/etc/hostname"}, "inside the project folder"),
    ],
)
def test_a_bad_plan_stops_synth_with_one_line(extra: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config({**PLAN, **extra})
    assert expected in str(err.value) and "\n" not in str(err.value)


def test_every_number_of_the_plan_is_attached_and_read_back() -> None:
    app = App(context={"aws:cdk:bundling-stacks": []})
    stack = TelephonyStack(app, "PlanTelephony", config=load_config(PLAN))
    Aspects.of(app).add(AwsSolutionsChecks())
    template = Template.from_stack(stack)
    calls = template.find_resources("Custom::AWS")
    (assoc,) = [r for lid, r in calls.items() if lid.startswith("PhoneNumberAssociation")]
    create = json.dumps(assoc["Properties"]["Create"])
    assert "+12065550100" in create and "+12065550101" in create
    checks = [r for lid, r in calls.items() if lid.startswith("PhoneNumberCheck")]
    assert sorted("+12065550101" in json.dumps(r["Properties"]["Create"]) for r in checks) == [False, True]
    outputs = template.find_outputs("*")
    assert {
        o["Value"] for lid, o in outputs.items() if lid.startswith("PhoneNumber") and "VoiceConnector" not in lid
    } == {
        "+12065550100",
        "+12065550101",
    }
    errors = [m for m in app.node.metadata if m.type == "aws:cdk:error"]
    assert not errors
    nag_errors = [
        entry.data
        for child in stack.node.find_all()
        for entry in child.node.metadata
        if entry.type == "aws:cdk:error" and "AwsSolutions" in str(entry.data)
    ]
    assert nag_errors == []
