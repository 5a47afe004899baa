"""The Lambda stand-in (simulator/local_lambda.py) in its own process: the bridge's production
invoker (boto3's lambda client) gets Lambda's answers from the real handler modules, and a
CallEnded published on the bus reaches the post-call function, as EventBridge delivers it in AWS."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from realtime_bridge.aws_http import lambda_http
from realtime_bridge.tool_invoker import InvokeError, LambdaInvoker
from simulator.local_lambda import POLICY_FUNCTION, POST_CALL_FUNCTION, TOOLS_FUNCTION
from simulator.local_stack import LOCAL_BUS, LocalStack
from voice_agent.agent_registry import AgentRegistry
from voice_agent.archive_store import ArchiveStore
from voice_agent.event_bus import BusPublisher
from voice_agent.invocation import CallStarted, ToolCall
from voice_agent.record_store import RecordStore

from ..conftest import EXAMPLE_VERSION, ROOT, FakeClock
from .conftest import SimulatedLlm, new_call, scenario_for


@pytest.fixture(scope="module")
def lambda_url(local_stack: LocalStack, llm_server: SimulatedLlm, registry: AgentRegistry) -> Iterator[str]:
    llm_server.use(scenario_for())
    argv = [sys.executable, "-m", "simulator.local_lambda", "--aws-endpoint", local_stack.endpoint_url,
            "--openai-base-url", llm_server.handle.http_url]  # fmt: skip
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("READY "):
            proc.kill()
            log.seek(0)
            pytest.fail(f"the Lambda stand-in did not start: {line!r} {log.read()[-2000:]}")
        yield line.split()[1]
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def invoker(local_stack: LocalStack, lambda_url: str) -> LambdaInvoker:
    return LambdaInvoker(lambda_http(local_stack.session, lambda_url), TOOLS_FUNCTION, POLICY_FUNCTION)


def test_tools_and_policy_run_behind_the_invoke_api(invoker: LambdaInvoker, store: RecordStore) -> None:
    call_id = f"CA{uuid.uuid4().hex}"

    async def call() -> None:  # one loop, as in the bridge: the invoker keeps its connections
        started = CallStarted(call_id=call_id, agent="riverside-clinic", spec_version=EXAMPLE_VERSION)
        assert (await invoker.policy(started)).ok
        call = ToolCall(call_id=call_id, name="record_caller_name", arguments=json.dumps({"value": "Maria Lopez"}),
                        tool_call_id="call_1")  # fmt: skip
        recorded = await invoker.tool(call)
        assert recorded.ok and store.get_fields(call_id)["caller_name"].value == "Maria Lopez"
        end_args = json.dumps({"reason": "done"})
        end = ToolCall(call_id=call_id, name="end_call", arguments=end_args, tool_call_id="call_2")
        denied = await invoker.tool(end)
        assert not denied.ok and "date_of_birth" in denied.output  # the gate read the store: a field is missing
        await invoker.close()

    asyncio.run(call())
    assert (meta := store.get_call(call_id)) is not None and meta.status != "ENDED"


def test_lambda_errors_come_back_as_lambda_gives_them(invoker: LambdaInvoker, local_stack: LocalStack,
                                                       lambda_url: str) -> None:  # fmt: skip
    async def fail() -> None:
        with pytest.raises(InvokeError, match="ValueError"):  # the handler raised: FunctionError, as in AWS
            await invoker.invoke(POST_CALL_FUNCTION, {"detail-type": "CallEnded"})
        with pytest.raises(InvokeError, match="404 ResourceNotFoundException"):  # refused, not retried
            await invoker.invoke("voice-agent-nothing", {})
        await invoker.close()

    asyncio.run(fail())
    client = local_stack.session.client("lambda", endpoint_url=lambda_url)
    with pytest.raises(ClientError) as err:  # the stand-in answers boto3 exactly as it answers us
        client.invoke(FunctionName="voice-agent-nothing", Payload=b"{}")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_call_ended_on_the_bus_reaches_the_post_call_function(
    lambda_url: str, local_stack: LocalStack, store: RecordStore, clock: FakeClock, archive: ArchiveStore
) -> None:
    call_id = new_call(store, clock, live=("caller_name",), archived=True, archive=archive)
    BusPublisher(local_stack.client("events"), LOCAL_BUS).publish(
        "CallEnded", {"call_id": call_id, "ended_by": "caller", "reason": "hang-up"}
    )
    deadline = time.monotonic() + 30
    while (meta := store.get_call(call_id)) is not None and meta.reconciled_ms is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert meta is not None and meta.reconciled_ms is not None, "the post-call pass never ran"
    fields = store.get_fields(call_id)
    assert fields["caller_name"].source == "live"  # backfill never overwrites
    assert {fields[n].source for n in ("reason", "date_of_birth", "callback_number")} == {"backfill"}
