"""The dead-letter endpoints of the report API: list, show and replay, as `claimflow dead-letters`.

Who may: report users an operator granted (`claimflow dead-letters grant USER`), and no one
else, whatever their companies. Dead letters are an operator's view of the plumbing: a
message that did not decode names no company, so the report's company rules could not be
applied to all of them, and a biller has nothing to fix there. Everyone else gets a 403
that says how access is given. The message itself (patient data) is in an answer only when
asked for (`include_data=true`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine

from claimflow.settings import Settings
from workers.common.messages import Outgoing
from workers.deadletters import letters as dl
from workers.deadletters import replay as rp
from workers.deadletters import topic
from workers.deadletters.views import detail, summary
from workers.report.auth import Caller

log = logging.getLogger("claimflow.report")

ReadLetters = Callable[[], Awaitable[list[dl.Letter]]]
Republish = Callable[[Sequence[Outgoing]], Coroutine[Any, Any, None]]

Kind = Annotated[
    list[str] | None, Query(description="Error kind (repeatable): internal, invalid, not_json, ...")
]


class ReplayBody(BaseModel):
    """Which dead letters to replay: by kind, offsets or keys, narrowed by the other fields."""

    model_config = ConfigDict(extra="forbid")

    kinds: list[str] = Field(default=[], max_length=10, description="Error kinds, e.g. internal.")
    offsets: list[str] = Field(
        default=[], max_length=1000, description="Source PARTITION:OFFSET or refs TOPIC:PARTITION:OFFSET."
    )
    keys: list[str] = Field(default=[], max_length=1000, description="Message keys.")
    worker: str | None = Field(None, description="Only dead letters this worker wrote.")
    topic: str | None = Field(None, description="Source topic, e.g. billing.charges.")
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def dead_letter_router(
    settings: Settings,
    engine: Engine,
    caller: Callable[..., Caller],
    *,
    read: ReadLetters | None = None,
    republish: Republish | None = None,
) -> APIRouter:
    """The dead-letter endpoints; `caller` is the report's token dependency."""
    read_letters: ReadLetters = read or (lambda: topic.read_letters(settings))
    send: Republish = republish or (lambda out: topic.publish(settings, out))
    router = APIRouter(prefix="/dead-letters", tags=["dead letters"])

    # Defaults, not Annotated[...]: with postponed annotations FastAPI resolves annotation
    # names in the module's globals, where this factory's locals are not.
    authenticated = Depends(caller)

    def operator(who: Caller = authenticated) -> Caller:
        with engine.connect() as conn:
            allowed = rp.is_operator(conn, who.user_id)
        if not allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                "dead letters are an operator's view; an operator can give you access with "
                "`claimflow dead-letters grant USER`",
            )
        return who

    as_operator = Depends(operator)

    async def letters() -> list[dl.Letter]:
        try:
            return await read_letters()
        except topic.BrokerUnavailable as exc:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None

    def filters(**given: Any) -> dl.Filters:
        try:
            offsets = tuple(dl.Offset.parse(o) for o in given.pop("offsets", ()) or ())
        except dl.BadSelection as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
        kinds = frozenset(given.pop("kinds", ()) or ())
        keys = frozenset(k.encode() for k in given.pop("keys", ()) or ())
        return dl.Filters(offsets=offsets, kinds=kinds, keys=keys, **given)

    def replayed(chosen: list[dl.Letter]) -> dict[str, rp.Earlier]:
        with engine.connect() as conn:
            return rp.replay_records(conn, chosen)

    @router.get("", summary="Dead letters by worker, kind, source topic and time, with counts per kind")
    async def list_letters(
        who: Caller = as_operator,
        worker: str | None = None,
        kind: Kind = None,
        topic_name: Annotated[str | None, Query(alias="topic", description="Source topic.")] = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        chosen = dl.select(
            await letters(),
            filters(worker=worker, kinds=kind, source_topic=topic_name, since=since, until=until),
            settings.topic_prefix,
        )
        done = await run_in_threadpool(replayed, chosen)
        return {
            "counts": dl.counts(chosen),
            "total": len(chosen),
            "letters": [summary(x, done.get(x.ref)) for x in chosen[-limit:]],
        }

    @router.get("/{ref}", summary="One dead letter: headers and error; the message only when asked")
    async def show_letter(
        ref: str,
        include_data: Annotated[bool, Query(description="Include key and message (patient data).")] = False,
        who: Caller = as_operator,
    ) -> dict[str, Any]:
        try:
            dl.Offset.parse(ref)
        except dl.BadSelection as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
        letter = dl.find(await letters(), ref)
        if letter is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no dead letter {ref}")
        done = await run_in_threadpool(replayed, [letter])
        if include_data:
            log.info("dead letter read with its data ref=%s user=%s", letter.ref, who.user_id)
        return detail(letter, done.get(letter.ref), data=include_data)

    @router.post(
        "/replay",
        summary="Republish selected dead letters to their source topic, once each",
        responses={
            422: {"description": "Nothing selected by kind, offsets or keys, or nothing matches."},
            503: {"description": "The broker could not be read or did not take the replays."},
        },
    )
    async def replay_letters(body: ReplayBody, who: Caller = as_operator) -> dict[str, Any]:
        wanted = filters(
            kinds=body.kinds,
            offsets=body.offsets,
            keys=body.keys,
            worker=body.worker,
            source_topic=body.topic,
            since=body.since,
            until=body.until,
        )
        if not wanted.selects_by_message():
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                "say which dead letters to replay: kinds, offsets or keys",
            )
        chosen = dl.distinct(dl.select(await letters(), wanted, settings.topic_prefix))
        if not chosen:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "no dead letter matches")
        loop_publish = _in_thread(send)
        try:
            result = await run_in_threadpool(
                rp.replay, engine, chosen, who.user_id, loop_publish, dt.datetime.now(dt.UTC)
            )
        except topic.BrokerUnavailable as exc:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"{exc}; nothing was replayed") from None
        return {
            "replayed": [summary(x) for x in result.published],
            "already_replayed": [
                {"ref": e.ref, "replayed_by": e.replayed_by, "replayed_at": e.replayed_at.isoformat()}
                for e in result.already
            ],
        }

    return router


def _in_thread(send: Republish) -> rp.Publish:
    """The replay's transaction runs in a worker thread; it publishes on the event loop."""
    from anyio.from_thread import run as run_on_loop

    def publish(out: Sequence[Outgoing]) -> None:
        run_on_loop(send, out)

    return publish
