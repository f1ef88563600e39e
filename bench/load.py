"""A steady HTTP load on one loopback port, recording every request's outcome.

Each request opens a new connection, as a health checker or a curl loop would, so a closed
port or a reset shows up as a failure. The load stops by itself at its count or time bound.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass, field

LOOPBACK = "127.0.0.1"


@dataclass
class Sample:
    at: float
    ok: bool
    version: str | None
    error: str = ""


@dataclass
class LoadSummary:
    sent: int
    failed: int
    longest_gap: float
    versions: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    first_seen: dict[str, float] = field(default_factory=dict)


class Load:
    """Send GET /version to 127.0.0.1:port from `workers` threads until stopped or bounded."""

    def __init__(self, port: int, *, workers: int = 2, max_seconds: float = 300, max_requests: int = 200_000) -> None:
        self.port = port
        self.workers = workers
        self.max_seconds = max_seconds
        self.max_requests = max_requests
        self.samples: list[Sample] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.started = 0.0

    def __enter__(self) -> Load:
        self.started = time.monotonic()
        for _ in range(self.workers):
            thread = threading.Thread(target=self._loop, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def _loop(self) -> None:
        deadline = self.started + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            with self._lock:
                if len(self.samples) >= self.max_requests:
                    return
            sample = self._request()
            with self._lock:
                self.samples.append(sample)

    def _request(self) -> Sample:
        at = time.monotonic()
        connection = http.client.HTTPConnection(LOOPBACK, self.port, timeout=10)
        try:
            connection.request("GET", "/version")
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                return Sample(at, False, None, f"HTTP {response.status}")
            return Sample(at, True, json.loads(body)["version"])
        except (OSError, http.client.HTTPException, ValueError, KeyError) as error:
            return Sample(at, False, None, f"{error.__class__.__name__}: {error}")
        finally:
            connection.close()

    def summary(self) -> LoadSummary:
        with self._lock:
            samples = sorted(self.samples, key=lambda sample: sample.at)
        failed = [sample for sample in samples if not sample.ok]
        longest_gap = 0.0
        last_ok = self.started
        versions: list[str] = []
        first_seen: dict[str, float] = {}
        for sample in samples:
            if sample.ok:
                longest_gap = max(longest_gap, sample.at - last_ok)
                last_ok = sample.at
                if sample.version and sample.version not in first_seen:
                    first_seen[sample.version] = sample.at - self.started
                    versions.append(sample.version)
        return LoadSummary(
            sent=len(samples),
            failed=len(failed),
            longest_gap=longest_gap,
            versions=versions,
            errors=sorted({sample.error for sample in failed})[:5],
            first_seen=first_seen,
        )
