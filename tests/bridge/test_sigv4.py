"""The bridge's SigV4 signer writes exactly what botocore's signer writes for the same request
at the same instant: the test that lets it replace botocore on the event loop."""

from __future__ import annotations

import calendar
import datetime
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

from realtime_bridge.aws_http import Endpoint
from realtime_bridge.sigv4 import SigV4Signer

SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
KEYS = ReadOnlyCredentials("AKIDEXAMPLE", SECRET, None)
SESSION = ReadOnlyCredentials("ASIAEXAMPLE", SECRET, "IQoJb3JpZ2luX2VjE//session+token==")
INSTANT = datetime.datetime(2026, 12, 7, 23, 59, 58)

CASES = [
    ("http://127.0.0.1:5000", "lambda", "/2015-03-31/functions/voice-tools/invocations", b'{"a":1}', {}),
    ("https://lambda.eu-west-1.amazonaws.com", "lambda", "/2015-03-31/functions/x/invocations", b"", {}),
    ("https://lambda.eu-west-1.amazonaws.com:443", "lambda",
     "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A123%3Afunction%3Atools/invocations", b"{}", {}),
    ("https://dynamodb.us-east-1.amazonaws.com", "dynamodb", "/", b'{"RequestItems":{}}',
     {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.BatchWriteItem"}),
    ("http://localhost:8000", "dynamodb", "/", "{\"v\":\"Zoë\"}".encode(),
     {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "  DynamoDB_20120810.UpdateItem  ",
      "User-Agent": "not signed", "Connection": "keep-alive", "X-Amz-Invocation-Type": "RequestResponse"}),
    ("http://127.0.0.1:8080", "lambda", "/a/./b/../c~d e", b"x" * 70_000, {"Content-Type": "application/json"}),
]  # fmt: skip


def _botocore(url: str, service: str, region: str, keys: ReadOnlyCredentials, path: str, body: bytes,
              headers: dict[str, str]) -> dict[str, str]:  # fmt: skip
    request = AWSRequest("POST", url.rstrip("/") + path, data=body, headers=dict(headers))
    with mock.patch("botocore.auth.get_current_datetime", return_value=INSTANT):
        SigV4Auth(keys, service, region).add_auth(request)
    return {name: str(value) for name, value in request.headers.items()}


@pytest.mark.parametrize("keys", [KEYS, SESSION], ids=["keys", "session-token"])
@pytest.mark.parametrize(("url", "service", "path", "body", "headers"), CASES)
def test_same_signature_as_botocore(
    url: str, service: str, path: str, body: bytes, headers: dict[str, str], keys: ReadOnlyCredentials
) -> None:
    endpoint = Endpoint.from_url(url, "eu-west-1")
    ours = endpoint.signer(service).headers(keys, "POST", path, body, headers, now=calendar.timegm(INSTANT.timetuple()))
    assert ours == _botocore(url, service, "eu-west-1", keys, path, body, headers)


def test_a_new_day_or_a_rotated_secret_gets_a_new_key() -> None:
    signer = SigV4Signer("lambda", "us-east-1", "127.0.0.1:5000")
    path, body = "/2015-03-31/functions/f/invocations", b"{}"
    day = calendar.timegm(INSTANT.timetuple())
    rotated = ReadOnlyCredentials("AKIDEXAMPLE", SECRET[::-1], None)
    for keys, now in [(KEYS, day), (KEYS, day + 2), (rotated, day + 3), (KEYS, day + 4)]:  # +2 s: the next day
        at = datetime.datetime.fromtimestamp(now, datetime.UTC).replace(tzinfo=None)
        request = AWSRequest("POST", "http://127.0.0.1:5000" + path, data=body)
        with mock.patch("botocore.auth.get_current_datetime", return_value=at):
            SigV4Auth(keys, "lambda", "us-east-1").add_auth(request)
        assert (
            signer.headers(keys, "POST", path, body, {}, now=now)["Authorization"] == request.headers["Authorization"]
        )
