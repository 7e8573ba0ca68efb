"""``/health`` (the process answers) and ``/ready`` (it can take callbacks), for probes.

Neither needs authentication nor says anything secret. ``/ready`` answers 200 when every
readiness check passes, else 503 naming the failing checks, as a short JSON object::

    {"status": "unavailable", "failing": ["database"],
     "checks": {"database": "failed: ConnectionRefusedError", "migrations": "ok"}}
"""

from __future__ import annotations

from litestar import Response, get
from litestar.handlers import HTTPRouteHandler

from callbox.ops.readiness import ReadinessChecks

HEALTH_PATH = "/health"
READY_PATH = "/ready"
_NO_STORE = {"Cache-Control": "no-store"}


def health_routes(readiness: ReadinessChecks) -> list[HTTPRouteHandler]:
    async def health() -> Response[dict[str, str]]:
        return Response({"status": "ok"}, headers=_NO_STORE)

    async def ready() -> Response[dict[str, object]]:
        results = await readiness.run()
        failing = [result.name for result in results if not result.ok]
        body: dict[str, object] = {
            "status": "unavailable" if failing else "ready",
            "checks": {result.name: result.detail for result in results},
        }
        if failing:
            body["failing"] = failing
        return Response(body, status_code=503 if failing else 200, headers=_NO_STORE)

    return [
        get(HEALTH_PATH, name="callbox-health", include_in_schema=False)(health),
        get(READY_PATH, name="callbox-ready", include_in_schema=False)(ready),
    ]
