"""The likeness registry through the API: operators only. Listing shows consent records;
removal forgets the person everywhere (consentry.match.likeness.service.remove). Enrolment
needs photos analysed by the faces signal: it is done with ``consentry person enrol`` on
the operator's machine, so the photos never travel (docs/service.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder

from consentry.match.likeness import service as persons
from consentry.service.auth import Principal, as_operator
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
    return _json(persons.get_person(request.app.state.db, person_id))


@router.post("/persons/{person_id}/remove")
def remove_person(request: Request, person_id: int, body: PersonRemove,
                  who: Principal = as_operator) -> dict[str, Any]:
    removal = persons.remove(request.app.state.db, person_id, actor=who.actor, reason=body.reason)
    return _json(removal)
