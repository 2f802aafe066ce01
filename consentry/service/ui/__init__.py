"""The review UI at /ui (server-rendered: Jinja2, one stylesheet, a few lines of script, all
served by the app) and review decisions in the API. ``mount(app)`` adds both to the service.
docs/review.md explains the screens, the wellness defaults and media retention."""

from __future__ import annotations

from fastapi import FastAPI

from consentry.service.ui.settings import ReviewSettings


def mount(app: FastAPI, review: ReviewSettings | None = None) -> None:
    from consentry.service.ui import api, cases, items, pages, web

    app.state.review = review or ReviewSettings.from_env()
    web.install(app)
    for module in (pages, items, api, cases):
        app.include_router(module.router)
