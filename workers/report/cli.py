"""`claimflow report ...`: serve the API, add users, and the report's searches in a terminal.

The commands run the same queries and the same reprocess action as the API, straight on
the database; `--as USER` applies that user's companies, as their token would.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from claimflow.settings import get_settings
from workers.report import queries as q

app = typer.Typer(
    no_args_is_help=True, help="The Failed Charges report service, its users, and reprocessing."
)
console = Console()

AsUser = Annotated[str | None, typer.Option("--as", help="Act as this report user (their companies apply).")]
Company = Annotated[str | None, typer.Option(help="Company id; defaults to the --as user's own company.")]


def _engine() -> Any:
    from claimflow.db import create_all, make_engine

    engine = make_engine(get_settings().database_url)
    create_all(engine)
    return engine


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]{message}[/red]")
    return typer.Exit(2)


def _company(conn: Any, as_user: str | None, company: str | None) -> tuple[str | None, str]:
    """(user id, company id) the command works in, with the API's access rules."""
    from workers.report import accounts
    from workers.report.auth import AccessDenied

    if as_user is None:
        if company is None:
            raise _fail("give --company or --as USER")
        return None, company
    caller = accounts.caller_for_user(conn, as_user)
    if caller is None:
        raise _fail(f"no report user {as_user!r}; add one with `claimflow report create-user`")
    try:
        return caller.user_id, caller.company(company)
    except AccessDenied as exc:
        raise _fail(str(exc)) from None


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Default: CLAIMFLOW_REPORT_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Default: CLAIMFLOW_REPORT_PORT.")] = None,
) -> None:
    """Serve the workspace and the report API (OpenAPI at /docs and /openapi.json)."""
    import uvicorn

    from claimflow.logs import configure
    from workers.report.api import create_app

    settings = get_settings()
    configure(settings.log_level, settings.log_format)
    _engine()
    uvicorn.run(
        create_app(settings),
        host=host or settings.report_host,
        port=port or settings.report_port,
        log_level=settings.log_level.lower(),
        # uvicorn's access log writes whole URLs, query strings included; the app logs each
        # request itself, without one (workers/report/api.py).
        access_log=False,
    )


@app.command("create-user")
def create_user(
    user: Annotated[str, typer.Argument(help="User id (letters, digits, . _ -).")],
    company: Annotated[list[str], typer.Option(help="A company the user may see; the first is their own.")],
) -> None:
    """Add a user (or companies to one) and print a NEW API token, once; only its hash is kept."""
    from claimflow.db import unit_of_work
    from workers.report import accounts

    try:
        with unit_of_work(_engine()) as conn:
            token = accounts.create_user(
                conn, user, company, dt.datetime.now(dt.UTC), token_days=get_settings().token_days
            )
    except ValueError as exc:
        raise _fail(str(exc)) from None
    console.print(
        f"user {user}: companies {', '.join(company)}. Token (shown once, keep it safe):", highlight=False
    )
    typer.echo(token)


@app.command("set-password")
def set_password(
    user: Annotated[str, typer.Argument(help="User id.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input (scripts).")
    ] = False,
) -> None:
    """Set a user's password for the web workspace (asked twice, never echoed); their
    open sessions end."""
    from claimflow.db import unit_of_work
    from workers.report import accounts

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    try:
        with unit_of_work(_engine()) as conn:
            accounts.set_password(conn, user, password)
    except (LookupError, accounts.PasswordRejected) as exc:
        raise _fail(str(exc).strip("'\"")) from None
    console.print(f"password set for {user}; their open sessions are signed out", highlight=False)


@app.command()
def revoke(user: Annotated[str, typer.Argument(help="User id.")]) -> None:
    """Revoke every API token of a user (their web sessions stay until they sign out or expire)."""
    from claimflow.db import unit_of_work
    from workers.report import accounts

    with unit_of_work(_engine()) as conn:
        if accounts.caller_for_user(conn, user) is None:
            raise _fail(f"no report user {user!r}")
        n = accounts.revoke_tokens(conn, user, dt.datetime.now(dt.UTC))
    console.print(f"{user}: {n} token{'s' if n != 1 else ''} revoked", highlight=False)


@app.command("rotate-token")
def rotate_token(user: Annotated[str, typer.Argument(help="User id.")]) -> None:
    """Revoke a user's tokens and print one new token, once."""
    from claimflow.db import unit_of_work
    from workers.report import accounts

    days = get_settings().token_days
    with unit_of_work(_engine()) as conn:
        if accounts.caller_for_user(conn, user) is None:
            raise _fail(f"no report user {user!r}")
        token, expires = accounts.rotate_token(conn, user, dt.datetime.now(dt.UTC), days)
    until = f"expires {expires:%Y-%m-%d %H:%M} UTC" if expires else "does not expire"
    console.print(f"{user}: old tokens revoked; new token ({until}), shown once:", highlight=False)
    typer.echo(token)


@app.command()
def search(
    as_user: AsUser = None,
    company: Company = None,
    practice: Annotated[str | None, typer.Option(help="Practice id (default all).")] = None,
    location: Annotated[str | None, typer.Option(help="Location id (default all).")] = None,
    run: Annotated[int | None, typer.Option(help="Formatter run number.")] = None,
    reason: Annotated[str | None, typer.Option(help="Failure reason code.")] = None,
    payer: Annotated[str | None, typer.Option(help="Payer name.")] = None,
    procedure: Annotated[str | None, typer.Option(help="Procedure code.")] = None,
    failed_from: Annotated[dt.datetime | None, typer.Option(formats=["%Y-%m-%d"])] = None,
    failed_to: Annotated[dt.datetime | None, typer.Option(formats=["%Y-%m-%d"])] = None,
    date_field: Annotated[str, typer.Option(help="oldest or last failure date.")] = "oldest",
    service_from: Annotated[dt.datetime | None, typer.Option(formats=["%Y-%m-%d"])] = None,
    service_to: Annotated[dt.datetime | None, typer.Option(formats=["%Y-%m-%d"])] = None,
    amount_min: Annotated[str | None, typer.Option(help="Amount at least, e.g. 100.00.")] = None,
    amount_max: Annotated[str | None, typer.Option(help="Amount at most, e.g. 250.00.")] = None,
    missing: Annotated[
        list[str] | None,
        typer.Option(help="Charges lacking this field: practice, location, payer or procedure (repeatable)."),
    ] = None,
    status: Annotated[str, typer.Option(help="open, reprocessing, resolved or all.")] = "open",
    sort: Annotated[str | None, typer.Option(help="e.g. -amount,oldest_failure_date")] = None,
    limit: int = 50,
    offset: int = 0,
    group_by: Annotated[
        str | None, typer.Option(help="reason, practice, location, payer, run or procedure.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON as the API answers.")] = False,
) -> None:
    """Search failed charges, or group them with counts and amounts."""
    from pydantic import ValidationError

    from workers.report import storage
    from workers.report.models import FailedCharge, GroupQuery, SearchPage, SearchQuery

    engine = _engine()
    with engine.connect() as conn:
        _, company_id = _company(conn, as_user, company)
        fields: dict[str, Any] = {
            "practice": practice,
            "location": location,
            "run": run,
            "reason": reason,
            "payer": payer,
            "procedure": procedure,
            "failed_from": failed_from.date() if failed_from else None,
            "failed_to": failed_to.date() if failed_to else None,
            "date_field": date_field,
            "service_from": service_from.date() if service_from else None,
            "service_to": service_to.date() if service_to else None,
            "amount_min": amount_min,
            "amount_max": amount_max,
            "missing": missing or [],
            "status": status,
        }
        try:
            if group_by is not None:
                gq = GroupQuery.model_validate({**fields, "by": group_by})
                rows = storage.groups(conn, gq.to_search(company_id), gq.by)
                return _print_groups(company_id, gq.by, rows, as_json)
            sq = SearchQuery.model_validate({**fields, "sort": sort, "limit": limit, "offset": offset})
            s = sq.to_search(company_id, sort=q.parse_sort(sq.sort), limit=sq.limit, offset=sq.offset)
        except (ValidationError, q.SearchError) as exc:
            raise _fail(str(exc)) from None
        page, amount = storage.search(conn, s)
    result = SearchPage(
        company_id=company_id,
        total=page.total,
        total_amount=amount,
        limit=page.limit,
        offset=page.offset,
        next_offset=page.next_offset,
        items=[FailedCharge.from_row(r) for r in page.rows],
    )
    if as_json:
        return typer.echo(result.model_dump_json(indent=2))
    table = Table(title=f"Failed charges, {company_id}: {result.total} (total {result.total_amount})")
    for heading in (
        "Charge",
        "Patient",
        "Service",
        "Proc",
        "Amount",
        "Payer",
        "Failure reasons",
        "Run",
        "Oldest failure",
        "Count",
        "Status",
    ):
        wraps = heading in ("Patient", "Failure reasons")  # the rest stay readable on one line
        table.add_column(
            heading,
            justify="right" if heading in ("Amount", "Run", "Count") else "left",
            no_wrap=not wraps,
            ratio=3 if heading == "Failure reasons" else None,
        )
    for item in result.items:
        table.add_row(
            item.charge_id,
            f"{item.patient.name} ({item.patient.id})",
            str(item.service_date or ""),
            item.procedure_code or "",
            f"{item.amount:.2f}" if item.amount is not None else "",
            item.payer_name or "",
            "\n".join(f"{r.code}: {r.message}" for r in item.reasons),
            str(item.run_number),
            str(item.oldest_failure_date),
            str(item.failure_count),
            item.status,
        )
    console.print(table)
    if result.next_offset is not None:
        console.print(f"more: --offset {result.next_offset}")


def _print_groups(company_id: str, by: q.GroupBy, rows: list[dict[str, Any]], as_json: bool) -> None:
    from workers.formatter.rules import RULES
    from workers.report.models import Group, Groups

    groups = Groups(
        company_id=company_id,
        by=by,
        groups=[
            Group(**r, label=RULES[r["key"]].title if by == "reason" and r["key"] in RULES else None)
            for r in rows
        ],
    )
    if as_json:
        return typer.echo(groups.model_dump_json(indent=2))
    table = Table(title=f"Failed charges, {company_id}, by {by}")
    table.add_column(by.capitalize())
    table.add_column("Charges", justify="right")
    table.add_column("Amount", justify="right")
    for g in groups.groups:
        table.add_row(
            f"{g.key} ({g.label})" if g.label else str(g.key or "-"), str(g.charges), f"{g.amount:.2f}"
        )
    console.print(table)


@app.command()
def show(
    charge_id: str,
    as_user: AsUser = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON as the API answers.")] = False,
) -> None:
    """A failed charge record: each version, each failure with its reasons, reprocessing."""
    from workers.report import accounts, storage
    from workers.report.models import ChargeDetail

    with _engine().connect() as conn:
        if as_user is not None:
            caller = accounts.caller_for_user(conn, as_user)
            if caller is None:
                raise _fail(f"no report user {as_user!r}")
            companies = caller.companies
        else:
            companies = tuple(storage.companies_with_failure(conn, charge_id))
        found = storage.detail(conn, charge_id, companies)
    if found is None:
        raise _fail(f"no failed charge {charge_id}")
    detail = ChargeDetail.model_validate(
        {**found, "patient": {"id": found["patient_id"], "name": found["patient_name"]}}
    )
    if as_json:
        return typer.echo(detail.model_dump_json(indent=2))
    console.print(
        f"[bold]{detail.charge_id}[/bold] {detail.status}: {detail.patient.name} ({detail.patient.id}), "
        f"{detail.service_date} {detail.procedure_code} {detail.amount}, {detail.payer_name}; "
        f"failed {detail.failure_count}x since {detail.oldest_failure_date}",
        highlight=False,
    )
    versions = Table(title="Versions")
    for heading in ("Version", "Outcome", "Run", "Claim", "Received"):
        versions.add_column(heading)
    for v in detail.versions:
        versions.add_row(
            str(v.version), v.outcome, str(v.run_number or ""), v.claim_id or "", str(v.received_at)
        )
    console.print(versions)
    failures = Table(title="Failures")
    for heading in ("Version", "Run", "Failed at", "Reasons"):
        failures.add_column(heading)
    for e in detail.failures:
        failures.add_row(
            str(e.version),
            str(e.run_number),
            str(e.failed_at),
            "\n".join(f"{r.code}: {r.message}" for r in e.reasons),
        )
    console.print(failures)
    if detail.reprocessing is None:
        console.print("Reprocessing: the reprocess worker has not run against this database.")
    else:
        console.print(f"Reprocessing: {len(detail.reprocessing)} request(s)")
        for item in detail.reprocessing:
            console.print(f"  {json.dumps(item, default=str)}", highlight=False)


def _parse_set(values: list[str]) -> dict[str, Any]:
    """`field=value` pairs; a value that reads as JSON (a list, a number, null) is taken as such."""
    fields: dict[str, Any] = {}
    for text in values:
        name, sep, raw = text.partition("=")
        if not sep or not name.strip():
            raise _fail(f"--set takes field=value, not {text!r}")
        try:
            fields[name.strip()] = json.loads(raw)
        except ValueError:
            fields[name.strip()] = raw
    return fields


@app.command()
def reprocess(
    charge_ids: Annotated[
        list[str] | None, typer.Argument(help="Charge record ids to reprocess (or select with filters).")
    ] = None,
    set_: Annotated[
        list[str], typer.Option("--set", help="field=value correction, for every charge given.")
    ] = [],  # noqa: B006
    as_user: Annotated[
        str, typer.Option("--as", help="The report user who asks (their companies apply).")
    ] = "",
    company: Company = None,
    delay_until: Annotated[
        dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Claim delay date.")
    ] = None,
    practice: Annotated[str | None, typer.Option(help="Filter: practice id.")] = None,
    location: Annotated[str | None, typer.Option(help="Filter: location id.")] = None,
    run: Annotated[int | None, typer.Option(help="Filter: formatter run number.")] = None,
    reason: Annotated[str | None, typer.Option(help="Filter: failure reason code.")] = None,
    payer: Annotated[str | None, typer.Option(help="Filter: payer name.")] = None,
    failed_from: Annotated[dt.datetime | None, typer.Option(formats=["%Y-%m-%d"])] = None,
    failed_to: Annotated[dt.datetime | None, typer.Option(formats=["%Y-%m-%d"])] = None,
    all_open: Annotated[
        bool, typer.Option("--all-open", help="Select every open failure of the company (no filter).")
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", help="Do not ask to confirm the count selected by filters.")
    ] = False,
) -> None:
    """Publish ONE reprocess request for the given charges, or for the open failures the filters
    select (their count is shown and confirmed first); the reprocess worker replays them."""
    from pydantic import ValidationError

    from workers.report import actions
    from workers.report.models import ReprocessBody, SearchFilters
    from workers.report.publish import KafkaPublisher, PublishError

    if not as_user:
        raise _fail("give --as USER: a reprocess request records who asked")
    filter_values: dict[str, Any] = {
        "practice": practice,
        "location": location,
        "run": run,
        "reason": reason,
        "payer": payer,
        "failed_from": failed_from.date() if failed_from else None,
        "failed_to": failed_to.date() if failed_to else None,
    }
    by_filters = all_open or any(v is not None for v in filter_values.values())
    if bool(charge_ids) == by_filters:
        raise _fail("give charge ids, or filters (--all-open for every open failure), not both")
    settings = get_settings()
    with _engine().connect() as conn:
        user_id, company_id = _company(conn, as_user, company)
        corrections = _parse_set(set_)
        try:
            filters = SearchFilters.model_validate(filter_values) if by_filters else None
            expected: int | None = None
            if filters is not None:
                found = actions.preview(conn, company_id, filters=filters)
                shown = ", ".join(found.first) + (", ..." if found.count > len(found.first) else "")
                console.print(
                    f"the filters select {found.count} open failure(s) in {company_id}: {shown}",
                    highlight=False,
                )
                if found.count and not yes and not typer.confirm(f"reprocess these {found.count}?"):
                    raise _fail("nothing reprocessed")
                expected = found.count
            body = ReprocessBody(
                company=company_id,
                charge_ids=charge_ids or [],
                filters=filters,
                expected_count=expected,
                corrections={cid: corrections for cid in charge_ids or []} if corrections else {},
                claim_delay_until=delay_until.date() if delay_until else None,
            )
            request, plan = actions.prepare(
                conn, body, company_id, user_id or as_user, dt.datetime.now(dt.UTC)
            )
        except ValidationError as exc:
            raise _fail(actions.in_words(exc)) from None
        except actions.InvalidCorrections as exc:
            for charge_id, problems in sorted(exc.problems.items()):
                for p in problems:
                    console.print(f"{charge_id} {p.field}: {p.problem}", highlight=False)
            raise _fail(str(exc)) from None
        except (actions.CountChanged, actions.InvalidRequest) as exc:
            raise _fail(str(exc)) from None
        except actions.NothingToReprocess as exc:
            for s in exc.skipped:
                console.print(f"skipped {s.charge_id}: {s.reason}", highlight=False)
            raise _fail(str(exc)) from None
    try:
        asyncio.run(KafkaPublisher(settings)(request))
    except PublishError as exc:
        raise _fail(str(exc)) from None
    console.print(f"request {request.request_id}: replaying {', '.join(plan.replaying)}", highlight=False)
    for s in plan.skipped:
        console.print(f"skipped {s.charge_id}: {s.reason}", highlight=False)
