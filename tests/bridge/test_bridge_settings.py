"""The container's configuration: read from the environment once, one clear line when wrong."""

from __future__ import annotations

import pytest

from realtime_bridge.main import settings_from_env

BASE = {
    "AGENT_SPEC_PATH": "/app/agents/riverside_clinic.yaml",
    "NUMBER_PLAN": '{"numbers": {"+12065550100": "riverside-clinic"}}',
    "CALLS_TABLE": "calls",
    "ARCHIVE_BUCKET": "archive",
    "EVENT_BUS_NAME": "voice-agent-bus",
    "TOOLS_FUNCTION_NAME": "tools",
    "POLICY_FUNCTION_NAME": "policy",
    "OPENAI_API_KEY": "sk-test",
}


def test_settings_read_lists_and_defaults() -> None:
    s = settings_from_env(BASE | {"SIP_TRANSPORTS": "tcp, udp", "CHIME_SIGNALING_CIDRS": "3.80.16.0/23,99.77.254.0/24"})
    assert s.mode == "production" and s.sip_port == 5060 and s.sip_transports == ("tcp", "udp")
    assert [str(n) for n in s.chime_signaling_cidrs] == ["3.80.16.0/23", "99.77.254.0/24"]
    assert "sk-test" not in repr(s)  # the key never reaches a log line
    assert s.event_loop == "uvloop" and settings_from_env(BASE | {"EVENT_LOOP": "asyncio"}).event_loop == "asyncio"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({k: v for k, v in BASE.items() if k != "CALLS_TABLE"}, "error: CALLS_TABLE: Field required"),
        ({k: v for k, v in BASE.items() if k != "NUMBER_PLAN"}, "error: NUMBER_PLAN: Field required"),
        (BASE | {"SIP_PORT": "99999"}, "error: SIP_PORT: Input should be less than or equal to 65535"),
        (BASE | {"CHIME_SIGNALING_CIDRS": "3.80.16.0/33"}, "error: CHIME_SIGNALING_CIDRS:"),
        (BASE | {"VOICE_AGENT_MODE": "staging"}, "error: VOICE_AGENT_MODE:"),
        (BASE | {"EVENT_LOOP": "trio"}, "error: EVENT_LOOP: Input should be 'uvloop' or 'asyncio'"),
    ],
)
def test_bad_configuration_stops_with_one_line(env: dict[str, str], message: str) -> None:
    with pytest.raises(SystemExit) as stop:
        settings_from_env(env)
    text = str(stop.value)
    assert text.startswith(message) and "\n" not in text
