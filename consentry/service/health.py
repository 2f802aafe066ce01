"""Health and status: HMA's ``/status``, liveness, readiness (indexes loaded), metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from consentry import __version__
from consentry.service.auth import as_admin, public

router = APIRouter(tags=["health"])


@router.get("/status", dependencies=[public], response_class=PlainTextResponse)
def status() -> str:
    """200 once the service is up (HMA answers ``I-AM-ALIVE``)."""
    return "I-AM-ALIVE"


@router.get("/livez", dependencies=[public])
def livez() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


@router.get("/readyz", dependencies=[public])
def readyz(request: Request) -> JSONResponse:
    """200 once the bank indexes are loaded, 503 before."""
    ready = request.app.state.lookup.ready
    return JSONResponse({"ready": ready}, 200 if ready else 503)


@router.get("/metrics", dependencies=[as_admin], response_class=PlainTextResponse)
def metrics(request: Request) -> Response:
    return Response(request.app.state.metrics.render(),
                    media_type="text/plain; version=0.0.4; charset=utf-8")
