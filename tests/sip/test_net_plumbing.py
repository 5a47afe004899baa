"""Process plumbing: Fargate public IP discovery (against moto), the health endpoint, SIGTERM draining."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from ipaddress import IPv4Address

import boto3
import pytest

from realtime_bridge.net.discovery import (
    METADATA_ENV,
    DiscoveryError,
    discover_public_ip,
    eni_id_of,
    public_ip_of,
    resolve_public_ip,
)
from realtime_bridge.net.health import HealthServer, HealthStatus
from realtime_bridge.sip.config import SipConfig
from realtime_bridge.sip.server import SipServer
from simulator.local_stack import LocalStack
from tests.sip.sipp_harness import RecordingHandler, bridge_config

REGION = "us-east-1"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, local_stack: LocalStack) -> None:
    """Point boto3 at the session's moto server, the way production code meets any endpoint.

    (Not mock_aws: it shares moto's in-process state with the server and wipes it on exit.)
    """
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL", local_stack.endpoint_url)


def serve_metadata(task: dict[str, object]) -> tuple[HTTPServer, str]:
    """A stand-in for the ECS task metadata v4 endpoint on loopback."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(task if self.path == "/v4/abc/task" else {}).encode()
            self.send_response(200 if self.path == "/v4/abc/task" else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/v4/abc"


@pytest.fixture
def fargate_task(aws_env: None) -> Iterator[tuple[str, str]]:
    """A running awsvpc task in moto whose ENI has a public IP; yields (metadata URI, public IP)."""
    ec2 = boto3.client("ec2", region_name=REGION)
    ecs = boto3.client("ecs", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="bridge", Description="bridge", VpcId=vpc)["GroupId"]
    ecs.create_cluster(clusterName="voice")
    ecs.register_task_definition(
        family="bridge",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "bridge", "image": "bridge:latest", "memory": 512}],
    )
    task = ecs.run_task(
        cluster="voice",
        taskDefinition="bridge",
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [sg], "assignPublicIp": "ENABLED"}
        },
    )["tasks"][0]
    eni = eni_id_of(ecs.describe_tasks(cluster="voice", tasks=[task["taskArn"]]))
    eip = ec2.allocate_address(Domain="vpc")
    ec2.associate_address(AllocationId=eip["AllocationId"], NetworkInterfaceId=eni)
    server, uri = serve_metadata({"Cluster": task["clusterArn"], "TaskARN": task["taskArn"], "Family": "bridge"})
    try:
        yield uri, eip["PublicIp"]
    finally:
        server.shutdown()


def test_discovers_the_public_ip_through_metadata_ecs_and_ec2(fargate_task: tuple[str, str]) -> None:
    uri, public_ip = fargate_task
    assert discover_public_ip(uri) == public_ip
    config = SipConfig(production=True, voice_connector_id="vc")
    assert resolve_public_ip(config, env={METADATA_ENV: uri}) == public_ip


def test_configured_ip_wins_and_production_without_one_fails_fast() -> None:
    assert resolve_public_ip(SipConfig(public_ip=IPv4Address("198.51.100.7")), env={}) == "198.51.100.7"
    assert resolve_public_ip(SipConfig(), env={}) == "127.0.0.1"
    with pytest.raises(DiscoveryError, match="production mode needs public_ip"):
        resolve_public_ip(SipConfig(production=True, voice_connector_id="vc"), env={})


def test_clear_errors_for_missing_eni_or_public_ip() -> None:
    with pytest.raises(DiscoveryError, match="task has no network interface"):
        eni_id_of({"tasks": [{"attachments": []}], "failures": []})
    with pytest.raises(DiscoveryError, match="no public IP"):
        public_ip_of({"NetworkInterfaces": [{"NetworkInterfaceId": "eni-1"}]})


def test_production_config_requires_a_voice_connector_id() -> None:
    with pytest.raises(ValueError, match="production mode requires voice_connector_id"):
        SipConfig(production=True)
    assert SipConfig(production=True, voice_connector_id="vc").effective_allowlist()  # Chime ranges


def _get(port: int, path: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def test_health_endpoint_and_sigterm_draining() -> None:
    async def main() -> None:
        server = SipServer(bridge_config(), RecordingHandler(), public_ip="127.0.0.1")
        await server.start()
        health = HealthServer(
            lambda: HealthStatus(healthy=True, draining=server.draining, active_calls=server.active_calls)
        )
        await health.start("127.0.0.1", 0)
        try:
            ok = await asyncio.to_thread(_get, health.port, "/health")
            server.install_sigterm()
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.sleep(0.05)
            draining = await asyncio.to_thread(_get, health.port, "/health")
            missing = await asyncio.to_thread(_get, health.port, "/nope")
        finally:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)
            await health.close()
            await server.close()
        assert ok == (200, {"healthy": True, "draining": False, "active_calls": 0})
        assert draining == (503, {"healthy": True, "draining": True, "active_calls": 0})
        assert missing[0] == 404

    asyncio.run(main())
