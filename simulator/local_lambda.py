"""The Lambda stand-in: the real handler modules behind Lambda's Invoke API, in a process of
their own, as in AWS.

With it, `voice-agent serve --local --lambda-endpoint URL` runs the bridge exactly as production
does: `LambdaInvoker` over boto3's lambda client (only the endpoint differs), so the tool and
policy work leaves the bridge process as it does in AWS, and a load bench measures the bridge
alone. CallEnded reaches the post-call handler as in AWS, through the bus: a rule on the bus
forwards it to a queue this process polls (EventBridge -> Lambda, with retries).

    python -m simulator.local_lambda --aws-endpoint URL [--port 0] [--openai-base-url URL]

The functions read each call's agent spec from the registry on that stack (the version on the
call's record), as in AWS: whoever starts the bridge installs the specs there.

Prints `READY <url>` on stdout once it serves (the handler logs go to stderr).
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import json
import logging
import os
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any
from urllib.parse import unquote, urlsplit

from simulator.local_stack import LOCAL_BUS, attach_local_stack, local_environment, local_session
from voice_agent.event_bus import EVENT_SOURCE

log = logging.getLogger("local_lambda")

TOOLS_FUNCTION = "voice-agent-tools"
POLICY_FUNCTION = "voice-agent-policy"
POST_CALL_FUNCTION = "voice-agent-post-call"
HANDLERS = {
    TOOLS_FUNCTION: "functions.tools.handler",
    POLICY_FUNCTION: "functions.policy.handler",
    POST_CALL_FUNCTION: "functions.post_call.handler",
}
POST_CALL_QUEUE = "voice-agent-post-call-events"
POST_CALL_ATTEMPTS = 3  # Lambda's async invokes: the first try and two retries
_INVOKE_PREFIX = "/2015-03-31/functions/"
_LOCAL_KEY = "sk-local-simulator"


@dataclass(frozen=True)
class LambdaContext:
    """What the handlers read of Lambda's context object."""

    function_name: str
    aws_request_id: str
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = ""
    timeout_ms: int = 30_000

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_ms


def handler_environment(aws_endpoint: str, openai_base_url: str | None, post_call_model: str) -> dict[str, str]:
    """The configuration the stack gives each function, pointed at the local endpoints."""
    env = local_environment(aws_endpoint) | {
        "POST_CALL_MODEL": post_call_model,
        "POWERTOOLS_SERVICE_NAME": "voice-agent",
        "POWERTOOLS_METRICS_NAMESPACE": "VoiceAgent",
        "OPENAI_API_KEY": _LOCAL_KEY,  # the stand-in wants a bearer token; a real key never goes to loopback
    }
    if openai_base_url:
        env["OPENAI_BASE_URL"] = openai_base_url
    return env


class Functions:
    """The handler modules, imported as Lambda imports them (module-level setup at cold start)."""

    def __init__(self, names: dict[str, str]) -> None:
        self._modules: dict[str, ModuleType] = {name: importlib.import_module(path) for name, path in names.items()}
        self._ids = itertools.count(1)  # next() on a count is atomic: the server's threads share it

    def __contains__(self, name: str) -> bool:
        return name in self._modules

    def invoke(self, name: str, event: Any) -> tuple[Any, bool]:
        """(the handler's answer, or Lambda's error document; True when the handler raised)."""
        request_id = f"local-{next(self._ids)}"
        handler: Callable[[Any, Any], Any] = self._modules[name].handler
        try:
            return handler(event, LambdaContext(name, request_id)), False
        except Exception as err:
            log.warning("%s %s failed: %s", name, request_id, err)
            trace = traceback.format_exception(err)
            return {"errorMessage": str(err), "errorType": type(err).__name__, "stackTrace": trace}, True


def make_server(functions: Functions, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """Lambda's Invoke API: POST /2015-03-31/functions/NAME/invocations."""

    class Invoke(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: boto3 pools its connections

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if not (path.startswith(_INVOKE_PREFIX) and path.endswith("/invocations")):
                return self._answer(404, {"Type": "User", "message": f"no such API: {path}"}, error="UnknownOperation")
            name = unquote(path[len(_INVOKE_PREFIX) : -len("/invocations")]).rsplit(":", 1)[-1]
            if name not in functions:
                message = f"Function not found: {name}"
                return self._answer(404, {"Type": "User", "message": message}, error="ResourceNotFoundException")
            try:
                event = json.loads(body or b"{}")
            except ValueError:
                return self._answer(
                    400, {"Type": "User", "message": "payload is not JSON"}, error="InvalidRequestContentException"
                )
            result, failed = functions.invoke(name, event)
            if self.headers.get("X-Amz-Invocation-Type") == "Event":
                return self._answer(202, None)
            self._answer(200, result, function_error="Unhandled" if failed else None)

        def _answer(
            self, status: int, payload: Any, *, error: str | None = None, function_error: str | None = None
        ) -> None:
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Amz-Executed-Version", "$LATEST")
            if error:
                self.send_header("X-Amzn-ErrorType", error)
            if function_error:
                self.send_header("X-Amz-Function-Error", function_error)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return  # one line per invoke would drown the handlers' own logs

    server = ThreadingHTTPServer((host, port), Invoke)
    server.daemon_threads = True
    return server


class CallEndedDelivery:
    """EventBridge -> the post-call function: a rule forwards CallEnded to a queue; each event
    is handed to the handler, and a failed one is delivered again, up to POST_CALL_ATTEMPTS."""

    def __init__(self, functions: Functions, aws_endpoint: str) -> None:
        session = local_session()
        self._sqs = session.client("sqs", endpoint_url=aws_endpoint)
        events = session.client("events", endpoint_url=aws_endpoint)
        self._functions = functions
        self._queue = self._sqs.create_queue(QueueName=POST_CALL_QUEUE, Attributes={"VisibilityTimeout": "5"})[
            "QueueUrl"
        ]
        attrs = self._sqs.get_queue_attributes(QueueUrl=self._queue, AttributeNames=["QueueArn"])["Attributes"]
        pattern = {"source": [EVENT_SOURCE], "detail-type": ["CallEnded"]}
        rule = "voice-agent-post-call"
        events.put_rule(Name=rule, EventBusName=LOCAL_BUS, EventPattern=json.dumps(pattern))
        events.put_targets(Rule=rule, EventBusName=LOCAL_BUS, Targets=[{"Id": "post-call", "Arn": attrs["QueueArn"]}])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="call-ended-delivery", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.deliver_once(wait_s=1)
            except Exception:  # the endpoint went away (shutdown) or hiccupped: try again
                log.exception("CallEnded delivery")
                self._stop.wait(1)

    def deliver_once(self, wait_s: int = 0) -> int:
        """Hand every waiting CallEnded to the handler; returns how many were handled."""
        got = self._sqs.receive_message(
            QueueUrl=self._queue,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait_s,
            AttributeNames=["ApproximateReceiveCount"],
        ).get("Messages", [])
        for message in got:
            _, failed = self._functions.invoke(POST_CALL_FUNCTION, json.loads(message["Body"]))
            attempts = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
            if not failed or attempts >= POST_CALL_ATTEMPTS:
                if failed:
                    log.error(
                        "CallEnded %s: the post-call pass failed %d times; dropped", message["MessageId"], attempts
                    )
                self._sqs.delete_message(QueueUrl=self._queue, ReceiptHandle=message["ReceiptHandle"])
        return len(got)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="The Lambda stand-in: the handlers behind the Invoke API, on loopback")
    parser.add_argument(
        "--aws-endpoint", required=True, help="the running moto server (DynamoDB, S3, EventBridge, SQS)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port (printed as READY <url>)")
    parser.add_argument("--openai-base-url", help="the model endpoint of the post-call pass (a loopback stand-in)")
    parser.add_argument("--post-call-model", default="gpt-4.1-mini")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s %(levelname)s %(message)s", stream=sys.stderr)
    attach_local_stack(args.aws_endpoint)  # the table, bucket and bus, whoever comes up first
    os.environ.update(handler_environment(args.aws_endpoint, args.openai_base_url, args.post_call_model))
    ready = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # the handlers log JSON to stdout, as in Lambda: here, to stderr; stdout is the READY line
    functions = Functions(
        HANDLERS if args.openai_base_url else {k: v for k, v in HANDLERS.items() if k != POST_CALL_FUNCTION}
    )
    delivery = CallEndedDelivery(functions, args.aws_endpoint) if POST_CALL_FUNCTION in functions else None
    server = make_server(functions, args.host, args.port)
    host, port = str(server.server_address[0]), int(server.server_address[1])
    if delivery is not None:
        delivery.start()
    ready.write(f"READY http://{host}:{port}\n")
    ready.close()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if delivery is not None:
            delivery.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
