"""The report service: FastAPI over the failure store, one request per biller action.

Endpoints are sync where they only read (FastAPI runs them in its thread pool, beside the
blocking engine); reprocess is async because it awaits the broker.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from opentelemetry.trace import SpanKind
from sqlalchemy import Engine

from claimflow.db import make_engine
from claimflow.settings import Settings
from contracts.reprocess import ReprocessRequest
from contracts.topics import REPROCESS_REQUESTS
from workers.common import tracing
from workers.formatter.rules import RULES
from workers.report import accounts, actions, storage, web
from workers.report import queries as q
from workers.report.auth import AccessDenied, Caller
from workers.report.deadletters_api import dead_letter_router
from workers.report.middleware import BodyLimit, CredentialGuard, SecurityHeaders
from workers.report.models import (
    ChargeDetail,
    FailedCharge,
    Group,
    GroupQuery,
    Groups,
    Me,
    Places,
    ReasonInfo,
    ReprocessAccepted,
    ReprocessBody,
    ReprocessPreview,
    ReprocessSelection,
    SearchPage,
    SearchQuery,
)
from workers.report.observe import RequestMetrics, instrument
from workers.report.publish import KafkaPublisher, MessageTooLarge, Publisher, PublishError
from workers.report.remittances_api import remittance_router

log = logging.getLogger("claimflow.report")
bearer = HTTPBearer(auto_error=False, description="An API token from `claimflow report create-user`.")

DESCRIPTION = """\
The **Failed Charges report**: charges the formatter could not bill, with every failure
reason, for the companies you belong to. Search, sort, group and page through failures,
open a charge record's history, and reprocess the ones you fixed in one action.

Authenticate with `Authorization: Bearer <token>`, never in the URL: a request with a
token or password in its query string is refused. Money is a two-place decimal string.
Reprocessing by filters takes the count the biller confirmed (`POST /reprocess/preview`).
"""

#: The most charges an invalid-corrections answer lists (the message counts them all).
MAX_PROBLEMS_SHOWN = 100


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


def refused(exc: ValueError) -> HTTPException:
    """The reprocess action's refusals as answers in words; nothing was published."""
    if isinstance(exc, actions.CountChanged):
        return HTTPException(status.HTTP_409_CONFLICT, {"message": str(exc), "count": exc.count})
    if isinstance(exc, actions.InvalidCorrections):
        shown = dict(sorted(exc.problems.items())[:MAX_PROBLEMS_SHOWN])
        return HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {
                "message": str(exc),
                "problems": {cid: [p.model_dump() for p in found] for cid, found in shown.items()},
            },
        )
    if isinstance(exc, actions.NothingToReprocess):
        return HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {"message": str(exc), "skipped": [s.model_dump() for s in exc.skipped]},
        )
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, {"message": str(exc)})


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
    app.include_router(dead_letter_router(settings, db, caller))
    app.include_router(remittance_router(db, caller))

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own answer echoes each rejected value: a correction's value may be patient
        # data, or megabytes. Where and what is wrong is enough.
        errors = [
            {
                **{k: v for k, v in e.items() if k not in ("input", "ctx", "url", "loc")},
                # A dict key (a correction's path) is part of the location: cut a long one.
                "loc": [p[:60] + "..." if isinstance(p, str) and len(p) > 64 else p for p in e["loc"]],
            }
            for e in exc.errors()
        ]
        return JSONResponse(jsonable_encoder({"detail": errors}), status.HTTP_422_UNPROCESSABLE_CONTENT)

    instrument(app, db)
    tracing.configure(settings, "report")

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
        try:
            s = params.to_search(company_id)
        except q.SearchError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
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
        "/companies/{company_id}/places",
        summary="A company's practices and locations, for the search form",
        tags=["report"],
        responses={403: {"description": "You do not belong to that company."}},
    )
    def places(who: Who, company_id: str) -> Places:
        """The practices and locations the company has failed charges in (any status), each
        location with its practice: the choices of the search's practice and location filters."""
        company = company_of(who, company_id)
        with db.connect() as conn:
            found = storage.company_places(conn, company)
        return Places.model_validate({"company_id": company, **found})

    @app.get(
        "/failures/{charge_id}",
        summary="A failed charge record: versions, failures and reprocessing",
        tags=["report"],
        responses={404: {"description": "No failed charge with this id in your companies."}},
    )
    def show(
        who: Who, charge_id: Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9._\-]+$")]
    ) -> ChargeDetail:
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
            409: {"description": "The filters select another count than expected_count; the answer has it."},
            413: {"description": "The request is larger than the service or the broker takes."},
            422: {
                "description": "Invalid selection, a correction the worker would refuse (by charge and "
                "field), or none of it is an open failure in the company."
            },
            503: {"description": "The broker did not take the request; nothing was published."},
        },
    )
    async def reprocess(who: Who, body: ReprocessBody, request: Request) -> ReprocessAccepted:
        """Publishes ONE ReprocessRequest for the selected charges that are open failures in
        the company; the answer says which those are and why the others are skipped. The
        reprocess worker replays them as new charge versions. Corrections are checked as the
        worker will apply them: any that cannot apply refuses the whole request. By filters,
        `expected_count` must be the count they select now (see /reprocess/preview)."""
        company_id = company_of(who, body.company)

        def prepare() -> tuple[ReprocessRequest, actions.Plan]:
            with db.connect() as conn:
                return actions.prepare(conn, body, company_id, who.user_id, clock())

        try:
            req, plan = await run_in_threadpool(prepare)
        except (
            actions.NothingToReprocess,
            actions.InvalidCorrections,
            actions.CountChanged,
            actions.InvalidRequest,
        ) as exc:
            raise refused(exc) from None
        # The request carries the caller's trace context (a `traceparent` header) to the
        # reprocess worker, and from there to the replayed charges.
        parent = tracing.extract_http(request.headers)
        try:
            with tracing.tracer.start_as_current_span(
                f"send {settings.topic(REPROCESS_REQUESTS)}", context=parent, kind=SpanKind.PRODUCER
            ):
                await publish(req)
        except MessageTooLarge as exc:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(exc)) from None
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

    @app.post(
        "/reprocess/preview",
        summary="How many open failures a reprocess selection would replay now",
        tags=["report"],
        responses={403: {"description": "You do not belong to that company."}},
    )
    def reprocess_preview(who: Who, body: ReprocessSelection) -> ReprocessPreview:
        """Takes the body POST /reprocess takes and publishes nothing: the count (and the first
        few charge ids) to confirm, then send as `expected_count` with the same filters."""
        company_id = company_of(who, body.company)
        with db.connect() as conn:
            found = actions.preview(conn, company_id, filters=body.filters, charge_ids=body.charge_ids)
        return ReprocessPreview(company_id=company_id, count=found.count, first=found.first)

    web.mount(app)
    # The last added is the outermost: every request is counted and logged, a credential in
    # its URL refused, its size checked before anything reads it, and the answer gets its
    # security headers.
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(CredentialGuard)
    app.add_middleware(RequestMetrics)
    return app
