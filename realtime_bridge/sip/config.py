"""Telephony configuration: one pydantic model, validated once at boot (fail fast)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, ip_address
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Amazon Chime SDK Voice Connector published signalling and media ranges (us-east-1, us-west-2).
# Region-dependent: override ``allowed_sources`` for other regions.
CHIME_SOURCE_RANGES: tuple[str, ...] = (
    "3.80.16.0/23",
    "99.77.254.0/24",
    "52.55.62.128/25",
    "52.55.63.0/25",
    "34.212.95.128/25",
    "34.223.21.0/25",
    "99.77.253.0/24",
)


class SipConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    bind_host: str = "0.0.0.0"
    sip_port: int = Field(5060, ge=0, le=65535)  # 0: pick a free port (tests)
    transports: tuple[Literal["udp", "tcp", "tls"], ...] = ("udp", "tcp")
    # SIP over TLS (RFC 3261 26.3.1) listens on its own port; 0 picks a free one (tests).
    tls_port: int = Field(5061, ge=0, le=65535)
    tls_cert_file: str | None = None  # PEM chain we present (for the origination host's name)
    tls_key_file: str | None = None
    tls_ca_file: str | None = None  # peers we connect to must chain to it (None: system store)
    # required: only SRTP offers (RTP/SAVP + a=crypto) are answered, clear RTP gets 488.
    # off: clear offers are answered too. An SRTP offer is always answered with SRTP.
    encryption: Literal["required", "off"] = "off"
    # Address written into SDP c= and Contact. None: discovered at boot (Fargate) or bind_host.
    public_ip: IPv4Address | None = None
    # Contact host:port, where Chime sends in-dialog requests (ACK, BYE). None: public IP and
    # the bound SIP port. Set it to the NLB's name to keep them on the load balancer.
    contact_host: str | None = None
    contact_port: int | None = Field(None, ge=1, le=65535)
    rtp_port_min: int = Field(10000, ge=1024, le=65535)
    rtp_port_max: int = Field(10999, ge=1024, le=65535)  # inclusive
    # None means "default for the mode": Chime's ranges in production, anything in development.
    allowed_sources: tuple[IPv4Network, ...] | None = None
    voice_connector_id: str | None = None
    check_voice_connector_id: bool = True
    max_calls: int = Field(50, ge=1)
    production: bool = False
    user_agent: str = "voice-agent-bridge"
    # RFC 3261 timer T1/T2 in seconds; tests shorten them.
    t1: float = Field(0.5, gt=0)
    t2: float = Field(4.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.rtp_port_min > self.rtp_port_max:
            raise ValueError("rtp_port_min must not exceed rtp_port_max")
        if not self.transports:
            raise ValueError("at least one SIP transport is required")
        if "tls" in self.transports and not (self.tls_cert_file and self.tls_key_file):
            raise ValueError("SIP over TLS needs tls_cert_file and tls_key_file")
        if self.encryption == "required" and self.transports != ("tls",):
            # SDES keys travel in the SDP: over clear signalling, SRTP would protect nothing.
            raise ValueError("encryption=required takes SIP over TLS only (SRTP keys travel in the SDP)")
        if self.production and self.check_voice_connector_id and not self.voice_connector_id:
            raise ValueError("production mode requires voice_connector_id (or check_voice_connector_id=false)")
        return self

    def effective_allowlist(self) -> tuple[IPv4Network, ...] | None:
        """Networks allowed to talk to us; None means every source is allowed."""
        if self.allowed_sources is not None:
            return self.allowed_sources
        if self.production:
            return tuple(IPv4Network(n) for n in CHIME_SOURCE_RANGES)
        return None

    def source_allowed(self, host: str) -> bool:
        allow = self.effective_allowlist()
        if allow is None:
            return True
        try:
            addr = ip_address(host)
        except ValueError:
            return False
        return any(addr in net for net in allow)

    def required_voice_connector_id(self) -> str | None:
        return self.voice_connector_id if self.check_voice_connector_id else None
