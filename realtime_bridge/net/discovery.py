"""The task's public IP on Fargate, for SDP ``c=`` and Contact.

A Fargate task cannot hold an Elastic IP; its auto-assigned public IP is found at boot:
task metadata v4 (cluster, task ARN) -> ecs:DescribeTasks (ENI id) ->
ec2:DescribeNetworkInterfaces (Association.PublicIp). Blocking: call it once at boot
(``asyncio.to_thread`` if a loop is running), never on the audio path.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from typing import Any

import boto3
from pydantic import BaseModel, ConfigDict, Field

from realtime_bridge.sip.config import SipConfig

log = logging.getLogger(__name__)
METADATA_ENV = "ECS_CONTAINER_METADATA_URI_V4"


class DiscoveryError(RuntimeError):
    pass


class TaskMetadata(BaseModel):
    """The fields of ``${ECS_CONTAINER_METADATA_URI_V4}/task`` this needs."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    cluster: str = Field(alias="Cluster")
    task_arn: str = Field(alias="TaskARN")

    @property
    def region(self) -> str:
        parts = self.task_arn.split(":")
        if len(parts) < 6 or not parts[3]:
            raise DiscoveryError(f"cannot read a region from task ARN {self.task_arn!r}")
        return parts[3]


def fetch_task_metadata(metadata_uri: str, timeout: float = 2.0) -> TaskMetadata:
    with urllib.request.urlopen(f"{metadata_uri.rstrip('/')}/task", timeout=timeout) as resp:
        return TaskMetadata.model_validate(json.load(resp))


def eni_id_of(describe_tasks: dict[str, Any]) -> str:
    for task in describe_tasks.get("tasks", []):
        for attachment in task.get("attachments", []):
            if attachment.get("type") != "ElasticNetworkInterface":
                continue
            for detail in attachment.get("details", []):
                if detail.get("name") == "networkInterfaceId":
                    return str(detail["value"])
    failures = describe_tasks.get("failures") or "no ElasticNetworkInterface attachment"
    raise DiscoveryError(f"task has no network interface: {failures}")


def public_ip_of(describe_enis: dict[str, Any]) -> str:
    for eni in describe_enis.get("NetworkInterfaces", []):
        ip = (eni.get("Association") or {}).get("PublicIp")
        if ip:
            return str(ip)
    raise DiscoveryError("the task's network interface has no public IP (assignPublicIp disabled?)")


def discover_public_ip(metadata_uri: str, session: boto3.Session | None = None) -> str:
    meta = fetch_task_metadata(metadata_uri)
    session = session or boto3.Session()
    ecs = session.client("ecs", region_name=meta.region)
    ec2 = session.client("ec2", region_name=meta.region)
    eni = eni_id_of(ecs.describe_tasks(cluster=meta.cluster, tasks=[meta.task_arn]))
    ip = public_ip_of(ec2.describe_network_interfaces(NetworkInterfaceIds=[eni]))
    log.info("public IP %s (task %s, %s)", ip, meta.task_arn, eni)
    return ip


def resolve_public_ip(config: SipConfig, env: dict[str, str] | None = None) -> str:
    """Configured IP, else Fargate discovery, else (development only) the bind address."""
    env = dict(os.environ) if env is None else env
    if config.public_ip is not None:
        return str(config.public_ip)
    if env.get(METADATA_ENV):
        return discover_public_ip(env[METADATA_ENV])
    if config.production:
        raise DiscoveryError(f"production mode needs public_ip or {METADATA_ENV} (Fargate)")
    return "127.0.0.1" if config.bind_host == "0.0.0.0" else config.bind_host
