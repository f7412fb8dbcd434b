"""Reprocess from a page: the API's one action (`actions.prepare`, then one publish), with
its refusals said in words. Nothing is published unless every check passed."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from contracts.reprocess import ReprocessRequest
from workers.report import actions
from workers.report.models import FieldProblem, ReprocessBody
from workers.report.publish import MessageTooLarge, PublishError
from workers.report.web.listing import in_words
from workers.report.web.watch import Watched, Watches

log = logging.getLogger("claimflow.report.web")


@dataclass(frozen=True)
class Outcome:
    """A reprocess action's answer: the request published (`request_id`), or why not."""

    request_id: str | None = None
    replaying: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    message: str | None = None
    problems: dict[str, list[FieldProblem]] = field(default_factory=dict)
    count: int | None = None  # the count the filters select now, when it changed

    @property
    def sent(self) -> bool:
        return self.request_id is not None


def watches(request: Request) -> Watches:
    state = request.app.state
    if not hasattr(state, "watches"):
        state.watches = Watches()
    found: Watches = state.watches
    return found


def body_of(values: dict[str, Any]) -> ReprocessBody | Outcome:
    """The action's body from a page's form, or the refusal in words."""
    try:
        return ReprocessBody.model_validate(values)
    except ValidationError as exc:
        return Outcome(message=f"Nothing was sent. {in_words(exc)}")


async def send(request: Request, body: ReprocessBody, company_id: str, user_id: str) -> Outcome:
    """Prepare and publish one reprocess request; remember it so the page can follow it."""
    state = request.app.state

    def prepare() -> tuple[ReprocessRequest, actions.Plan]:
        with state.engine.connect() as conn:
            return actions.prepare(conn, body, company_id, user_id, state.clock())

    try:
        req, plan = await run_in_threadpool(prepare)
    except actions.InvalidCorrections as exc:
        return Outcome(message="Nothing was sent: a correction cannot be applied.", problems=exc.problems)
    except actions.CountChanged as exc:
        return Outcome(message=f"Nothing was sent: {exc}.", count=exc.count)
    except actions.NothingToReprocess as exc:
        return Outcome(
            message=f"Nothing was sent: {exc}.", skipped=[(s.charge_id, s.reason) for s in exc.skipped]
        )
    except actions.InvalidRequest as exc:
        return Outcome(message=f"Nothing was sent: {exc}.")
    try:
        await state.publish(req)
    except MessageTooLarge as exc:
        return Outcome(message=f"Nothing was sent: {exc}. Reprocess fewer charges at once.")
    except PublishError as exc:
        log.warning("reprocess request not published: %s", exc)
        return Outcome(message="Nothing was sent: the message broker did not take the request. Try again.")
    skipped = [(s.charge_id, s.reason) for s in plan.skipped]
    watches(request).add(Watched(req.request_id, company_id, tuple(plan.replaying), tuple(skipped)))
    log.info(
        "reprocess request published from the workspace request_id=%s company_id=%s charges=%d",
        req.request_id,
        company_id,
        len(plan.replaying),
    )
    return Outcome(request_id=req.request_id, replaying=plan.replaying, skipped=skipped)
