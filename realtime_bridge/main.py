"""`voice-agent serve`: the bridge container's entry point. Configuration comes from the
environment (set by the CDK stack), is validated once at boot, and a bad value stops the
process with one line. SIGTERM drains: new calls get 503, active calls continue until the
drain deadline, then get the closing and BYE, with everything flushed.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
from collections.abc import Mapping
from ipaddress import IPv4Address, IPv4Network
from typing import Literal

import boto3
import openai
from botocore.config import Config
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from realtime_bridge import event_loop
from realtime_bridge.agent_routes import AgentRoutes
from realtime_bridge.aws_http import lambda_http
from realtime_bridge.bridge_app import BridgeDeps, CallRouter
from realtime_bridge.call import CallSettings
from realtime_bridge.event_loop import LoopName
from realtime_bridge.journal_table import journal_table
from realtime_bridge.net.discovery import resolve_public_ip
from realtime_bridge.net.health import HealthServer, HealthStatus
from realtime_bridge.realtime.client import OpenAIRealtimeClient
from realtime_bridge.sip.config import SipConfig
from realtime_bridge.sip.server import SipServer
from realtime_bridge.sip.tls_material import TlsFiles, write_tls_material
from realtime_bridge.tool_invoker import LambdaInvoker
from voice_agent.agent_registry import AgentRegistry, NumberPlan, RegistryError
from voice_agent.archive_store import ArchiveStore
from voice_agent.cost import PricesError, prices_from_json
from voice_agent.event_bus import BusPublisher
from voice_agent.record_store import RecordStore
from voice_agent.spec import SpecError, parse_spec_text, read_spec_text

log = logging.getLogger("realtime_bridge")
# The store's users: the journal writer's thread and the loop's default executor (finalize_call,
# a reconnect's record state), whose size asyncio picks as min(32, cores + 4). One connection
# each, kept alive: a thread that finds the pool empty opens (and then drops) a new one.
STORE_POOL = min(32, (os.cpu_count() or 1) + 4) + 1


SWITCH_INTERVAL_S = 0.001  # Python's default is 5 ms


class BridgeSettings(BaseModel):
    """Every setting of the bridge, with the environment variable it comes from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["production", "development"] = "production"  # VOICE_AGENT_MODE
    # AGENT_SPEC_PATH, comma separated: the specs baked into the image, installed in the registry at
    # boot unless it already holds a version of that agent (after the first deploy, `voice-agent
    # agents push` changes a spec without a redeploy).
    agent_spec_path: tuple[str, ...]
    # NUMBER_PLAN: JSON {"numbers": {"+1...": agent}, "default": agent?}; its routes are installed at
    # boot where the registry has none. Required: no number reaches an agent by accident.
    number_plan: str
    realtime_model: str | None = None  # REALTIME_MODEL (default: the spec's model)
    calls_table: str  # CALLS_TABLE
    archive_bucket: str  # ARCHIVE_BUCKET
    event_bus_name: str  # EVENT_BUS_NAME
    tools_function_name: str  # TOOLS_FUNCTION_NAME
    policy_function_name: str  # POLICY_FUNCTION_NAME
    voice_connector_id: str | None = None  # VOICE_CONNECTOR_ID
    sip_port: int = Field(5060, ge=1, le=65535)  # SIP_PORT
    # SIP_TRANSPORTS, comma separated; unset: tls with encryption required, else tcp.
    sip_transports: tuple[Literal["udp", "tcp", "tls"], ...] | None = None
    # ENCRYPTION: required answers only SRTP offers over SIP/TLS (clear RTP gets 488); off allows clear.
    encryption: Literal["required", "off"] = "required"
    sip_tls_port: int = Field(5061, ge=1, le=65535)  # SIP_TLS_PORT
    sip_tls_cert: str | None = Field(None, repr=False)  # SIP_TLS_CERT: PEM chain for the origination host
    sip_tls_key: str | None = Field(None, repr=False)  # SIP_TLS_KEY: its private key (an ECS secret)
    sip_tls_ca: str | None = Field(None, repr=False)  # SIP_TLS_CA: PEM that peers we connect to chain to
    sip_contact_host: str | None = None  # SIP_CONTACT_HOST: Contact host (the certificate's name)
    rtp_port_min: int = 10000  # RTP_PORT_MIN
    rtp_port_max: int = 10999  # RTP_PORT_MAX
    health_port: int = Field(8080, ge=1, le=65535)  # HEALTH_PORT
    public_ip: IPv4Address | None = None  # PUBLIC_IP (else discovered on Fargate)
    chime_signaling_cidrs: tuple[IPv4Network, ...] = ()  # CHIME_SIGNALING_CIDRS, comma separated
    chime_media_cidrs: tuple[IPv4Network, ...] = ()  # CHIME_MEDIA_CIDRS (security groups use them)
    # DRAIN_DEADLINE_S: must end well inside ECS's stop timeout (120 s on Fargate) to leave room
    # for the closing and BYE before SIGKILL.
    drain_deadline_s: float = Field(90.0, gt=0)
    openai_api_key: str = Field(min_length=1, repr=False)  # OPENAI_API_KEY (an ECS secret)
    openai_base_url: str | None = None  # OPENAI_BASE_URL (unset: the real API)
    event_loop: LoopName = "uvloop"  # EVENT_LOOP: asyncio is the way back if uvloop misbehaves
    # PRICES: JSON of voice_agent.cost.Prices (with `set_on`, the date they were set); unset: the defaults.
    prices: str | None = None


_LISTS = {"sip_transports", "chime_signaling_cidrs", "chime_media_cidrs", "agent_spec_path"}


def settings_from_env(env: Mapping[str, str]) -> BridgeSettings:
    raw: dict[str, object] = {}
    for name in BridgeSettings.model_fields:
        var = "VOICE_AGENT_MODE" if name == "mode" else name.upper()
        value = env.get(var)
        if value:
            raw[name] = tuple(v.strip() for v in value.split(",") if v.strip()) if name in _LISTS else value
    try:
        return BridgeSettings.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "configuration"
        var = "VOICE_AGENT_MODE" if name == "mode" else name.upper()
        raise SystemExit(f"error: {var}: {first['msg']}") from None


def sip_config_from(settings: BridgeSettings, tls: TlsFiles | None) -> SipConfig:
    """The SIP configuration; a contradiction (encryption without TLS material) is one line."""
    transports = settings.sip_transports or (("tls",) if settings.encryption == "required" else ("tcp",))
    if settings.encryption == "required" and transports != ("tls",):
        raise SystemExit("error: SIP_TRANSPORTS: ENCRYPTION=required takes tls only (SRTP keys travel in SIP)")
    if "tls" in transports and tls is None:
        raise SystemExit("error: SIP_TLS_CERT and SIP_TLS_KEY: required for SIP over TLS")
    return SipConfig(
        sip_port=settings.sip_port,
        transports=transports,
        tls_port=settings.sip_tls_port,
        tls_cert_file=tls.cert_file if tls else None,
        tls_key_file=tls.key_file if tls else None,
        tls_ca_file=tls.ca_file if tls else None,
        encryption=settings.encryption,
        public_ip=settings.public_ip,
        contact_host=settings.sip_contact_host,
        rtp_port_min=settings.rtp_port_min,
        rtp_port_max=settings.rtp_port_max,
        allowed_sources=settings.chime_signaling_cidrs or None,
        voice_connector_id=settings.voice_connector_id,
        production=settings.mode == "production",
    )


def tls_files_from(settings: BridgeSettings) -> TlsFiles | None:
    if not (settings.sip_tls_cert and settings.sip_tls_key):
        return None
    try:
        return write_tls_material(settings.sip_tls_cert, settings.sip_tls_key, settings.sip_tls_ca)
    except ValueError as err:
        raise SystemExit(f"error: SIP_TLS_CERT, SIP_TLS_KEY or SIP_TLS_CA: {err}") from None


def baked_agents(settings: BridgeSettings) -> tuple[dict[str, str], NumberPlan]:
    """The image's specs and the deployment's number plan, validated; one line when wrong."""
    try:
        texts = {path: read_spec_text(path) for path in settings.agent_spec_path}
        for path, text in texts.items():
            parse_spec_text(text, path)
    except SpecError as err:
        raise SystemExit(f"error: AGENT_SPEC_PATH: {err}") from None
    try:
        plan = NumberPlan.model_validate_json(settings.number_plan)
    except ValidationError as err:
        first = err.errors()[0]
        raise SystemExit(f"error: NUMBER_PLAN: {'.'.join(map(str, first['loc'])) or 'plan'}: {first['msg']}") from None
    return texts, plan


async def serve(settings: BridgeSettings) -> None:
    texts, plan = baked_agents(settings)
    try:
        prices_from_json(settings.prices)
    except PricesError as err:
        raise SystemExit(f"error: PRICES: {err}") from None
    tls = tls_files_from(settings)
    try:
        await _serve(settings, texts, plan, sip_config_from(settings, tls))
    finally:
        if tls is not None:
            tls.close()


async def _serve(settings: BridgeSettings, texts: dict[str, str], plan: NumberPlan, sip_config: SipConfig) -> None:
    public_ip = await asyncio.to_thread(resolve_public_ip, sip_config)
    table = boto3.resource("dynamodb", config=Config(max_pool_connections=STORE_POOL)).Table(settings.calls_table)
    s3 = boto3.client("s3")
    registry = AgentRegistry(table, s3, settings.archive_bucket)
    try:
        await asyncio.to_thread(registry.install, texts, plan, keep_existing=True)
    except RegistryError as err:
        raise SystemExit(f"error: NUMBER_PLAN: {err}") from None
    openai_client = openai.AsyncOpenAI(api_key=settings.openai_api_key, base_url=settings.openai_base_url)
    deps = BridgeDeps(
        routes=AgentRoutes(registry),
        store=RecordStore(table),
        journal=journal_table(boto3.Session(), settings.calls_table),
        archive=ArchiveStore(s3, settings.archive_bucket),
        sink=BusPublisher(boto3.client("events"), settings.event_bus_name),
        invoker=LambdaInvoker(
            lambda_http(boto3.Session()), settings.tools_function_name, settings.policy_function_name
        ),
        realtime=lambda: OpenAIRealtimeClient(openai_client),
        call_settings=CallSettings(model=settings.realtime_model),
        prices=prices_from_json(settings.prices),
    )
    await run_bridge(deps, sip_config, public_ip, settings.health_port, settings.drain_deadline_s)


async def run_bridge(
    deps: BridgeDeps, sip_config: SipConfig, public_ip: str, health_port: int, drain_deadline_s: float
) -> None:
    """Serve calls until SIGTERM (or SIGINT), then drain: shared by production and `serve --local`."""
    # The loop paces every call's RTP; worker threads (journal writes, Lambda invokes) hold the GIL
    # for up to the switch interval at a time, so a shorter one keeps 20 ms frames on time.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    router = CallRouter(deps)
    sip = SipServer(sip_config, router, public_ip=public_ip)
    router.sip = sip
    await sip.start()
    health = HealthServer(lambda: HealthStatus(healthy=True, draining=sip.draining, active_calls=sip.active_calls))
    await health.start(sip_config.bind_host, health_port)
    # A full garbage collection stops every call's audio while it walks the heap, and most of the
    # heap is what startup loaded (SDK models, botocore's service data). Collect that once now and
    # freeze the survivors out of the collector's view: at 100 calls a full collection measured
    # 180 ms before, 30 ms after.
    gc.collect()
    gc.freeze()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "bridge ready: SIP %s:%s, health :%s, public IP %s", sip_config.bind_host, sip.sip_port, health.port, public_ip
    )
    try:
        await stop.wait()
        sip.drain()  # OPTIONS and new INVITEs get 503 from now on; the NLB stops sending new calls
        log.info("draining %d active calls (deadline %.0f s)", sip.active_calls, drain_deadline_s)
        try:
            await asyncio.wait_for(sip.wait_idle(), drain_deadline_s)
        except TimeoutError:
            teardown_s = router.closing_teardown_s
            await router.drain_calls()  # the gate plays the closing, then each call hangs up
            await asyncio.wait_for(sip.wait_idle(), teardown_s + 10)
        while router.running:
            await asyncio.sleep(0.1)  # let the last calls flush their transcripts and events
    finally:
        await health.close()
        await sip.close()
        await router.close()


def main(env: Mapping[str, str] | None = None) -> int:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), format="%(message)s")
    settings = settings_from_env(os.environ if env is None else env)
    event_loop.run(serve(settings), settings.event_loop)
    return 0
