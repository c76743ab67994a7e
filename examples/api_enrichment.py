"""API enrichment: concurrent calls, retries, a circuit breaker and dead letters.

The script starts a small HTTP service on 127.0.0.1 (stdlib http.server, in a
background thread) with the failure modes real services have:

- ``/profile/<id>``: fast; some users do not exist (404).
- ``/score/<id>``: flaky; some calls fail twice with 503 before succeeding.
- ``/recs/<id>``: down at first (500), healthy after its first 8 requests.
- ``/store``: rejects some writes (500) every time.

The pipeline enriches 200 users through all four, and accounts for every one
of them: enriched and stored, or a dead letter saying where and why it failed.

Run: python examples/api_enrichment.py
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import reactivex as rx

from rxstreamz import (
    CircuitBreaker,
    CircuitOpenError,
    DeadLetter,
    async_map,
    circuit_breaker,
    collect,
    dead_letter,
    retry_,
    take_,
)

User = dict[str, Any]


class Service(BaseHTTPRequestHandler):
    score_attempts: ClassVar[Counter[int]] = Counter()
    recs_requests = 0
    lock = threading.Lock()

    def do_GET(self) -> None:
        _, endpoint, raw_id = self.path.split("/")
        user = int(raw_id)
        if endpoint == "profile":
            if user % 37 == 0:
                return self.reply(404, {"error": "no such user"})
            return self.reply(200, {"id": user, "name": f"user-{user}"})
        if endpoint == "score":
            with self.lock:
                self.score_attempts[user] += 1
                attempt = self.score_attempts[user]
            if user % 10 == 0 and attempt <= 2:
                return self.reply(503, {"error": "busy"})
            return self.reply(200, {"score": user % 100})
        with self.lock:
            Service.recs_requests += 1
            down = Service.recs_requests <= 8
        if down:
            return self.reply(500, {"error": "recommendations down"})
        return self.reply(200, {"recs": [user + 1, user + 2]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if body["id"] % 53 == 0:
            return self.reply(500, {"error": "write rejected"})
        return self.reply(201, {"stored": body["id"]})

    def reply(self, status: int, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        return  # keep the example's output readable


@contextmanager
def running_service() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Service)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class HTTPStatusError(Exception):
    def __init__(self, status: int, url: str) -> None:
        super().__init__(f"HTTP {status} from {url}")
        self.status = status


def call(url: str, payload: object | None = None) -> Any:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise HTTPStatusError(exc.code, url) from None


def is_transient(exc: Exception) -> bool:
    return isinstance(exc, HTTPStatusError) and exc.status == 503


def main() -> None:
    dead: list[DeadLetter[Any]] = []
    transitions: list[tuple[str, str]] = []
    breaker = CircuitBreaker(
        failure_threshold=0.5,
        min_requests=4,
        recovery_timeout=0.05,
        half_open_requests=2,
        on_state_change=lambda old, new: transitions.append((old, new)),
    )

    with running_service() as base:

        def profile(user: int) -> User:
            return dict(call(f"{base}/profile/{user}"))

        def score(user: User) -> User:
            return {**user, **call(f"{base}/score/{user['id']}")}

        def recommendations(user: User) -> User:
            return {**user, **call(f"{base}/recs/{user['id']}")}

        def store(user: User) -> User:
            call(f"{base}/store", user)
            return user

        stored = collect(
            rx.interval(0.002).pipe(
                take_(200),
                # Ten profile calls at a time; results keep the input order.
                async_map(profile, workers=10, errors="skip", on_failure=dead.append),
                # Transient 503s are retried after 10 ms, then 20 ms, then 40 ms.
                retry_(score, max_attempts=4, base_delay=0.01, retry_on=is_transient),
                # While recommendations are down, fail fast instead of waiting on them.
                circuit_breaker(
                    recommendations, breaker=breaker, errors="skip", on_failure=dead.append
                ),
                # A write that still fails after one retry becomes a dead letter.
                dead_letter(store, sink=dead.append, max_retries=1, retry_delay=0.01),
            ),
            timeout=60,
        )

    def reason(letter: DeadLetter[Any]) -> str:
        error = letter.error
        what = (
            f"HTTP {error.status}" if isinstance(error, HTTPStatusError) else type(error).__name__
        )
        return f"{letter.processor}: {what}"

    reasons = Counter(reason(letter) for letter in dead)
    print(f"{len(stored)} users enriched and stored, {len(dead)} dead letters:")
    for reason, count in sorted(reasons.items()):
        print(f"  {count:3d} x {reason}")
    print("breaker:", " -> ".join([transitions[0][0], *(new for _, new in transitions)]))
    print("breaker stats:", breaker.stats())

    assert len(stored) + len(dead) == 200, "every user is accounted for"
    assert all(user["score"] == user["id"] % 100 for user in stored), "retries recovered the 503s"
    assert ("closed", "open") in transitions
    assert breaker.state == "closed"
    rejected = [letter for letter in dead if isinstance(letter.error, CircuitOpenError)]
    assert all(letter.attempts == 0 for letter in rejected)
    unstored = {letter.item["id"] for letter in dead if letter.processor == "dead_letter"}
    assert unstored <= {53, 106, 159}


if __name__ == "__main__":
    main()
