"""`claimflow dead-letters ...`: list, show and replay what the dead-letter topic holds.

Patient data stays off the screen unless asked for: `list` prints refs, kinds, workers and
errors (ids and reasons only); `show` prints the headers and the error, and the message
itself only with `--data`. docs/OPERATIONS.md has the procedure.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import getpass
import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from claimflow.settings import Settings, get_settings
from workers.deadletters import letters as dl
from workers.deadletters.views import detail, summary

app = typer.Typer(no_args_is_help=True, help="List, show and replay dead letters.")
console = Console()

Worker = Annotated[str | None, typer.Option(help="Only dead letters this worker wrote.")]
Kinds = Annotated[
    list[str] | None,
    typer.Option("--kind", help="Error kind (repeatable): internal, invalid, not_json, oversized, ..."),
]
Topic = Annotated[str | None, typer.Option("--topic", help="Source topic, e.g. billing.charges.")]
Since = Annotated[str | None, typer.Option(help="Dead-lettered at or after (ISO date or date-time, UTC).")]
Until = Annotated[str | None, typer.Option(help="Dead-lettered before (ISO date or date-time, UTC).")]
Offsets = Annotated[
    list[str] | None,
    typer.Option("--offset", help="Source PARTITION:OFFSET, or a ref TOPIC:PARTITION:OFFSET (repeatable)."),
]
Keys = Annotated[list[str] | None, typer.Option("--key", help="Message key (repeatable).")]
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]{message}[/red]")
    return typer.Exit(2)


def _moment(text: str | None, option: str) -> dt.datetime | None:
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise _fail(
            f"{option} {text!r} is not an ISO date or date-time, e.g. 2026-12-06 or 2026-12-06T14:30"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _filters(
    worker: str | None,
    kinds: list[str] | None,
    topic: str | None,
    since: str | None,
    until: str | None,
    offsets: list[str] | None = None,
    keys: list[str] | None = None,
) -> dl.Filters:
    try:
        parsed = tuple(dl.Offset.parse(o) for o in offsets or ())
    except dl.BadSelection as exc:
        raise _fail(str(exc)) from None
    return dl.Filters(
        worker=worker,
        kinds=frozenset(kinds or ()),
        source_topic=topic,
        since=_moment(since, "--since"),
        until=_moment(until, "--until"),
        offsets=parsed,
        keys=frozenset(k.encode() for k in keys or ()),
    )


def _engine() -> Any:
    from claimflow.db import create_all, make_engine

    engine = make_engine(get_settings().database_url)
    create_all(engine)
    return engine


def _read(settings: Settings) -> list[dl.Letter]:
    from workers.deadletters.topic import BrokerUnavailable, read_letters

    try:
        return asyncio.run(read_letters(settings))
    except BrokerUnavailable as exc:
        raise _fail(str(exc)) from None


@app.command("list")
def list_(
    worker: Worker = None,
    kind: Kinds = None,
    topic: Topic = None,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, typer.Option(help="Rows to print (newest last); counts cover all.")] = 50,
    as_json: AsJson = False,
) -> None:
    """Dead letters matching the filters, with counts per error kind."""
    from workers.deadletters.replay import replay_records

    settings = get_settings()
    chosen = dl.select(_read(settings), _filters(worker, kind, topic, since, until), settings.topic_prefix)
    with _engine().connect() as conn:
        done = replay_records(conn, chosen)
    rows = [summary(x, done.get(x.ref)) for x in chosen]
    if as_json:
        typer.echo(json.dumps({"counts": dl.counts(chosen), "total": len(chosen), "letters": rows}, indent=2))
        return
    counts = ", ".join(f"{k} {n}" for k, n in dl.counts(chosen).items()) or "none"
    console.print(f"{len(chosen)} dead letter(s): {counts}")
    table = Table()
    for column in ("ref", "kind", "worker", "dead-lettered at", "error", "replayed"):
        table.add_column(column, overflow="fold")
    for row in rows[-limit:] if limit > 0 else []:
        replayed = f"by {row['replayed_by']} {row['replayed_at'][:19]}" if row["replayed_by"] else ""
        table.add_row(
            row["ref"],
            row["error_kind"],
            row["worker"],
            row["dead_lettered_at"][:19],
            row["error"][:120],
            replayed,
        )
    if rows:
        console.print(table)


@app.command()
def show(
    ref: Annotated[str, typer.Argument(help="TOPIC:PARTITION:OFFSET, as `list` prints it.")],
    data: Annotated[
        bool, typer.Option("--data", help="Also print the key and the message (patient data).")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """One dead letter: where it came from, why, its headers; the message itself with --data."""
    from workers.deadletters.replay import replay_records

    try:
        dl.Offset.parse(ref)
    except dl.BadSelection as exc:
        raise _fail(str(exc)) from None
    letter = dl.find(_read(get_settings()), ref)
    if letter is None:
        raise _fail(f"no dead letter {ref}")
    with _engine().connect() as conn:
        done = replay_records(conn, [letter]).get(letter.ref)
    found = detail(letter, done, data=data)
    if as_json:
        typer.echo(json.dumps(found, indent=2))
        return
    for name, value in found.items():
        if name == "headers":
            for header, text in value.items():
                console.print(f"  header {header}: {text}", markup=False)
        elif value is not None:
            console.print(f"{name}: {value}", markup=False)
    if not data:
        console.print("(message not shown: it can hold patient data; add --data to print it)")


@app.command()
def replay(
    worker: Worker = None,
    kind: Kinds = None,
    topic: Topic = None,
    since: Since = None,
    until: Until = None,
    offset: Offsets = None,
    key: Keys = None,
    by: Annotated[
        str | None, typer.Option(help="Who replays (recorded); defaults to the login name.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be replayed; publish nothing.")
    ] = False,
) -> None:
    """Republish selected dead letters to their source topic, after a fix. Each dead letter is
    replayed once: a second replay publishes nothing and says who replayed it, and when."""
    from workers.deadletters.replay import replay as do_replay
    from workers.deadletters.replay import replay_records
    from workers.deadletters.topic import BrokerUnavailable, publish

    filters = _filters(worker, kind, topic, since, until, offset, key)
    if not filters.selects_by_message():
        raise _fail("say which dead letters to replay: --kind, --offset or --key (with any other filter)")
    who = by or getpass.getuser()
    settings = get_settings()
    chosen = dl.distinct(dl.select(_read(settings), filters, settings.topic_prefix))
    if not chosen:
        raise _fail("no dead letter matches")
    engine = _engine()
    if dry_run:
        with engine.connect() as conn:
            done = replay_records(conn, chosen)
        for x in chosen:
            note = done[x.ref].says() if x.ref in done else "would be replayed"
            console.print(f"{x.ref} {x.meta.error_kind}: {note}", markup=False)
        return
    try:
        result = do_replay(
            engine, chosen, who, lambda out: asyncio.run(publish(settings, out)), dt.datetime.now(dt.UTC)
        )
    except BrokerUnavailable as exc:
        raise _fail(f"{exc}; nothing was replayed or recorded") from None
    for x in result.published:
        console.print(f"{x.ref} {x.meta.error_kind}: replayed to {x.meta.source_topic}", markup=False)
    for e in result.already:
        console.print(f"{e.ref}: {e.says()}", markup=False)
    console.print(f"{len(result.published)} replayed, {len(result.already)} already replayed")


@app.command()
def grant(
    user: Annotated[str, typer.Argument(help="A report user (claimflow report create-user).")],
    by: Annotated[str | None, typer.Option(help="Who grants (recorded); defaults to the login name.")] = None,
) -> None:
    """Let a report user list, show and replay dead letters through the report API."""
    from workers.deadletters.replay import grant as do_grant
    from workers.report import accounts

    with _engine().begin() as conn:
        if accounts.caller_for_user(conn, user) is None:
            raise _fail(f"no report user {user!r}; add one with `claimflow report create-user`")
        added = do_grant(conn, user, by or getpass.getuser(), dt.datetime.now(dt.UTC))
    console.print(f"{user} {'may now' if added else 'already may'} work dead letters through the API")


@app.command()
def revoke(user: Annotated[str, typer.Argument(help="A report user.")]) -> None:
    """Take back a report user's access to dead letters."""
    from workers.deadletters.replay import revoke as do_revoke

    with _engine().begin() as conn:
        removed = do_revoke(conn, user)
    console.print(f"{user} {'may no longer' if removed else 'could not'} work dead letters through the API")
