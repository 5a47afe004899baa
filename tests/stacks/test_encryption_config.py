"""The encryption setting: on by default (TLS 5061 + SRTP), off only when asked, bad values one line."""

from __future__ import annotations

import pytest

from stacks.config import ConfigError, load_config
from tests.stacks.conftest import CONTEXT


def test_encryption_is_on_by_default_and_uses_5061() -> None:
    config = load_config(CONTEXT)
    assert config.encrypted and config.sip_port == 5061
    assert config.sip_domain is None and config.sip_tls_secret_arn is None


def test_encryption_off_is_tcp_5060() -> None:
    config = load_config(CONTEXT | {"encryption": "off"})
    assert not config.encrypted and config.sip_port == 5060


def test_a_domain_and_an_existing_secret_are_taken() -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:voice-agent/sip-tls-AbCdEf"
    config = load_config(CONTEXT | {"sip_domain": "sip.clinic.example.org", "sip_tls_secret_arn": arn})
    assert config.sip_domain == "sip.clinic.example.org" and config.sip_tls_secret_arn == arn


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("encryption", "optional", "context encryption: 'optional' is not one of required, off"),
        ("sip_domain", "not a host", "context sip_domain: 'not a host' is not a lowercase DNS name"),
        ("sip_tls_secret_arn", "my-secret", "context sip_tls_secret_arn: 'my-secret' is not a Secrets Manager"),
    ],
)
def test_bad_encryption_settings_are_one_line(key: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(CONTEXT | {key: value})
    assert str(err.value).startswith(message) and "\n" not in str(err.value)
