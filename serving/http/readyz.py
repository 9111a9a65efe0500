"""``GET /readyz`` names what the service decides with.

BentoML answers ``/readyz`` from the service's ``__is_ready__`` (200 or 503). This
middleware keeps that status and replaces the body with JSON naming the model version in
use, the rule-pack version and, when not ready, what is missing::

    {"ready": true, "model": {"name": "contact-risk", "version": "4", "alias": "champion"},
     "rules_version": "…", "problems": []}
"""

from __future__ import annotations

import json
from typing import Any

Scope = dict[str, Any]


class ReadyzMiddleware:
    """Rewrites the body of ``GET /readyz``; everything else passes through untouched."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") != "/readyz":
            await self.app(scope, receive, send)
            return
        status: list[int] = []

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))

        await self.app(scope, receive, capture)
        from serving.pipeline import serving_resources

        code = status[0] if status else 503
        resources = serving_resources()
        if resources is None:
            body: dict[str, Any] = {"ready": False, "problems": ["service not started"]}
        else:
            found = resources.status()
            body = {
                "ready": code == 200,
                "model": found["model"],
                "rules_version": found["rules_version"],
                "problems": found["problems"],
            }
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": code,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
