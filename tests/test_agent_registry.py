"""The agent registry on moto: versions are the text's hash and archived once, a deploy's seeding
never overwrites a push, and the bridge's route cache sees a push within its TTL."""

from __future__ import annotations

import uuid

import pytest

from realtime_bridge.agent_routes import AgentRoutes
from simulator.local_stack import LocalStack
from voice_agent.agent_registry import MAX_SPEC_BYTES, AgentRegistry, NumberPlan, RegistryError, agent_archive_key
from voice_agent.spec import spec_version

from .conftest import EXAMPLE_SPEC, ROOT

CLINIC = EXAMPLE_SPEC.read_text(encoding="utf-8")
CLINIC_V2 = CLINIC.replace("How can I help you today?", "What can I do for you?")
PLUMBING = (ROOT / "agents" / "plumbing_dispatch.yaml").read_text(encoding="utf-8")
NUMBER = "+12065550142"


@pytest.fixture
def bucket(local_stack: LocalStack) -> str:
    """A versioned archive of its own, as the deployed one is (moto's state is one per process)."""
    name = f"archive-{uuid.uuid4().hex[:12]}"
    s3 = local_stack.client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


@pytest.fixture
def registry(local_stack: LocalStack, bucket: str) -> AgentRegistry:
    """A registry of its own (a scope, a bucket)."""
    return AgentRegistry(local_stack.table, local_stack.client("s3"), bucket, scope=uuid.uuid4().hex)


def test_the_same_text_is_one_version_archived_once(
    registry: AgentRegistry, local_stack: LocalStack, bucket: str
) -> None:
    key = agent_archive_key("plumbing-dispatch", spec_version(PLUMBING))
    first = registry.push(PLUMBING, label="a")
    again = registry.push(PLUMBING, label="b")
    assert first.version == again.version == spec_version(PLUMBING) and first.archive_key == key
    listed = local_stack.client("s3").list_object_versions(Bucket=bucket, Prefix=key)
    assert len(listed["Versions"]) == 1  # re-pointed, not archived again
    assert [v.label for v in registry.versions("plumbing-dispatch")] == ["a"]  # the first push is kept
    assert registry.text("plumbing-dispatch", first.version) == PLUMBING
    assert registry.archived_text("plumbing-dispatch", first.version) == PLUMBING


def test_a_reader_without_the_archive_loads_a_pushed_spec(registry: AgentRegistry, local_stack: LocalStack) -> None:
    pushed = registry.push(PLUMBING)
    reader = AgentRegistry(local_stack.table, None, None, scope=registry.scope)  # as the functions build it
    assert reader.spec("plumbing-dispatch", pushed.version).name == "plumbing-dispatch"
    with pytest.raises(RegistryError, match="needs the archive bucket"):
        reader.push(CLINIC)


def test_a_text_that_does_not_hash_to_its_version_is_refused(registry: AgentRegistry, local_stack: LocalStack) -> None:
    version = "f" * 16
    key = {"call_id": f"{registry.scope}#AGENT#riverside-clinic", "sk": f"VERSION#{version}"}
    local_stack.table.put_item(Item=key | {"text": CLINIC})
    with pytest.raises(RegistryError, match="does not hash to its version"):
        registry.spec("riverside-clinic", version)


def test_a_spec_too_large_for_its_version_item_is_refused(registry: AgentRegistry) -> None:
    padded = CLINIC + "#" + "x" * MAX_SPEC_BYTES + "\n"
    with pytest.raises(RegistryError, match=f"a spec may have at most {MAX_SPEC_BYTES}"):
        registry.push(padded, source="big.yaml")


def test_a_deploy_seeds_but_never_overwrites_a_push(registry: AgentRegistry) -> None:
    plan = NumberPlan(numbers={NUMBER: "riverside-clinic"})
    registry.install({"clinic.yaml": CLINIC}, plan, keep_existing=True)
    registry.push(CLINIC_V2, source="pushed")
    registry.set_route("+12065550143", "riverside-clinic")
    registry.install({"clinic.yaml": CLINIC}, plan, keep_existing=True)  # the bridge restarts
    current = registry.current("riverside-clinic")
    assert current is not None and current.version == spec_version(CLINIC_V2)
    assert registry.routes() == {NUMBER: "riverside-clinic", "+12065550143": "riverside-clinic"}
    # A local stack's install is the plan exactly: routes it does not name answer nobody.
    registry.install({"clinic.yaml": CLINIC}, plan, keep_existing=False)
    assert registry.routes() == {NUMBER: "riverside-clinic"} and registry.route("+12065550143") is None


def test_a_plan_naming_an_agent_without_a_spec_is_refused(registry: AgentRegistry) -> None:
    with pytest.raises(RegistryError, match="no spec for agent 'plumbing-dispatch'"):
        registry.install({"clinic.yaml": CLINIC}, NumberPlan(default="plumbing-dispatch"), keep_existing=False)
    with pytest.raises(RegistryError, match="push its spec first"):
        registry.set_route(NUMBER, "nobody")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_routes_see_a_push_within_the_ttl_and_cache_unknown_numbers(registry: AgentRegistry) -> None:
    registry.push(CLINIC, numbers=[NUMBER])
    clock = Clock()
    routes = AgentRoutes(registry, ttl_s=5.0, clock=clock)
    first = routes.resolve(NUMBER)
    assert first is not None and first.spec_version == spec_version(CLINIC) and first.spec.name == "riverside-clinic"
    assert routes.resolve("+12065550199") is None
    registry.push(CLINIC_V2)
    registry.push(PLUMBING, numbers=["+12065550199"])
    clock.now += 4.9  # within the TTL: the cached answers, no read
    cached = routes.resolve(NUMBER)
    assert cached is not None and cached.spec_version == first.spec_version
    assert routes.resolve("+12065550199") is None
    clock.now += 0.2  # past it: the pushed versions
    after = routes.resolve(NUMBER)
    assert after is not None and after.spec_version == spec_version(CLINIC_V2)
    plumbing = routes.resolve("+12065550199")
    assert plumbing is not None and plumbing.agent == "plumbing-dispatch"
