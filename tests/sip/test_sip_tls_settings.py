"""The container's encryption settings: TLS + SRTP by default, one clear line when they contradict."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from realtime_bridge.main import settings_from_env, sip_config_from, tls_files_from
from simulator.loopback_tls import LoopbackTls, make_loopback_tls

BASE = {
    "AGENT_SPEC_PATH": "/app/agents/riverside_clinic.yaml",
    "NUMBER_PLAN": '{"default": "riverside-clinic"}',
    "CALLS_TABLE": "calls",
    "ARCHIVE_BUCKET": "archive",
    "EVENT_BUS_NAME": "voice-agent-bus",
    "TOOLS_FUNCTION_NAME": "tools",
    "POLICY_FUNCTION_NAME": "policy",
    "OPENAI_API_KEY": "sk-test",
    "VOICE_CONNECTOR_ID": "abcdef1ghij2klmno3pqr4",
}


@pytest.fixture
def certs() -> Iterator[LoopbackTls]:
    tls = make_loopback_tls()
    yield tls
    tls.close()


def pem_env(certs: LoopbackTls) -> dict[str, str]:
    return {
        "SIP_TLS_CERT": Path(certs.bridge_cert).read_text(),
        "SIP_TLS_KEY": Path(certs.bridge_key).read_text(),
        "SIP_TLS_CA": Path(certs.ca_file).read_text(),
    }


def test_default_is_tls_only_with_srtp_required(certs: LoopbackTls) -> None:
    settings = settings_from_env(BASE | pem_env(certs) | {"SIP_CONTACT_HOST": "sip.example.org"})
    assert settings.encryption == "required"
    assert certs.bridge_key not in repr(settings) and "PRIVATE KEY" not in repr(settings)
    files = tls_files_from(settings)
    assert files is not None
    try:
        config = sip_config_from(settings, files)
        assert config.transports == ("tls",) and config.tls_port == 5061 and config.encryption == "required"
        assert config.contact_host == "sip.example.org"
        assert stat.S_IMODE(os.stat(files.folder).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(files.key_file).st_mode) == 0o600
    finally:
        files.close()
    assert not files.folder.exists()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "error: SIP_TLS_CERT and SIP_TLS_KEY: required for SIP over TLS"),
        ({"SIP_TRANSPORTS": "tcp"}, "error: SIP_TRANSPORTS: ENCRYPTION=required takes tls only"),
        ({"ENCRYPTION": "off", "SIP_TRANSPORTS": "tcp,tls"}, "error: SIP_TLS_CERT and SIP_TLS_KEY"),
    ],
)
def test_contradictions_stop_with_one_line(env: dict[str, str], message: str) -> None:
    settings = settings_from_env(BASE | env)
    with pytest.raises(SystemExit) as stop:
        sip_config_from(settings, tls_files_from(settings))
    assert str(stop.value).startswith(message) and "\n" not in str(stop.value)


def test_unusable_pem_stops_with_one_line(certs: LoopbackTls) -> None:
    env = pem_env(certs) | {"SIP_TLS_KEY": Path(certs.caller_key).read_text()}  # another certificate's key
    with pytest.raises(SystemExit) as stop:
        tls_files_from(settings_from_env(BASE | env))
    assert str(stop.value).startswith("error: SIP_TLS_CERT, SIP_TLS_KEY or SIP_TLS_CA: ")
    assert "\n" not in str(stop.value) and "BEGIN" not in str(stop.value)
    with pytest.raises(SystemExit, match="ENCRYPTION"):
        settings_from_env(BASE | {"ENCRYPTION": "optional"})


def test_encryption_off_keeps_clear_tcp() -> None:
    config = sip_config_from(settings_from_env(BASE | {"ENCRYPTION": "off"}), None)
    assert config.transports == ("tcp",) and config.encryption == "off"
