"""The item page and what is done from it: claim and release, the audited reveal, the
pictures (blurred unless revealed), and decisions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import select

from consentry.errors import ConfigError
from consentry.match.banks import service as banks
from consentry.service.auth import public
from consentry.service.ui import evidence as ev
from consentry.service.ui import faces, media
from consentry.service.ui.decisions import DecisionError, allowed, decide
from consentry.service.ui.settings import DECIDERS, LIKENESS_ROLES
from consentry.service.ui.web import Signed, UiError, checked_form, redirect, render
from consentry.store import audit
from consentry.store import review as review_store
from consentry.store.review import PEOPLE_ROLES, SignIn
from consentry.store.tables.core import Item
from consentry.store.tables.service import Job

router = APIRouter(prefix="/ui", dependencies=[public], include_in_schema=False)
viewer = Depends(Signed(*PEOPLE_ROLES))
decider = Depends(Signed(*DECIDERS))
VIDEO_TYPES = {"mp4": "video/mp4", "mov": "video/mp4", "webm": "video/webm", "matroska": "video/webm"}


def vault(request: Request):  # type: ignore[no-untyped-def]
    return request.app.state.review.vault(request.app.state.db, request.app.state.settings.spool_dir)


def _load(request: Request, item_id: int, signin: SignIn) -> dict[str, Any]:
    db = request.app.state.db
    role = signin.person.role
    with db.session() as session:
        item = session.get(Item, item_id)
        if item is None:
            raise UiError(404, f"there is no item {item_id}")
        state = review_store.state_of(session, item_id)
        result = dict(item.result or {})
        see_likeness = role in LIKENESS_ROLES
        if see_likeness and result.get("likeness"):
            audit.record(session, signin.person.actor, "review.likeness_view", f"item:{item_id}",
                         persons=[m.get("person") for m in result["likeness"]])
        claim = review_store.active_claim(session, item_id)
        history = review_store.decisions(session, item_id)
        job = session.execute(select(Job.id, Job.external_id).where(Job.item_id == item_id)).first()
        external = job.external_id if job else None
        bank_list = [(b.name, b.kind) for b in banks.list_banks(session)]
        path = item.path
    keeper = vault(request)
    kept = keeper.info(item_id) if keeper is not None else None
    overlay = _face_overlay(keeper, item_id, result) if kept is not None and kept.available else ""
    return {"item_id": item_id, "result": result, "state": state, "claim": claim, "history": history,
            "external_id": external, "kind": result.get("kind"),
            # an API upload's path is its spool file: say what it is instead
            "name": "API upload" if job else path.rsplit("/", 1)[-1],
            "evidence": ev.evidence(result, may_see_likeness=see_likeness),
            "kept": kept, "retention_on": keeper is not None, "face_overlay": overlay,
            "choices": allowed(state, role),
            "harm_banks": [n for n, k in bank_list if k != "allow"],
            "allow_banks": [n for n, k in bank_list if k == "allow"]}


def _face_overlay(keeper, item_id: int, result: dict[str, Any]) -> str:  # type: ignore[no-untyped-def]
    """Face boxes and scores over the kept picture (a still), or on a map of the frame (a video)."""
    found = faces.boxes(result)
    if not found:
        return ""
    if result.get("kind") == "video":
        shape = result.get("media") or {}
        w, h = int(shape.get("width") or 0), int(shape.get("height") or 0)
        return faces.overlay_svg(found, w, h, css_class="frame-map")
    data = keeper.read(item_id)
    size = faces.still_size(data) if data is not None else None
    return faces.overlay_svg(found, *size, css_class="face-overlay") if size else ""


@router.get("/items/{item_id}")
async def item_page(request: Request, item_id: int, signin: SignIn = viewer) -> Response:
    data = await run_in_threadpool(_load, request, item_id, signin)
    await run_in_threadpool(review_store.note_seen, request.app.state.db, signin.session_id, item_id)
    signin = review_store.resume_session(request.app.state.db, request.cookies["consentry_session"],
                                         request.app.state.review.session_idle_s) or signin
    request.state.signin = signin
    revealed = item_id in signin.revealed
    n_frames = media.KEYFRAMES if data["kind"] == "video" else 0
    return render(request, "item.html", **data, revealed=revealed, n_frames=n_frames,
                  may_decide=signin.person.role in DECIDERS, me=signin.person.name,
                  video_type=VIDEO_TYPES.get(str((data["result"].get("media") or {}).get("container")),
                                             "video/mp4"))


def _media_bytes(request: Request, item_id: int) -> tuple[bytes, str | None]:
    keeper = vault(request)
    data = keeper.read(item_id) if keeper is not None else None
    if data is None:
        raise UiError(404, "this item's media is not kept (retention is off, or its time is up)")
    info = keeper.info(item_id)  # type: ignore[union-attr]
    return data, info.kind if info else None


def _jpeg(body: bytes) -> Response:
    return Response(body, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.get("/items/{item_id}/picture")
async def picture(request: Request, item_id: int, signin: SignIn = decider) -> Response:
    """Blurred and greyscale, unless this session revealed the item."""
    data, kind = await run_in_threadpool(_media_bytes, request, item_id)
    body = await run_in_threadpool(media.picture, data, kind, revealed=item_id in signin.revealed,
                                   percent=signin.person.blur_percent)
    return _jpeg(body)


@router.get("/items/{item_id}/keyframe")
async def keyframe(request: Request, item_id: int, i: int = 0, signin: SignIn = decider) -> Response:
    data, kind = await run_in_threadpool(_media_bytes, request, item_id)
    if kind != "video":
        raise UiError(404, "keyframes are for videos")
    try:
        body = await run_in_threadpool(media.keyframe, data, i, revealed=item_id in signin.revealed,
                                       percent=signin.person.blur_percent)
    except (ValueError, OSError) as exc:
        raise UiError(422, f"the video could not be decoded: {exc}") from None
    return _jpeg(body)


@router.get("/items/{item_id}/video")
async def video(request: Request, item_id: int, signin: SignIn = decider) -> Response:
    """The video itself, only after this session's reveal (the page plays it muted, never
    on its own)."""
    if item_id not in signin.revealed:
        raise UiError(403, "reveal the item first (one deliberate, audited action)")
    data, kind = await run_in_threadpool(_media_bytes, request, item_id)
    if kind != "video":
        raise UiError(404, "this item is not a video")
    return Response(data, media_type="video/mp4", headers={"Cache-Control": "no-store"})


@router.post("/items/{item_id}/reveal")
async def reveal(request: Request, item_id: int, signin: SignIn = decider) -> Response:
    await checked_form(request, signin)
    await run_in_threadpool(_media_bytes, request, item_id)  # nothing to reveal: 404
    if item_id not in signin.revealed:
        def record() -> None:
            with request.app.state.db.session() as session:
                review_store.note_reveal(session, signin.session_id, item_id)
                audit.record(session, signin.person.actor, "review.reveal", f"item:{item_id}",
                             sign_in=signin.session_id)
        await run_in_threadpool(record)
    return redirect(f"/ui/items/{item_id}")


@router.post("/items/{item_id}/claim")
async def claim(request: Request, item_id: int, signin: SignIn = decider) -> Response:
    await checked_form(request, signin)
    try:
        await run_in_threadpool(review_store.claim, request.app.state.db, item_id, signin.person,
                                request.app.state.review.claim_s)
    except ConfigError as exc:
        raise UiError(409, str(exc)) from None
    return redirect(f"/ui/items/{item_id}")


@router.post("/items/{item_id}/release")
async def release(request: Request, item_id: int, signin: SignIn = decider) -> Response:
    await checked_form(request, signin)

    def drop() -> None:
        with request.app.state.db.session() as session:
            review_store.release(session, item_id, signin.person)
    await run_in_threadpool(drop)
    return redirect("/ui/queue")


@router.post("/items/{item_id}/decision")
async def decision(request: Request, item_id: int, signin: SignIn = decider) -> Response:
    form = await checked_form(request, signin)
    try:
        outcome = await run_in_threadpool(
            lambda: decide(request.app.state.db, item_id, form.get("decision", ""),
                           actor=signin.person.actor, role=signin.person.role,
                           reviewer_name=signin.person.name, bank=form.get("bank"),
                           label=form.get("label"), note=form.get("note"), vault=vault(request)))
    except DecisionError as exc:
        raise UiError(exc.status, exc.message) from None
    return redirect(f"/ui/queue?done={outcome.item_id}")


@router.post("/items/{item_id}/evidence")
async def evidence_report(request: Request, item_id: int, signin: SignIn = viewer) -> Response:
    """The item's evidence report as a download (PDF or HTML). A thumbnail only for those who
    see media (reviewers), only while the media is kept, strongly blurred; the report is
    recorded in the audit log (evidence.report, with its SHA-256)."""
    form = await checked_form(request, signin)
    fmt = form.get("format", "pdf")
    if fmt not in ("pdf", "html"):
        raise UiError(400, "the format is pdf or html")
    image = None
    if form.get("thumbnail"):
        if signin.person.role not in DECIDERS:
            raise UiError(403, "only reviewers, who see media, may include a thumbnail")
        data, kind = await run_in_threadpool(_media_bytes, request, item_id)
        image = await run_in_threadpool(media.picture, data, kind, revealed=False, percent=100)

    def make():  # type: ignore[no-untyped-def]
        from consentry.actions.evidence.issue import issue

        with request.app.state.db.session() as session:
            if session.get(Item, item_id) is None:
                raise UiError(404, f"there is no item {item_id}")
        return issue(request.app.state.db, item_id, actor=signin.person.actor, pdf=fmt == "pdf",
                     html=fmt == "html", image=image)
    try:
        made = await run_in_threadpool(make)
    except ConfigError as exc:  # e.g. ReportLab not installed
        raise UiError(503, str(exc)) from None
    name = f"evidence-item-{item_id}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    if fmt == "pdf":
        return Response(made.pdf, media_type="application/pdf", headers=headers)
    return Response(made.html, media_type="text/html; charset=utf-8", headers=headers)
