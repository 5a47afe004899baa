"""The embedded AWS stand-in: moto in server mode on loopback, provisioned like the real stack.

The product talks to it through boto3 exactly as it talks to AWS; only the endpoint differs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import boto3
from botocore.exceptions import ClientError

from voice_agent.record_store import TABLE_DEFINITION

LOCAL_REGION = "us-east-1"
LOCAL_TABLE = "voice-agent-calls"
LOCAL_BUCKET = "voice-agent-archive"
LOCAL_BUS = "voice-agent"

# The services the product and its tests use from the stand-in (moto serves them all).
LocalService = Literal["dynamodb", "s3", "events", "lambda", "sqs", "secretsmanager"]


@dataclass
class LocalStack:
    endpoint_url: str
    session: boto3.Session
    server: Any = None

    @property
    def table(self) -> Any:
        return self.session.resource("dynamodb", endpoint_url=self.endpoint_url).Table(LOCAL_TABLE)

    def client(self, service: LocalService) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint_url)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


def local_session() -> boto3.Session:
    # Dummy credentials: moto accepts any, and real ones must never be sent to a local endpoint.
    return boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name=LOCAL_REGION)


_ALREADY_THERE = {"ResourceInUseException", "BucketAlreadyOwnedByYou", "ResourceAlreadyExistsException"}


def provision(stack: LocalStack) -> None:
    """Create the table, bucket and bus the product expects (idempotent, also when two local
    stacks in one process race: moto keeps one state per process)."""
    creators: tuple[Callable[[], object], ...] = (
        lambda: stack.client("dynamodb").create_table(TableName=LOCAL_TABLE, **TABLE_DEFINITION),
        lambda: stack.client("s3").create_bucket(Bucket=LOCAL_BUCKET),
        lambda: stack.client("events").create_event_bus(Name=LOCAL_BUS),
    )
    for create in creators:
        try:
            create()
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") not in _ALREADY_THERE:
                raise


def start_local_stack(host: str = "127.0.0.1", port: int = 0) -> LocalStack:
    """Start moto's server on loopback (an ephemeral port unless told) and provision it."""
    from moto.server import ThreadedMotoServer  # dev/local dependency only; never imported in AWS

    _atomic_dynamodb_writes()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    bound_host, bound_port = server.get_host_and_port()
    stack = LocalStack(f"http://{bound_host}:{bound_port}", local_session(), server)
    provision(stack)
    return stack


_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")


def _atomic_dynamodb_writes() -> None:
    """DynamoDB checks a write's condition and applies it atomically; moto's threaded server does
    not (two conditional updates can both pass their check), so the gate's "exactly one of two
    concurrent end_calls wins" would not hold locally. One lock around moto's writes makes the
    stand-in as strict as the service. Idempotent."""
    import threading

    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend, "_voice_agent_atomic", False):
        return
    lock = threading.RLock()
    for name in _WRITES:
        original = getattr(DynamoDBBackend, name)

        def locked(self: object, *args: object, _original: Any = original, **kwargs: object) -> Any:
            with lock:
                return _original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, locked)
    DynamoDBBackend._voice_agent_atomic = True  # type: ignore[attr-defined]


def attach_local_stack(endpoint_url: str) -> LocalStack:
    """Use a local stack another process started (e.g. `voice-agent serve --local`)."""
    stack = LocalStack(endpoint_url, local_session())
    provision(stack)
    return stack


def local_environment(endpoint_url: str) -> dict[str, str]:
    """Environment for a process (or a handler module) that should use the stack at `endpoint_url`."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": LOCAL_REGION,
        "CALLS_TABLE": LOCAL_TABLE,
        "ARCHIVE_BUCKET": LOCAL_BUCKET,
        "EVENT_BUS_NAME": LOCAL_BUS,
    }


def apply_local_environment(stack: LocalStack) -> None:
    os.environ.update(local_environment(stack.endpoint_url))
