"""``POST /v1/scan`` and ``GET /v1/jobs/{job_id}``: an upload becomes a durable job (row and
spooled bytes written before the 202); ``?wait=SECONDS`` holds the answer until it is done."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from consentry.errors import ConfigError
from consentry.service.auth import Principal, as_submitter
from consentry.service.errors import ApiError
from consentry.service.uploads import fetch_into_spool, spool
from consentry.signals import catalog
from consentry.store import jobs as job_store

router = APIRouter(prefix="/v1", tags=["scan"])
OPERATORS = ("admin", "operator")
_UPLOAD = File(None, description="the image or video (or url=)")
_URL = Form(None, description="fetch the upload from this URL instead (only when the operator "
            "turned URL fetching on: allow-listed hosts, public addresses, size and time limits)")
_SIGNALS = Form(None, description="comma-separated signals (default: every installed one)")
_POLICY = Form(None, description="a policy name this service offers")
_EXTERNAL_ID = Form(None, description="your id for the upload, echoed back")


def _signals(value: str | None) -> tuple[str, ...] | None:
    if not value:
        return None
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    try:
        catalog.resolve(names)
    except ConfigError as exc:
        raise ApiError(400, str(exc), "bad_signals") from None
    return names


async def _wait_for(request: Request, job_id: str, wait: float, *, just_queued: bool = False
                    ) -> job_store.JobRecord | None:
    db = request.app.state.db
    wait = min(max(wait, 0.0), request.app.state.settings.max_wait_s)
    if not just_queued or wait <= 0:  # a job queued a moment ago has not ended: no read
        job = await run_in_threadpool(job_store.get, db, job_id)
        if job is None or job.status in ("done", "error") or wait <= 0:
            return job
    await request.app.state.job_waiter.wait(job_id, wait)
    return await run_in_threadpool(job_store.get, db, job_id)


def _answer(job: job_store.JobRecord) -> JSONResponse:
    finished = job.status in ("done", "error")
    return JSONResponse(_jsonable(job.as_json()), 200 if finished else 202)


def _jsonable(value: Any) -> Any:
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(value)


@router.post("/scan", status_code=202)
async def scan(request: Request, file: UploadFile | None = _UPLOAD, signals: str | None = _SIGNALS,
               policy: str | None = _POLICY, external_id: str | None = _EXTERNAL_ID,
               url: str | None = _URL, wait: float = 0.0, who: Principal = as_submitter) -> JSONResponse:
    """Accept one upload for scanning: 202 ``{"job_id": ...}``; with ``?wait=30`` the result
    when it is ready in time (200), else the 202."""
    return await accept(request, who, file=file, signals=signals, policy=policy,
                        external_id=external_id, url=url, wait=wait)


async def accept(request: Request, who: Principal, *, file: UploadFile | None, signals: str | None,
                 policy: str | None, external_id: str | None, url: str | None, wait: float
                 ) -> JSONResponse:
    """The scan route's work, shared with its hot path (service/fast_scan.py)."""
    settings = request.app.state.settings
    chosen = _signals(signals)
    if policy is not None and policy not in settings.policies:
        raise ApiError(400, f"no policy named {policy!r} on this service", "bad_policy")
    if external_id is not None and len(external_id) > 200:
        raise ApiError(400, "external_id is at most 200 characters", "bad_request")
    job_id = job_store.new_job_id()
    if (file is None) == (url is None):
        raise ApiError(400, "send the upload as the file field, or url= (one of them)", "bad_request")
    if file is not None:
        path, size, _found = await spool(file, settings.spool_dir / "jobs", job_id)
    else:
        path, size = await fetch_into_spool(settings, url or "", settings.spool_dir / "jobs", job_id)
    await run_in_threadpool(_enqueue, request.app.state.db, job_id, settings, spool_path=str(path),
                            size=size, key_id=who.key.key_id, external_id=external_id,
                            signals=chosen, policy=policy)
    if wait > 0:
        job = await _wait_for(request, job_id, wait, just_queued=True)
        if job is not None and job.status in ("done", "error"):
            return _answer(job)
    return JSONResponse({"job_id": job_id, "status": "queued"}, 202)


def _enqueue(db: Any, job_id: str, settings: Any, **job: Any) -> None:
    """Queue the job, then wake this machine's idle job workers (service/doorbell.py)."""
    from consentry.service.doorbell import Doorbell, bells_folder

    job_store.enqueue(db, job_id, **job)
    Doorbell(bells_folder(settings.spool_dir)).ring()


@router.get("/jobs/{job_id}")
async def job(request: Request, job_id: str, wait: float = 0.0,
              who: Principal = as_submitter) -> JSONResponse:
    """``{"status": "queued|running|done|error", "result": <item JSON>}``; 202 while unfinished."""
    found = await _wait_for(request, job_id, wait)
    if found is None:
        raise ApiError(404, f"no job {job_id}", "not_found")
    if who.role not in OPERATORS:
        owner = await run_in_threadpool(_owner, request, job_id)
        if owner != who.key.key_id:
            raise ApiError(404, f"no job {job_id}", "not_found")  # others' jobs are not shown
    return _answer(found)


def _owner(request: Request, job_id: str) -> str | None:
    from consentry.store.tables.service import Job

    with request.app.state.db.session() as session:
        row = session.get(Job, job_id)
        return row.key_id if row else None
