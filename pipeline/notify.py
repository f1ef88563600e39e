"""Deploy and rollback notifications to Slack and Microsoft Teams webhooks.

A notification is best effort, so delivery problems are logged as warnings and returned as results
instead of raised, and a broken webhook cannot fail a deploy. The webhook URL is a Secret because its
path or query contains the token, and every message that could quote it passes through `_mask_url`.
"""

from __future__ import annotations

import email.message
import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import parse_qsl, urlsplit

from pipeline.secret import Secret, mask_text

log = logging.getLogger("agent_dk")

WEBHOOK_VARIABLES = {"slack": "SLACK_WEBHOOK_URL", "teams": "TEAMS_WEBHOOK_URL"}
ALLOWED_SCHEMES = ("https", "http")
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")

MAX_BODY_CHARS = 300
MAX_READ_BYTES = 4096
# A server may send Retry-After with a 429. A longer wait than this cap would hold up the deploy.
MAX_RETRY_AFTER_SECONDS = 30.0
# Path segments and query values shorter than this are fixed words such as "services" or
# "workflows". Tokens and signatures are longer, so they are masked even when they appear alone.
MIN_MASKED_PART_CHARS = 10

# Block Kit limits: a header is at most 150 characters, a section field 2000 and section text 3000.
SLACK_HEADER_CHARS = 150
SLACK_FIELD_CHARS = 2000
DETAIL_CHARS = 2000

SLACK_EMOJI = {"succeeded": ":white_check_mark:", "failed": ":x:", "unchanged": ":large_blue_circle:"}
TEAMS_COLORS = {"succeeded": "Good", "failed": "Attention"}
RESULT_PHRASES = {"unchanged": "changed nothing"}


@dataclass(frozen=True)
class Event:
    """A finished deploy or rollback, as the notifications report it."""

    environment: str
    version: str
    action: str  # "deploy", "rollback" or another short word
    result: str  # "succeeded", "failed" or "unchanged"
    duration_seconds: float
    actor: str
    run_url: str = ""
    detail: str = ""


@dataclass(frozen=True)
class DeliveryResult:
    """The outcome of delivering one notification. `message` never contains the webhook URL."""

    channel: str
    ok: bool
    attempts: int
    message: str


def summary(event: Event) -> str:
    """Build the one-line summary, e.g. "deploy of v1.2 to prod succeeded in 12.3 s by alice"."""
    outcome = RESULT_PHRASES.get(event.result, event.result)
    duration = format_duration(event.duration_seconds)
    return f"{event.action} of {event.version} to {event.environment} {outcome} in {duration} by {_actor(event)}"


def format_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, remainder = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {remainder} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def slack_payload(event: Event) -> dict[str, Any]:
    """Build a Slack incoming webhook message with a plain fallback `text` and Block Kit `blocks`."""
    emoji = SLACK_EMOJI.get(event.result, ":information_source:")
    title = f"{emoji} {_title(event)}"
    fields = [
        ("Environment", _slack_escape(event.environment)),
        ("Version", _slack_escape(event.version)),
        ("Result", _slack_escape(event.result)),
        ("Duration", format_duration(event.duration_seconds)),
        ("By", _slack_escape(_actor(event))),
    ]
    run_url = _web_url(event.run_url)
    if run_url:
        fields.append(("Run", f"<{_slack_escape(run_url)}|View run>"))

    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _truncate(title, SLACK_HEADER_CHARS), "emoji": True}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": _truncate(f"*{label}*\n{value}", SLACK_FIELD_CHARS)}
                for label, value in fields
            ],
        },
    ]
    if event.detail:
        detail = _slack_escape(_truncate(event.detail, DETAIL_CHARS))
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": detail}})
    return {"text": _slack_escape(summary(event)), "blocks": blocks}


def teams_payload(event: Event) -> dict[str, Any]:
    """Build a Teams Workflows webhook message, which is a message envelope around one Adaptive Card 1.4.

    This is not the Office 365 connector MessageCard format, which Microsoft retired.
    """
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": _title(event),
            "size": "Medium",
            "weight": "Bolder",
            "color": TEAMS_COLORS.get(event.result, "Default"),
            "wrap": True,
        },
        {
            "type": "FactSet",
            "facts": [
                {"title": "Environment", "value": event.environment},
                {"title": "Version", "value": event.version},
                {"title": "Result", "value": event.result},
                {"title": "Duration", "value": format_duration(event.duration_seconds)},
                {"title": "By", "value": _actor(event)},
            ],
        },
    ]
    if event.detail:
        body.append({"type": "TextBlock", "text": _truncate(event.detail, DETAIL_CHARS), "wrap": True})

    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    run_url = _web_url(event.run_url)
    if run_url:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "View run", "url": run_url}]
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


def _title(event: Event) -> str:
    outcome = RESULT_PHRASES.get(event.result, event.result)
    return f"{event.action.capitalize()} of {event.version} to {event.environment} {outcome}"


def _actor(event: Event) -> str:
    return event.actor or "unknown"


def _web_url(url: str) -> str:
    """Return `url` if it is an http(s) link. Teams rejects a card whose Action.OpenUrl has another scheme."""
    return url if urlsplit(url).scheme.lower() in ALLOWED_SCHEMES else ""


def _slack_escape(text: str) -> str:
    """Escape the three characters Slack mrkdwn treats as markup, so "<!channel>" cannot ping anyone."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def notify(
    event: Event, *, slack_url: Secret | None, teams_url: Secret | None, **send_options: Any
) -> list[DeliveryResult]:
    """Send `event` to Slack and Teams, skipping a channel whose webhook URL is unset.

    Never raises. Each failure is logged at WARNING and returned, so it cannot change the deploy's result.
    `send_options` are passed to `send` (timeout, retries, backoff, sleep).
    """
    channels: list[tuple[str, Secret | None, Callable[[Event], dict[str, Any]]]] = [
        ("slack", slack_url, slack_payload),
        ("teams", teams_url, teams_payload),
    ]
    results = []
    for channel, url, build_payload in channels:
        if not url:
            message = f"skipped: {WEBHOOK_VARIABLES[channel]} is not set"
            log.info("notify: %s %s", channel, message)
            results.append(DeliveryResult(channel, ok=True, attempts=0, message=message))
            continue
        try:
            result = send(url, build_payload(event), channel=channel, **send_options)
        except Exception as error:
            # Broad on purpose: a bug in a payload builder or in send must not fail the deploy either.
            text = _mask_url(f"{type(error).__name__}: {error}", url)
            result = DeliveryResult(channel, ok=False, attempts=0, message=f"failed: unexpected error: {text}")
        if result.ok:
            log.info("notify: %s %s", channel, result.message)
        else:
            log.warning("notify: %s %s (the deploy result is not affected)", channel, result.message)
        results.append(result)
    return results


@dataclass(frozen=True)
class _Attempt:
    ok: bool
    retryable: bool
    description: str
    retry_after: float | None = None


def send(
    url: Secret,
    payload: dict[str, Any],
    *,
    channel: str,
    timeout: float = 10,
    retries: int = 3,
    backoff: float = 1.0,
    sleep: Callable[[float], object] = time.sleep,
) -> DeliveryResult:
    """POST `payload` as JSON to the webhook `url`, retrying HTTP 5xx, 429 and connection errors.

    Makes at most 1 + `retries` attempts, waiting `backoff`, 2 * `backoff`, 4 * `backoff` ...
    seconds between them, or the server's Retry-After when that is longer (capped at
    MAX_RETRY_AFTER_SECONDS). Other 4xx responses are final. Delivery problems are returned with
    ok=False, never raised. Raises ValueError only for a negative `retries` or `backoff`, or a
    `timeout` that is not positive.
    """
    if retries < 0 or backoff < 0 or timeout <= 0:
        raise ValueError(f"invalid send options: retries={retries}, backoff={backoff}, timeout={timeout}")
    problem = _check_url(url.reveal(), channel)
    if problem:
        return DeliveryResult(channel, ok=False, attempts=0, message=problem)

    data = json.dumps(payload).encode("utf-8")
    max_attempts = 1 + retries
    for attempt in range(1, max_attempts + 1):
        outcome = _post_once(url, data, timeout)
        description = _mask_url(outcome.description, url)
        if outcome.ok:
            return DeliveryResult(
                channel, ok=True, attempts=attempt, message=f"delivered on attempt {attempt} ({description})"
            )
        if not outcome.retryable:
            return DeliveryResult(channel, ok=False, attempts=attempt, message=f"failed, not retried: {description}")
        if attempt == max_attempts:
            break
        delay = backoff * 2 ** (attempt - 1)
        if outcome.retry_after is not None:
            delay = max(delay, min(outcome.retry_after, MAX_RETRY_AFTER_SECONDS))
        log.info(
            "notify: %s attempt %d of %d failed (%s); retrying in %g s",
            channel,
            attempt,
            max_attempts,
            description,
            delay,
        )
        sleep(delay)
    plural = "s" if max_attempts > 1 else ""
    return DeliveryResult(
        channel, ok=False, attempts=max_attempts, message=f"failed after {max_attempts} attempt{plural}: {description}"
    )


def webhook_problem(value: str) -> str:
    """Return why value cannot be a webhook URL, or "" if it can. The reason never quotes the URL."""
    # Whitespace or control characters would make http.client raise InvalidURL with part of the URL in its text,
    # and non-ASCII characters would raise UnicodeEncodeError. Webhook URLs from Slack and Teams are plain ASCII.
    if not value.isascii() or any(char.isspace() or ord(char) < 32 or ord(char) == 127 for char in value):
        return "it contains whitespace, control or non-ASCII characters"
    parts = urlsplit(value)
    if parts.scheme.lower() not in ALLOWED_SCHEMES or not parts.hostname:
        return "expected an https:// or http:// URL with a host"
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when it is read
    except ValueError:
        return "the port is not a number from 0 to 65535"
    return ""


def _check_url(value: str, channel: str) -> str:
    """Return why `value` cannot be a webhook URL, or "" if it can. The reason never quotes the URL."""
    setting = WEBHOOK_VARIABLES.get(channel, "the webhook URL")
    problem = webhook_problem(value)
    if problem:
        return f"failed: invalid {channel} webhook URL: {problem}; check {setting}"
    parts = urlsplit(value)
    if parts.scheme.lower() == "http" and parts.hostname not in LOOPBACK_HOSTS:
        log.warning("notify: %s webhook URL uses http://, so its token travels unencrypted; use https://", channel)
    return ""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Report a redirect as an HTTP error, because urllib would turn the POST into a GET without the payload."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: email.message.Message,
        newurl: str,
    ) -> None:
        return None


def _post_once(url: Secret, data: bytes, timeout: float) -> _Attempt:
    request = urllib.request.Request(  # noqa: S310 - _check_url accepts only http and https
        url.reveal(),
        data=data,
        headers={"Content-Type": "application/json", "User-Agent": "agent-dk-notify"},
        method="POST",
    )
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read(MAX_READ_BYTES)
            return _Attempt(ok=True, retryable=False, description=f"HTTP {response.status}")
    except urllib.error.HTTPError as error:
        return _http_error(error)
    except urllib.error.URLError as error:
        if isinstance(error.reason, TimeoutError):
            return _Attempt(ok=False, retryable=True, description=f"timed out after {timeout:g} s")
        return _Attempt(ok=False, retryable=True, description=f"connection failed: {error.reason}")
    except TimeoutError:
        return _Attempt(ok=False, retryable=True, description=f"timed out after {timeout:g} s")
    except http.client.InvalidURL as error:
        return _Attempt(ok=False, retryable=False, description=f"invalid URL: {error}")
    except (http.client.HTTPException, OSError) as error:
        # A dropped connection or a malformed response line, e.g. RemoteDisconnected.
        return _Attempt(ok=False, retryable=True, description=f"connection failed: {type(error).__name__}: {error}")


def _http_error(error: urllib.error.HTTPError) -> _Attempt:
    try:
        body = error.read(MAX_READ_BYTES).decode("utf-8", errors="replace")
    except (OSError, http.client.HTTPException):
        body = ""
    finally:
        error.close()
    body = " ".join(body.split())
    description = f"HTTP {error.code}"
    if body:
        description += f": {_truncate(body, MAX_BODY_CHARS)}"
    if 300 <= error.code < 400:
        description += " (the webhook URL redirects; set the final URL)"
    retryable = error.code == 429 or error.code >= 500
    return _Attempt(ok=False, retryable=retryable, description=description, retry_after=_retry_after(error))


def _retry_after(error: urllib.error.HTTPError) -> float | None:
    """Return the Retry-After delay in seconds, or None when it is missing or an HTTP date, so the backoff applies."""
    value = (error.headers.get("Retry-After") or "").strip() if error.headers else ""
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def _mask_url(text: str, url: Secret) -> str:
    """Mask the webhook URL in `text`, including the parts of it that urllib and servers quote on their own."""
    value = url.reveal()
    parts = urlsplit(value)
    without_scheme = value.split("://", 1)[-1]
    after_host = without_scheme[len(parts.netloc) :]
    candidates = [value, without_scheme, after_host, parts.path]
    candidates += [parts.query, *parts.path.split("/"), *(item for _, item in parse_qsl(parts.query))]
    secrets = {Secret(part) for part in candidates if len(part) >= MIN_MASKED_PART_CHARS}
    return mask_text(text, sorted(secrets, key=lambda secret: len(secret.reveal()), reverse=True))
