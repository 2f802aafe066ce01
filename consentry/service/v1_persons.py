"""The likeness registry through the API: operators only. Enrolment takes the photos and
the consent record as ``consentry person enrol`` does and runs the very same analysis
(``consentry.cli.person.analyse_photos``: the faces signal, in worker processes); the
photos live only in a private folder in memory (/dev/shm) while they are analysed and are
deleted before the answer, and the enrolment is audited. Listing shows consent records;
removal forgets the person everywhere (consentry.match.likeness.service.remove)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder

from consentry.errors import ConfigError
from consentry.match.likeness import service as persons
from consentry.service.auth import Principal, as_operator
from consentry.service.enrol_photos import MAX_PHOTOS, in_memory_folder, write_upload
from consentry.service.errors import ApiError
from consentry.service.schemas import PersonRemove

router = APIRouter(prefix="/v1", tags=["persons"])


def _json(record: Any) -> dict[str, Any]:
    as_json = getattr(record, "as_json", None)
    if as_json is not None:
        return jsonable_encoder(as_json())
    from dataclasses import asdict

    return jsonable_encoder(asdict(record))


@router.get("/persons", dependencies=[as_operator])
def list_persons(request: Request) -> list[dict[str, Any]]:
    return [_json(p) for p in persons.list_persons(request.app.state.db)]


@router.get("/persons/{person_id}", dependencies=[as_operator])
def show_person(request: Request, person_id: int) -> dict[str, Any]:
    """One person with their consent records, as ``person show --json`` (never descriptors)."""
    return jsonable_encoder(persons.get_person(request.app.state.db, person_id).as_json(detail=True))


@router.post("/persons/{person_id}/remove")
def remove_person(request: Request, person_id: int, body: PersonRemove,
                  who: Principal = as_operator) -> dict[str, Any]:
    removal = persons.remove(request.app.state.db, person_id, actor=who.actor, reason=body.reason)
    return _json(removal)


_PHOTOS = File(..., description=f"photos of the person, each showing one face (at most {MAX_PHOTOS})")
_CONSENT_FILE = File(None, description="the signed consent document: its SHA-256 is recorded, "
                     "the file is not kept")
METHODS = ("in-person", "video-call", "signed-document", "helpline-case")  # as the CLI's
_NAME = Form(..., description="name or label (shown in matches)")
_METHOD = Form(..., description=" | ".join(METHODS))
_NOTE = Form(..., description="the consent in words (who, how, witness)")
_REVIEW = Form(..., description="YYYY-MM-DD: the day the consent expires (at most 5 years ahead)")
_FORCE = Form(False, description="enrol although a face matches someone enrolled (audited)")


@router.post("/persons", status_code=201)
async def enrol_person(request: Request, photos: list[UploadFile] = _PHOTOS,
                       name: str = _NAME, consent_method: str = _METHOD, consent: str = _NOTE,
                       review_date: date = _REVIEW, consent_file: UploadFile | None = _CONSENT_FILE,
                       force: bool = _FORCE,
                       who: Principal = as_operator) -> dict[str, Any]:
    """Enrol a consenting person (``consentry person enrol`` over HTTP): every photo must show
    exactly one usable face, or nothing is stored; descriptors are kept, photos are not."""
    from consentry.cli.person import analyse_photos
    from consentry.match.likeness.consent import ConsentRequest
    from consentry.signals.faces.dlib_files import unavailable_reason

    if reason := unavailable_reason():
        raise ApiError(503, f"the likeness registry needs the faces models: {reason}", "unavailable")
    if consent_method not in METHODS:
        raise ApiError(400, f"consent_method is one of {', '.join(METHODS)}", "bad_consent")
    if len(photos) > MAX_PHOTOS:
        raise ApiError(400, f"at most {MAX_PHOTOS} photos at a time", "too_many_photos")
    db = request.app.state.db
    with in_memory_folder() as folder:
        paths = [await write_upload(upload, folder, f"photo-{i + 1}") for i, upload in enumerate(photos)]
        document = await write_upload(consent_file, folder, "consent") if consent_file else None
        request_ = ConsentRequest(consent_method, consent, review_date, document)

        def enrol() -> persons.Enrolment:
            from consentry.match.likeness.consent import check_consent
            from consentry.store.tables.core import utcnow

            check_consent(request_, utcnow().date())  # refuse before analysing the photos
            return persons.enrol(db, name=name, consent=request_, photos=analyse_photos(paths),
                                 actor=who.actor, force=force)

        try:
            enrolment = await run_in_threadpool(enrol)
        except persons.DuplicateFace as exc:
            raise ApiError(409, _without(str(exc), str(folder)), "duplicate_face") from None
        except ConfigError as exc:
            raise ApiError(400, _without(str(exc), str(folder)), "enrolment_refused") from None
    return {"status": "enrolled", **_json(enrolment.person),
            "duplicates_forced": enrolment.duplicates_forced}


def _without(message: str, folder: str) -> str:
    """The refusal names the upload (photo-2: ...), not the private folder it sat in; the
    CLI's --force advice reads as the API's force field."""
    message = message.replace(folder + "/", "")
    return re.sub(r"--force\b", "force=true", message)
