"""Deployment settings, read from CDK context (cdk.json or `-c key=value`) and checked before synth.

Every bad value raises ConfigError whose str() is one line naming the key and the problem, so
`make synth` / `cdk synth` can print it and stop without a traceback.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import phonenumbers

from voice_agent.agent_registry import NumberPlan, RegistryError, load_number_plan
from voice_agent.cost import Prices, PricesError, prices_from_json
from voice_agent.spec import AgentSpec, SpecError, load_spec

REPO_ROOT = Path(__file__).resolve().parent.parent

# Amazon Chime SDK Voice Connector published ranges (see docs/deploy.md for the source list).
# Signalling reaches the NLB and the tasks on TCP 5060; media reaches the tasks on the RTP range.
# Media relays are shared between the US regions, so both regions admit all four /25s.
_US_MEDIA_RELAYS = ("52.55.62.128/25", "52.55.63.0/25", "34.212.95.128/25", "34.223.21.0/25")
CHIME_CIDRS: dict[str, dict[str, tuple[str, ...]]] = {
    "us-east-1": {
        "signaling": ("3.80.16.0/23", "99.77.254.0/24"),
        "media": ("3.80.16.0/23", "99.77.254.0/24", *_US_MEDIA_RELAYS),
    },
    "us-west-2": {
        "signaling": ("99.77.253.0/24",),
        "media": ("99.77.253.0/24", *_US_MEDIA_RELAYS),
    },
}

# Ports the bridge listens on. The RTP range is 1,000 ports: two per call leaves room for 500
# concurrent calls per task, far more than one task's CPU carries. An encrypted Voice Connector
# sends SIP over TLS to 5061 (docs/deploy.md, "Encrypted calls"); only one of the two is open.
SIP_PORT = 5060
SIP_TLS_PORT = 5061
RTP_PORT_MIN = 10000
RTP_PORT_MAX = 10999
HEALTH_PORT = 8080

_HOST_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$")
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_STACK_PREFIX = re.compile(r"^[A-Z][A-Za-z0-9]{0,30}$")


class ConfigError(ValueError):
    """A deployment setting that cannot be used; str() is one line."""


@dataclass(frozen=True)
class DeployConfig:
    stack_prefix: str
    region: str
    spec_path: Path  # absolute, inside the repository: the primary agent (names, tags)
    spec: AgentSpec
    signaling_cidrs: tuple[str, ...]
    media_cidrs: tuple[str, ...]
    phone_number: str | None  # E.164
    desired_count: int
    realtime_model: str | None  # None: each agent's spec names its own model
    post_call_model: str
    object_lock_retention_days: int
    reserve_concurrency: bool
    # Pre-initialised execution environments for the tools and policy functions (0: none): a
    # caller never waits on a cold start while it is within this many concurrent invocations.
    provisioned_concurrency: int = 0
    encryption: str = "required"  # required: TLS 5061 + SRTP on the Voice Connector and bridge; off: TCP 5060 + RTP
    sip_domain: str | None = None  # origination host and Contact: the name the TLS certificate is for
    sip_tls_secret_arn: str | None = None  # an existing secret with the certificate; None: the stack makes one
    # Every agent the deployment serves (name -> spec path inside the repo), and who answers which
    # number. Without -c number_plan: the one agent_spec, on phone_number (or on every number).
    agent_specs: tuple[tuple[str, Path], ...] = ()
    number_plan: NumberPlan = field(default_factory=NumberPlan)
    prices: Prices = field(default_factory=Prices)

    @property
    def phone_numbers(self) -> tuple[str, ...]:
        """Every number to attach to the Voice Connector: the plan's, sorted."""
        return tuple(sorted(self.number_plan.numbers))

    @property
    def agent_relpaths(self) -> tuple[str, ...]:
        return tuple(p.relative_to(REPO_ROOT).as_posix() for _, p in self.agent_specs)

    @property
    def max_call_seconds(self) -> int:
        """The longest call any agent allows (a deploy drains for that long)."""
        return max((load_spec(p).limits.max_call_seconds for _, p in self.agent_specs), default=900)

    @property
    def encrypted(self) -> bool:
        return self.encryption == "required"

    @property
    def sip_port(self) -> int:
        """The one signalling port Chime uses: TLS 5061 when encrypted, else TCP 5060."""
        return SIP_TLS_PORT if self.encrypted else SIP_PORT

    @property
    def spec_relpath(self) -> str:
        """The spec's path relative to the repo root: the same inside the Lambda bundle and the image."""
        return self.spec_path.relative_to(REPO_ROOT).as_posix()

    @property
    def resource_prefix(self) -> str:
        """kebab-case prefix for physical names (event bus, SSM parameter, Voice Connector)."""
        return re.sub(r"(?<!^)(?=[A-Z])", "-", self.stack_prefix).lower()


def _text(ctx: Mapping[str, Any], key: str, default: str | None = None) -> str | None:
    value = ctx.get(key, default)
    if value is None or value == "":
        return default
    if not isinstance(value, str | int | float):
        raise ConfigError(f"context {key}: expected a string, got {type(value).__name__}")
    return str(value).strip()


def _int(ctx: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    raw = ctx.get(key, default)
    try:
        if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
            raise ValueError
        value = int(str(raw).strip()) if not isinstance(raw, int) else raw
    except (TypeError, ValueError):
        raise ConfigError(f"context {key}: {raw!r} is not a whole number ({low}-{high})") from None
    if not low <= value <= high:
        raise ConfigError(f"context {key}: {value} is out of range ({low}-{high})")
    return value


def _bool(ctx: Mapping[str, Any], key: str, default: bool) -> bool:
    raw = ctx.get(key, default)
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in {"true", "1", "yes"}:
        return True
    if text in {"false", "0", "no"}:
        return False
    raise ConfigError(f"context {key}: {raw!r} is not true or false")


def _cidrs(ctx: Mapping[str, Any], key: str, default: tuple[str, ...] | None, region: str) -> tuple[str, ...]:
    raw = ctx.get(key)
    if raw is None or raw == "" or raw == []:
        if default is None:
            raise ConfigError(
                f"context {key}: no default Chime ranges for region {region}; "
                f"set -c {key}=a.b.c.d/n,... from the Chime SDK network configuration page"
            )
        return default
    items: list[Any]
    if isinstance(raw, str):
        text = raw.strip()
        try:
            items = json.loads(text) if text.startswith("[") else text.split(",")
        except json.JSONDecodeError:
            raise ConfigError(f"context {key}: {text!r} is not a list of CIDRs") from None
        if not isinstance(items, list):
            raise ConfigError(f"context {key}: {text!r} is not a list of CIDRs")
    elif isinstance(raw, list | tuple):
        items = list(raw)
    else:
        raise ConfigError(f"context {key}: expected a list of CIDRs, got {type(raw).__name__}")
    out: list[str] = []
    for item in items:
        text = str(item).strip()
        try:
            net = ipaddress.IPv4Network(text, strict=True)
        except ValueError as err:
            raise ConfigError(f"context {key}: {text!r} is not an IPv4 CIDR ({err})") from None
        # An open range would defeat the point of the allowlist: SIP scanners find 5060 in minutes.
        if net.prefixlen < 8 or not net.is_global:
            raise ConfigError(f"context {key}: {text} is not a public range of /8 or narrower")
        out.append(str(net))
    if not out:
        raise ConfigError(f"context {key}: the list is empty")
    return tuple(dict.fromkeys(out))


def _phone(ctx: Mapping[str, Any]) -> str | None:
    raw = _text(ctx, "phone_number")
    if raw is None:
        return None
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        raise ConfigError(f"context phone_number: {raw!r} is not an E.164 number like +12065550100") from None
    if not phonenumbers.is_valid_number(number):
        raise ConfigError(f"context phone_number: {raw!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _choice(ctx: Mapping[str, Any], key: str, default: str, choices: tuple[str, ...]) -> str:
    value = (_text(ctx, key, default) or default).lower()
    if value not in choices:
        raise ConfigError(f"context {key}: {value!r} is not one of {', '.join(choices)}")
    return value


def _matching(ctx: Mapping[str, Any], key: str, pattern: re.Pattern[str], what: str) -> str | None:
    value = _text(ctx, key)
    if value is not None and not pattern.match(value):
        raise ConfigError(f"context {key}: {value!r} is not {what}")
    return value


def _model(ctx: Mapping[str, Any], key: str, default: str) -> str:
    value = _text(ctx, key, default) or default
    if value and not _MODEL_NAME.match(value):
        raise ConfigError(f"context {key}: {value!r} is not a model name")
    return value


def _spec(ctx: Mapping[str, Any]) -> tuple[Path, AgentSpec]:
    rel = _text(ctx, "agent_spec", "agents/riverside_clinic.yaml") or ""
    path = (REPO_ROOT / rel).resolve()
    # The spec ships inside the Lambda bundle and the bridge image, both built from the repo.
    if not path.is_relative_to(REPO_ROOT):
        raise ConfigError(f"context agent_spec: {rel} must be inside the project folder (e.g. agents/)")
    try:
        return path, load_spec(path)
    except SpecError as err:
        raise ConfigError(f"agent spec {err}") from None


def _inside(rel: str, key: str) -> Path:
    path = (REPO_ROOT / rel).resolve()
    if not path.is_relative_to(REPO_ROOT):  # shipped in the bridge image, built from the repo
        raise ConfigError(f"context {key}: {rel} must be inside the project folder")
    return path


def _agents(
    ctx: Mapping[str, Any], spec_path: Path, spec: AgentSpec, phone: str | None
) -> tuple[tuple[tuple[str, Path], ...], NumberPlan, Path, AgentSpec]:
    """The specs and the plan; with no number_plan, the one agent_spec on phone_number, or on
    every number when there is none (the plan's explicit default route)."""
    rel = _text(ctx, "number_plan")
    if rel is None:
        plan = NumberPlan(numbers={phone: spec.name}) if phone else NumberPlan(default=spec.name)
        return ((spec.name, spec_path),), plan, spec_path, spec
    if phone:
        raise ConfigError("context phone_number: with number_plan, list every number in the plan instead")
    try:
        plan = load_number_plan(_inside(rel, "number_plan"))
    except RegistryError as err:
        raise ConfigError(f"context number_plan: {err}") from None
    folder = _inside(_text(ctx, "agents_dir", "agents") or "agents", "agents_dir")
    found: dict[str, Path] = {}
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        try:
            found.setdefault(load_spec(path).name, path)
        except SpecError as err:
            raise ConfigError(f"agent spec {err}") from None
    missing = sorted(plan.agents - set(found))
    if missing:
        raise ConfigError(f"context number_plan: no spec in {folder.name}/ for agent {', '.join(missing)}")
    for number in plan.numbers:
        _phone({"phone_number": number})
    primary = plan.default or plan.numbers[min(plan.numbers)]
    agents = tuple((name, found[name]) for name in sorted(plan.agents))
    return agents, plan, found[primary], load_spec(found[primary])


def _prices(ctx: Mapping[str, Any]) -> Prices:
    raw = ctx.get("prices")
    try:
        return prices_from_json(raw if isinstance(raw, str) or raw is None else json.dumps(raw))
    except PricesError as err:
        raise ConfigError(f"context prices: {err}") from None


def load_config(ctx: Mapping[str, Any] | Callable[[str], Any]) -> DeployConfig:
    """Read and check every setting; `ctx` is a mapping or `node.try_get_context`."""
    get = ctx if isinstance(ctx, Mapping) else {k: ctx(k) for k in CONTEXT_KEYS if ctx(k) is not None}
    prefix = _text(get, "stack_prefix", "VoiceAgent") or "VoiceAgent"
    if not _STACK_PREFIX.match(prefix):
        raise ConfigError(f"context stack_prefix: {prefix!r} must be PascalCase letters and digits")
    region = _text(get, "region", "us-east-1") or "us-east-1"
    if not re.match(r"^[a-z]{2}(-[a-z]+)+-\d$", region):
        raise ConfigError(f"context region: {region!r} is not an AWS region name")
    defaults = CHIME_CIDRS.get(region, {})
    phone = _phone(get)
    agents, plan, spec_path, spec = _agents(get, *_spec(get), phone)
    return DeployConfig(
        stack_prefix=prefix,
        region=region,
        spec_path=spec_path,
        spec=spec,
        agent_specs=agents,
        number_plan=plan,
        prices=_prices(get),
        signaling_cidrs=_cidrs(get, "chime_signaling_cidrs", defaults.get("signaling"), region),
        media_cidrs=_cidrs(get, "chime_media_cidrs", defaults.get("media"), region),
        phone_number=phone,
        desired_count=_int(get, "desired_count", 2, 1, 100),
        realtime_model=_model(get, "realtime_model", "") or None,
        post_call_model=_model(get, "post_call_model", "gpt-4.1-mini"),
        object_lock_retention_days=_int(get, "object_lock_retention_days", 365, 1, 3650),
        reserve_concurrency=_bool(get, "reserve_concurrency", True),
        provisioned_concurrency=_int(get, "provisioned_concurrency", 0, 0, 1000),
        encryption=_choice(get, "encryption", "required", ("required", "off")),
        sip_domain=_matching(get, "sip_domain", _HOST_NAME, "a lowercase DNS name like sip.example.org"),
        sip_tls_secret_arn=_matching(get, "sip_tls_secret_arn", _SECRET_ARN, "a Secrets Manager secret ARN"),
    )


CONTEXT_KEYS = (
    "stack_prefix",
    "region",
    "agent_spec",
    "chime_signaling_cidrs",
    "chime_media_cidrs",
    "phone_number",
    "desired_count",
    "realtime_model",
    "post_call_model",
    "object_lock_retention_days",
    "reserve_concurrency",
    "provisioned_concurrency",
    "encryption",
    "sip_domain",
    "sip_tls_secret_arn",
    "number_plan",
    "agents_dir",
    "prices",
)
