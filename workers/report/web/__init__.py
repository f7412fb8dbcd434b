"""The billers' workspace: server-rendered pages over the report's one query layer.

Every page is a plain module with an `APIRouter` (`router`), reading through the same
functions as the JSON API and the CLI (`workers/report/queries.py`, `storage.py`,
`actions.py`); HTML is one more rendering of one result, never a second query. Assets are
served from `static/`, vendored at pinned versions: nothing loads from a CDN.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from workers.report.web import bill_reports, bills, charges, failed_charges, live, remittances, session
from workers.report.web.feed import LiveFeed
from workers.report.web.templating import STATIC, render

SWAGGER = "/static/vendor/swagger-ui-5.36.0"


def docs_page() -> HTMLResponse:
    """The API explorer from vendored Swagger UI, so /docs works without internet."""
    return HTMLResponse(
        f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>claimflow API</title>
<link rel="stylesheet" href="{SWAGGER}/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{SWAGGER}/swagger-ui-bundle.js"></script>
<script src="/static/swagger-init.js"></script></body></html>"""
    )


def mount(app: FastAPI) -> None:
    """Add the workspace to the report service's app (whose `state` holds the engine,
    settings, clock and publisher)."""
    app.state.feed = LiveFeed(app.state.settings)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(session.SignInRequired, session.sign_in_redirect)  # type: ignore[arg-type]

    async def csrf_rejected(request: Request, exc: Exception) -> Response:
        return render(
            request,
            "error.html",
            {
                "title": "This form has expired",
                "message": "The form was older than your session, or came from another site. "
                "Nothing was changed. Go back, reload the page and try again.",
            },
            session=None,
            status_code=403,
        )

    app.add_exception_handler(session.CsrfRejected, csrf_rejected)
    app.add_api_route("/docs", docs_page, include_in_schema=False)
    for page in (session, failed_charges, charges, live, bills, bill_reports, remittances):
        app.include_router(page.router)
