"""The report service: FastAPI over the failure store, one request per biller action.

Endpoints are sync where they only read (FastAPI runs them in its thread pool, beside the
blocking engine); reprocess is async because it awaits the broker.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from claimflow.db import make_engine
from claimflow.settings import Settings
from contracts.reprocess import ReprocessRequest
from contracts.topics import REPROCESS_REQUESTS
from workers.formatter.rules import RULES
from workers.report import accounts, actions, storage, web
from workers.report import queries as q
from workers.report.auth import TOKEN_PREFIX, AccessDenied, Caller
from workers.report.deadletters_api import dead_letter_router
from workers.report.models import (
    ChargeDetail,
    FailedCharge,
    Group,
    GroupQuery,
    Groups,
    Me,
    ReasonInfo,
    ReprocessAccepted,
    ReprocessBody,
    SearchPage,
    SearchQuery,
)
from workers.report.publish import KafkaPublisher, Publisher, PublishError
from workers.report.remittances_api import remittance_router

log = logging.getLogger("claimflow.report")
bearer = HTTPBearer(auto_error=False, description="An API token from `claimflow report create-user`.")

DESCRIPTION = """\
The **Failed Charges report**: charges the formatter could not bill, with every failure
reason, for the companies you belong to. Search, sort, group and page through failures,
open a charge record's history, and reprocess the ones you fixed in one action.

Authenticate with `Authorization: Bearer <token>`, never in the URL: a request with a
token or password in its query string is refused. Money is a two-place decimal string.
"""

#: Query parameters that would carry a credential; a URL is written to logs and histories.
CREDENTIAL_PARAMS = frozenset({"token", "access_token", "api_key", "apikey", "key", "password", "auth"})


def credential_in_query(request: Request) -> bool:
    return any(
        name.lower() in CREDENTIAL_PARAMS or value.startswith(TOKEN_PREFIX)
        for name, value in request.query_params.multi_items()
    )


async def guard_and_log(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Refuse a credential in the query string, and log each request without its query
    string (filters may name a payer; a careless client may send a token there)."""
    started = time.perf_counter()
    if credential_in_query(request):
        response: Response = JSONResponse(
            {"detail": "send the API token in the Authorization header, never in the URL"},
            status_code=status.HTTP_400_BAD_REQUEST,
        )
    else:
        response = await call_next(request)
    log.info(
        "%s %s %d %.0fms",
        request.method,
        request.url.path,
        response.status_code,
        (time.perf_counter() - started) * 1000,
    )
    return response


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def caller(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Caller:
    unauthorized = HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "a valid API token is required",
        headers={"WWW-Authenticate": "Bearer"},
    )
    if creds is None or creds.scheme.lower() != "bearer":
        raise unauthorized
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        found = accounts.caller_for_token(conn, creds.credentials, request.app.state.clock())
    if found is None:
        raise unauthorized
    return found


Who = Annotated[Caller, Depends(caller)]


def company_of(who: Caller, requested: str | None) -> str:
    try:
        return who.company(requested)
    except AccessDenied as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from None


def run_search(who: Caller, params: SearchQuery) -> q.Search:
    try:
        return params.to_search(
            company_of(who, params.company),
            sort=q.parse_sort(params.sort),
            limit=params.limit,
            offset=params.offset,
        )
    except q.SearchError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    publisher: Publisher | None = None,
    clock: Callable[[], dt.datetime] = utcnow,
) -> FastAPI:
    db = engine if engine is not None else make_engine(settings.database_url)
    publish: Publisher = publisher if publisher is not None else KafkaPublisher(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await app.state.feed.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="claimflow: Failed Charges report",
        version="1",
        description=DESCRIPTION,
        docs_url=None,  # the workspace serves /docs from vendored assets (no CDN)
        redoc_url=None,
    )
    app.state.engine = db
    app.state.settings = settings
    app.state.publish = publish
    app.state.clock = clock
    app.middleware("http")(guard_and_log)
    app.include_router(dead_letter_router(settings, db, caller))
    app.include_router(remittance_router(db, caller))

    @app.get("/healthz", summary="Liveness and database check", tags=["service"])
    def healthz() -> dict[str, str]:
        with db.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return {"status": "ok"}

    @app.get("/me", summary="Who you are and which companies you may see", tags=["access"])
    def me(who: Who) -> Me:
        return Me(user_id=who.user_id, companies=list(who.companies))

    @app.get("/reasons", summary="Every failure reason code the formatter reports", tags=["report"])
    def reasons() -> list[ReasonInfo]:
        return [
            ReasonInfo(code=r.code, title=r.title, severity=r.severity, description=r.description)
            for r in RULES.values()
        ]

    @app.get("/failures", summary="Search failed charges (sort, filter, page)", tags=["report"])
    def search(who: Who, params: Annotated[SearchQuery, Query()]) -> SearchPage:
        """Failed charges of one company with every failure reason. Defaults: your own company,
        all practices and locations, open failures, oldest failure first, 50 per page."""
        s = run_search(who, params)
        with db.connect() as conn:
            page, amount = storage.search(conn, s)
        return SearchPage(
            company_id=s.company_id,
            total=page.total,
            total_amount=amount,
            limit=page.limit,
            offset=page.offset,
            next_offset=page.next_offset,
            items=[FailedCharge.from_row(row) for row in page.rows],
        )

    @app.get("/failures/groups", summary="Group failed charges: counts and amounts", tags=["report"])
    def group(who: Who, params: Annotated[GroupQuery, Query()]) -> Groups:
        """Counts and amounts per failure reason, practice, location, payer or run, over the
        same filters as the search. By reason, a charge counts once in each reason it failed."""
        company_id = company_of(who, params.company)
        s = params.to_search(company_id)
        with db.connect() as conn:
            rows = storage.groups(conn, s, params.by)
        return Groups(
            company_id=company_id,
            by=params.by,
            groups=[
                Group(
                    **row,
                    label=RULES[row["key"]].title if params.by == "reason" and row["key"] in RULES else None,
                )
                for row in rows
            ],
        )

    @app.get(
        "/failures/{charge_id}",
        summary="A failed charge record: versions, failures and reprocessing",
        tags=["report"],
        responses={404: {"description": "No failed charge with this id in your companies."}},
    )
    def show(who: Who, charge_id: str) -> ChargeDetail:
        with db.connect() as conn:
            found = storage.detail(conn, charge_id, who.companies)
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no failed charge with this id")
        return ChargeDetail.model_validate(
            {**found, "patient": {"id": found["patient_id"], "name": found["patient_name"]}}
        )

    @app.post(
        "/reprocess",
        status_code=status.HTTP_202_ACCEPTED,
        summary="Reprocess selected failed charges (one request to the reprocess worker)",
        tags=["report"],
        responses={
            403: {"description": "You do not belong to that company."},
            422: {"description": "Invalid selection, or none of it is an open failure in the company."},
            503: {"description": "The broker did not take the request; nothing was published."},
        },
    )
    async def reprocess(who: Who, body: ReprocessBody) -> ReprocessAccepted:
        """Publishes ONE ReprocessRequest for the selected charges that are open failures in
        the company; the answer says which those are and why the others are skipped. The
        reprocess worker replays them as new charge versions."""
        company_id = company_of(who, body.company)

        def prepare() -> tuple[ReprocessRequest, actions.Plan]:
            with db.connect() as conn:
                return actions.prepare(conn, body, company_id, who.user_id, clock())

        try:
            req, plan = await run_in_threadpool(prepare)
        except actions.NothingToReprocess as exc:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                {"message": str(exc), "skipped": [s.model_dump() for s in exc.skipped]},
            ) from None
        try:
            await publish(req)
        except PublishError as exc:
            log.warning("reprocess request not published: %s", exc)
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None
        log.info(
            "reprocess request published request_id=%s company_id=%s charges=%d",
            req.request_id,
            company_id,
            len(plan.replaying),
        )
        return ReprocessAccepted(
            request_id=req.request_id,
            company_id=company_id,
            requested_by=who.user_id,
            topic=settings.topic(REPROCESS_REQUESTS),
            replaying=plan.replaying,
            skipped=plan.skipped,
        )

    web.mount(app)
    return app
