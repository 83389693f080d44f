"""A small publisher for the push cluster's HTTP API, for Python backends (standard library only).

The same rules as the Node.js PushPublisher (src/publisher/): a room or user message carries an
idempotency key and is sent again under it while its outcome is unknown (502/503
``outcome_unknown``, a 500, no answer) or the cluster is busy (429, 502/503/504, a refused
connection), after ``Retry-After`` when given; a refusal (any other 4xx) is never sent again; a
message to everyone has no key and is at most once (sent again only while surely not taken).
``publish`` returns what happened instead of raising.
"""

from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Optional


@dataclass
class Outcome:
    """What became of a publish.

    status: "published" (receipt: id, offset, epoch, duplicate), "refused" (never sent again;
    not published), "not_published" (busy for as long as it tried), or "unknown" (may have been
    published: send again later with the same idempotency_key).
    """

    status: str
    attempts: int
    receipt: dict = field(default_factory=dict)
    error: dict = field(default_factory=dict)
    http_status: int = 0
    idempotency_key: Optional[str] = None


class PushPublisher:
    """Publishes to the push cluster at ``url`` (nginx) with one of its ``PUBLISH_API_KEYS``."""

    def __init__(
        self,
        url: str,
        api_key: str | Callable[[], str],
        retry_for: float = 30.0,
        request_timeout: float = 10.0,
        backoff_base: float = 0.2,
        backoff_max: float = 5.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.retry_for = retry_for
        self.request_timeout = request_timeout
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max

    def publish(
        self,
        data: Any,
        room: Optional[str] = None,
        user: Optional[str] = None,
        event: Optional[str] = None,
        idempotency_key: Optional[str] = None,
    ) -> Outcome:
        """Publishes ``data`` to ``room``, to ``user``, or (neither) to everyone."""
        keyed = room is not None or user is not None
        key = (idempotency_key or str(uuid.uuid4())) if keyed else None
        body: dict[str, Any] = {"data": data}
        if room is not None:
            body["room"] = room
        if user is not None:
            body["user"] = user
        if event is not None:
            body["event"] = event
        if key is not None:
            body["idempotencyKey"] = key
        payload = json.dumps(body).encode()
        deadline = time.monotonic() + self.retry_for
        uncertain = False
        attempt = 0
        while True:
            attempt += 1
            kind, status, answer, retry_after = self._send(payload)
            if kind == "accepted":
                return Outcome("published", attempt, receipt=answer, http_status=status, idempotency_key=key)
            error = answer.get("error", {}) if isinstance(answer, dict) else {}
            if kind == "refused":
                final = "unknown" if uncertain else "refused"
                return Outcome(final, attempt, error=error, http_status=status, idempotency_key=key)
            if kind == "unknown":
                uncertain = True
                if not keyed:
                    return Outcome("unknown", attempt, error=error, http_status=status)
            ceiling = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
            wait = max(retry_after or 0.0, ceiling * (0.5 + random.random() / 2))
            if time.monotonic() + wait > deadline:
                final = "unknown" if uncertain else "not_published"
                return Outcome(final, attempt, error=error, http_status=status, idempotency_key=key)
            time.sleep(wait)

    def _send(self, payload: bytes) -> tuple[str, int, Any, Optional[float]]:
        """One POST /api/publish: (accepted | refused | busy | unknown, status, body, retry-after s)."""
        key = self.api_key() if callable(self.api_key) else self.api_key
        request = urllib.request.Request(
            f"{self.url}/api/publish",
            data=payload,
            method="POST",
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.request_timeout) as response:
                return "accepted", response.status, _json(response.read()), None
        except urllib.error.HTTPError as failure:
            status = failure.code
            body = _json(failure.read())
            retry_after = _retry_after(failure.headers.get("Retry-After"))
            code = body.get("error", {}).get("code") if isinstance(body, dict) else None
            if code == "outcome_unknown" or status == 500:
                return "unknown", status, body, retry_after
            if status in (429, 502, 503, 504):
                return "busy", status, body, retry_after
            return "refused", status, body, None
        except urllib.error.URLError as failure:
            reason = failure.reason
            if isinstance(reason, ConnectionRefusedError):
                return "busy", 0, {"error": {"code": "unavailable", "message": str(reason)}}, None
            return "unknown", 0, {"error": {"code": "outcome_unknown", "message": str(reason)}}, None
        except (TimeoutError, ConnectionError, OSError) as failure:
            return "unknown", 0, {"error": {"code": "outcome_unknown", "message": str(failure)}}, None


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode() or "{}")
    except ValueError:
        return {}


def _retry_after(header: Optional[str]) -> Optional[float]:
    if header is None:
        return None
    if header.strip().isdigit():
        return float(header)
    try:
        return max(0.0, parsedate_to_datetime(header).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
