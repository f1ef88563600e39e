"""Notifications against a real HTTP server on 127.0.0.1 that records requests and replies from a script."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from pipeline.notify import (
    MAX_RETRY_AFTER_SECONDS,
    DeliveryResult,
    Event,
    format_duration,
    notify,
    send,
    slack_payload,
    teams_payload,
)
from pipeline.secret import Secret

TOKEN = "fake-token-123"
WEBHOOK_PATH = f"/services/T000/B000/{TOKEN}"

EVENT = Event(
    environment="prod",
    version="v1.2",
    action="deploy",
    result="succeeded",
    duration_seconds=12.34,
    actor="alice",
    run_url="https://ci.example.internal/runs/42",
)


@dataclass
class Reply:
    status: int = 200
    body: str = "ok"  # "{path}" is replaced by the request path, to imitate a server that echoes the URL
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: Any


class WebhookServer:
    """A ThreadingHTTPServer on 127.0.0.1 with an OS-assigned port. Unscripted requests get 200 "ok"."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.replies: list[Reply] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str = WEBHOOK_PATH) -> Secret:
        return Secret(f"http://127.0.0.1:{self.port}{path}")

    def script(self, *statuses: int) -> None:
        self.replies.extend(Reply(status) for status in statuses)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next_reply(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            return self.replies.pop(0) if self.replies else Reply()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                body = json.loads(raw) if raw else None
                reply = server._next_reply(Request(self.path, dict(self.headers.items()), body))
                time.sleep(reply.delay)
                content = reply.body.replace("{path}", self.path).encode()
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(content)))
                    self.end_headers()
                    self.wfile.write(content)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and closed the connection

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep urllib from sending the test requests to a proxy named in the environment."""
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)


@pytest.fixture
def server() -> Iterator[WebhookServer]:
    webhook = WebhookServer()
    webhook.start()
    yield webhook
    webhook.stop()


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> pytest.LogCaptureFixture:
    # setup_logging() in pipeline.cli turns propagation off, which would hide records from caplog.
    monkeypatch.setattr(logging.getLogger("agent_dk"), "propagate", True)
    caplog.set_level(logging.INFO, logger="agent_dk")
    return caplog


@pytest.fixture
def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def no_sleep(seconds: float) -> None:
    pass


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def field_texts(payload: dict[str, Any]) -> list[str]:
    return [item["text"] for block in payload["blocks"] for item in block.get("fields", [])]


def assert_no_secret(results: list[DeliveryResult], log_text: str) -> None:
    for result in results:
        assert TOKEN not in result.message
        assert TOKEN not in repr(result)
    assert TOKEN not in log_text


# Payloads


def test_slack_payload_received_intact(server: WebhookServer) -> None:
    send(server.url(), slack_payload(EVENT), channel="slack")

    body = server.requests[0].body
    assert body["text"] == "deploy of v1.2 to prod succeeded in 12.3 s by alice"
    assert body["blocks"][0]["type"] == "header"
    assert "*Environment*\nprod" in field_texts(body)
    assert "*Version*\nv1.2" in field_texts(body)
    assert "*Result*\nsucceeded" in field_texts(body)
    assert "*Duration*\n12.3 s" in field_texts(body)
    assert "*By*\nalice" in field_texts(body)


def test_slack_payload_links_run() -> None:
    assert "*Run*\n<https://ci.example.internal/runs/42|View run>" in field_texts(slack_payload(EVENT))


def test_slack_payload_without_run_url() -> None:
    texts = field_texts(slack_payload(Event("prod", "v1.2", "deploy", "succeeded", 1.0, "alice", run_url="")))
    assert not any("View run" in text for text in texts)


def test_slack_payload_marks_failure() -> None:
    payload = slack_payload(Event("prod", "v1.3", "rollback", "failed", 3.0, "bob"))
    assert payload["blocks"][0]["text"]["text"] == ":x: Rollback of v1.3 to prod failed"
    assert payload["text"] == "rollback of v1.3 to prod failed in 3.0 s by bob"


def test_slack_payload_escapes_markup() -> None:
    payload = slack_payload(Event("prod", "v1.2", "deploy", "failed", 1.0, "<!channel>", detail="a < b & c"))
    assert "<!channel>" not in json.dumps(payload)
    assert payload["blocks"][-1]["text"]["text"] == "a &lt; b &amp; c"


def test_teams_payload_matches_envelope(server: WebhookServer) -> None:
    send(server.url(), teams_payload(EVENT), channel="teams")

    body = server.requests[0].body
    assert body["type"] == "message"
    assert len(body["attachments"]) == 1
    attachment = body["attachments"][0]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["contentUrl"] is None
    card = attachment["content"]
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert card["type"] == "AdaptiveCard"
    assert card["version"] == "1.4"
    assert card["body"][0] == {
        "type": "TextBlock",
        "text": "Deploy of v1.2 to prod succeeded",
        "size": "Medium",
        "weight": "Bolder",
        "color": "Good",
        "wrap": True,
    }
    assert card["body"][1] == {
        "type": "FactSet",
        "facts": [
            {"title": "Environment", "value": "prod"},
            {"title": "Version", "value": "v1.2"},
            {"title": "Result", "value": "succeeded"},
            {"title": "Duration", "value": "12.3 s"},
            {"title": "By", "value": "alice"},
        ],
    }
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "View run", "url": "https://ci.example.internal/runs/42"}
    ]


def test_teams_payload_has_no_message_card(server: WebhookServer) -> None:
    send(server.url(), teams_payload(EVENT), channel="teams")

    text = json.dumps(server.requests[0].body)
    assert "MessageCard" not in text
    assert "@type" not in text


def test_teams_payload_without_run_url() -> None:
    card = teams_payload(Event("prod", "v1.2", "deploy", "unchanged", 0.4, "alice"))["attachments"][0]["content"]
    assert "actions" not in card
    assert card["body"][0]["text"] == "Deploy of v1.2 to prod changed nothing"


def test_teams_payload_ignores_non_http_link() -> None:
    card = teams_payload(Event("prod", "v1.2", "deploy", "failed", 1.0, "alice", run_url="javascript:alert(1)"))
    assert "actions" not in card["attachments"][0]["content"]


def test_payloads_include_detail() -> None:
    event = Event("prod", "v1.2", "deploy", "failed", 1.0, "alice", detail="health check timed out")
    assert slack_payload(event)["blocks"][-1]["text"]["text"] == "health check timed out"
    assert teams_payload(event)["attachments"][0]["content"]["body"][-1]["text"] == "health check timed out"


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(0.04, "0.0 s"), (12.34, "12.3 s"), (125, "2 min 5 s"), (3599.6, "1 h 0 min"), (7385, "2 h 3 min")],
)
def test_format_duration_units(seconds: float, expected: str) -> None:
    assert format_duration(seconds) == expected


# Delivery


def test_send_posts_json(server: WebhookServer) -> None:
    result = send(server.url(), {"text": "hi"}, channel="slack")

    assert result == DeliveryResult("slack", ok=True, attempts=1, message="delivered on attempt 1 (HTTP 200)")
    request = server.requests[0]
    assert request.path == WEBHOOK_PATH
    assert request.headers["Content-Type"] == "application/json"
    assert request.body == {"text": "hi"}


def test_send_accepts_202(server: WebhookServer) -> None:
    server.script(202)
    assert send(server.url(), {"text": "hi"}, channel="teams").ok


def test_send_retries_500_then_succeeds(server: WebhookServer) -> None:
    server.script(500, 200)
    sleeps = Sleeps()

    result = send(server.url(), {"text": "hi"}, channel="slack", sleep=sleeps)

    assert result.ok
    assert result.attempts == 2
    assert len(server.requests) == 2
    assert sleeps == [1.0]


def test_send_backoff_doubles(server: WebhookServer) -> None:
    server.script(500, 502, 503, 504)
    sleeps = Sleeps()

    result = send(server.url(), {"text": "hi"}, channel="slack", retries=3, backoff=0.5, sleep=sleeps)

    assert not result.ok
    assert result.attempts == 4
    assert len(server.requests) == 4
    assert sleeps == [0.5, 1.0, 2.0]
    assert result.message.startswith("failed after 4 attempts: HTTP 504")


def test_send_reports_400_once(server: WebhookServer) -> None:
    server.replies.append(Reply(400, body="invalid_payload"))
    sleeps = Sleeps()

    result = send(server.url(), {"text": "hi"}, channel="slack", sleep=sleeps)

    assert not result.ok
    assert result.attempts == 1
    assert len(server.requests) == 1
    assert sleeps == []
    assert result.message == "failed, not retried: HTTP 400: invalid_payload"


def test_send_trims_long_error_body(server: WebhookServer) -> None:
    server.replies.append(Reply(404, body="x" * 5000))

    result = send(server.url(), {"text": "hi"}, channel="slack")

    assert len(result.message) < 400
    assert result.message.endswith("...")


def test_send_retries_429(server: WebhookServer) -> None:
    server.script(429, 200)

    result = send(server.url(), {"text": "hi"}, channel="slack", sleep=no_sleep)

    assert result.ok
    assert result.attempts == 2


def test_send_honors_retry_after(server: WebhookServer) -> None:
    server.replies.append(Reply(429, headers={"Retry-After": "5"}))
    server.replies.append(Reply(429, headers={"Retry-After": "3600"}))
    sleeps = Sleeps()

    result = send(server.url(), {"text": "hi"}, channel="slack", sleep=sleeps)

    assert result.ok
    assert sleeps == [5.0, MAX_RETRY_AFTER_SECONDS]


def test_send_retries_refused_connection(closed_port: int) -> None:
    sleeps = Sleeps()
    url = Secret(f"http://127.0.0.1:{closed_port}{WEBHOOK_PATH}")

    result = send(url, {"text": "hi"}, channel="slack", retries=2, sleep=sleeps)

    assert not result.ok
    assert result.attempts == 3
    assert sleeps == [1.0, 2.0]
    assert "connection failed" in result.message
    assert "refused" in result.message.lower()


def test_send_times_out(server: WebhookServer) -> None:
    server.replies.append(Reply(200, delay=1.0))

    result = send(server.url(), {"text": "hi"}, channel="slack", timeout=0.2, retries=0)

    assert not result.ok
    assert result.message == "failed after 1 attempt: timed out after 0.2 s"


def test_send_does_not_follow_redirect(server: WebhookServer) -> None:
    server.replies.append(Reply(302, body="", headers={"Location": f"http://127.0.0.1:{server.port}/elsewhere"}))

    result = send(server.url(), {"text": "hi"}, channel="slack", sleep=no_sleep)

    assert not result.ok
    assert result.attempts == 1
    assert [request.path for request in server.requests] == [WEBHOOK_PATH]
    assert "redirects" in result.message


@pytest.mark.parametrize(
    "url",
    ["ftp://127.0.0.1/services/T000/B000/fake-token-123", "file:///etc/passwd", "127.0.0.1/hooks", "https://"],
)
def test_send_rejects_non_http_url(url: str) -> None:
    result = send(Secret(url), {"text": "hi"}, channel="slack")

    assert not result.ok
    assert result.attempts == 0
    assert "expected an https:// or http:// URL" in result.message
    assert "SLACK_WEBHOOK_URL" in result.message
    assert TOKEN not in result.message


@pytest.mark.parametrize("suffix", [" x", "\n", "\x7f", "é"])
def test_send_rejects_unsafe_characters(suffix: str) -> None:
    result = send(Secret(f"http://127.0.0.1:9{WEBHOOK_PATH}{suffix}"), {"text": "hi"}, channel="teams")

    assert not result.ok
    assert result.attempts == 0
    assert "whitespace, control or non-ASCII characters" in result.message
    assert "TEAMS_WEBHOOK_URL" in result.message
    assert TOKEN not in result.message


@pytest.mark.parametrize("port", ["abc", "99999"])
def test_send_rejects_invalid_port(port: str) -> None:
    result = send(Secret(f"http://127.0.0.1:{port}{WEBHOOK_PATH}"), {"text": "hi"}, channel="slack")

    assert not result.ok
    assert result.attempts == 0
    assert "the port is not a number" in result.message


def test_send_rejects_negative_retries() -> None:
    with pytest.raises(ValueError, match="retries=-1"):
        send(Secret("http://127.0.0.1:9/hook"), {}, channel="slack", retries=-1)


# Secrecy


def test_url_absent_from_echoed_errors(server: WebhookServer, logs: pytest.LogCaptureFixture) -> None:
    server.replies.append(Reply(404, body="no_service for http://127.0.0.1{path} ({path})"))
    server.replies.append(Reply(500, body=f"token {TOKEN} is broken"))

    results = notify(EVENT, slack_url=server.url(), teams_url=server.url(), sleep=no_sleep, retries=0)

    assert [result.ok for result in results] == [False, False]
    assert "no_service for" in results[0].message
    assert_no_secret(results, logs.text)


def test_url_absent_after_refused_connection(closed_port: int, logs: pytest.LogCaptureFixture) -> None:
    url = Secret(f"http://127.0.0.1:{closed_port}{WEBHOOK_PATH}")

    results = notify(EVENT, slack_url=url, teams_url=url, sleep=no_sleep, retries=1)

    assert [result.attempts for result in results] == [2, 2]
    assert_no_secret(results, logs.text)


def test_url_masked_in_urllib_error(monkeypatch: pytest.MonkeyPatch, logs: pytest.LogCaptureFixture) -> None:
    url = Secret(f"https://127.0.0.1:9{WEBHOOK_PATH}")

    def fail(opener: urllib.request.OpenerDirector, request: urllib.request.Request, **options: Any) -> None:
        raise urllib.error.URLError(f"cannot reach {request.full_url} (path {request.selector})")

    monkeypatch.setattr(urllib.request.OpenerDirector, "open", fail)

    results = notify(EVENT, slack_url=url, teams_url=None, sleep=no_sleep)

    assert "cannot reach ****" in results[0].message
    assert_no_secret(results, logs.text)


# notify


def test_notify_delivers_both_channels(server: WebhookServer, logs: pytest.LogCaptureFixture) -> None:
    results = notify(EVENT, slack_url=server.url("/slack"), teams_url=server.url("/teams"))

    assert [(result.channel, result.ok) for result in results] == [("slack", True), ("teams", True)]
    assert [request.path for request in server.requests] == ["/slack", "/teams"]
    assert "blocks" in server.requests[0].body
    assert server.requests[1].body["type"] == "message"
    assert "notify: slack delivered on attempt 1 (HTTP 200)" in logs.messages


def test_notify_skips_unset_urls(logs: pytest.LogCaptureFixture) -> None:
    results = notify(EVENT, slack_url=None, teams_url=Secret(""))

    assert results == [
        DeliveryResult("slack", ok=True, attempts=0, message="skipped: SLACK_WEBHOOK_URL is not set"),
        DeliveryResult("teams", ok=True, attempts=0, message="skipped: TEAMS_WEBHOOK_URL is not set"),
    ]
    assert "notify: slack skipped: SLACK_WEBHOOK_URL is not set" in logs.messages
    assert "notify: teams skipped: TEAMS_WEBHOOK_URL is not set" in logs.messages


def test_notify_warns_on_400(server: WebhookServer, logs: pytest.LogCaptureFixture) -> None:
    server.replies.append(Reply(400, body="invalid_payload"))

    results = notify(EVENT, slack_url=server.url(), teams_url=None, sleep=no_sleep)

    assert not results[0].ok
    assert results[0].attempts == 1
    warnings = [record.getMessage() for record in logs.records if record.levelno == logging.WARNING]
    assert warnings == [
        "notify: slack failed, not retried: HTTP 400: invalid_payload (the deploy result is not affected)"
    ]


def test_notify_catches_unexpected_errors(server: WebhookServer, logs: pytest.LogCaptureFixture) -> None:
    results = notify(EVENT, slack_url=server.url(), teams_url=None, retries=-1)

    assert not results[0].ok
    assert "ValueError" in results[0].message
    assert server.requests == []
    assert any(record.levelno == logging.WARNING for record in logs.records)


def test_send_warns_about_plain_http(monkeypatch: pytest.MonkeyPatch, logs: pytest.LogCaptureFixture) -> None:
    opened: list[str] = []

    def fail_open(opener: urllib.request.OpenerDirector, request: urllib.request.Request, **options: Any) -> None:
        opened.append(request.host)
        raise urllib.error.URLError("connection refused")

    # No request leaves the process: the host below is never resolved.
    monkeypatch.setattr(urllib.request.OpenerDirector, "open", fail_open)

    send(Secret(f"http://hooks.example.invalid{WEBHOOK_PATH}"), {}, channel="slack", retries=0)

    assert opened == ["hooks.example.invalid"]
    assert "notify: slack webhook URL uses http://, so its token travels unencrypted; use https://" in logs.messages
