"""`claimflow x12`: the 837P interchanges, their claims and acknowledgments, by hand.

import-ack reads 999 and 277CA files (each once, by its control number) and publishes the
Rejection postings they make; export writes an interchange on demand (new control numbers,
recorded like the worker's); list shows interchanges, their claims and where each stands;
resend writes a recorded interchange to the outbox again, byte for byte.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, TypeVar

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Connection, select
from sqlalchemy.exc import OperationalError, ProgrammingError

from claimflow.db import make_engine, unit_of_work
from claimflow.settings import Settings, get_settings
from contracts.posting import Posting
from workers.clearinghouse import storage
from workers.clearinghouse.acks import ImportResult, import_ack
from workers.clearinghouse.handler import send_claims
from workers.clearinghouse.routing import RoutingError, load_routing
from workers.clearinghouse.storage import outbox_path
from workers.clearinghouse.tables import x12_claims, x12_interchanges
from workers.clearinghouse.x12_acks import AckError, parse

app = typer.Typer(no_args_is_help=True, help="837P interchanges out, 999 and 277CA acknowledgments in.")
console = Console()
T = TypeVar("T")


def _db(work: Callable[[Connection], T], *, write: bool = False) -> T:
    url = get_settings().database_url
    engine = make_engine(url)
    try:
        if write:
            with unit_of_work(engine) as conn:
                return work(conn)
        with engine.connect() as conn:
            return work(conn)
    except (OperationalError, ProgrammingError) as exc:
        console.print(
            f"[bold red]Cannot use the database:[/] {type(exc.orig or exc).__name__}. "
            "Is the schema there? Run `claimflow db upgrade` (or start `claimflow worker clearinghouse`)."
        )
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()


async def publish_postings(settings: Settings, postings: Sequence[Posting]) -> None:
    from aiokafka import AIOKafkaProducer

    from claimflow.broker.security import client_kwargs
    from contracts.codec import encode
    from contracts.topics import POSTINGS

    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=15000,
        **client_kwargs(settings),
    )
    await producer.start()
    try:
        topic = settings.topic(POSTINGS)
        futures = [await producer.send(topic, encode(p), key=p.bill_id.encode()) for p in postings]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def import_files(paths: Sequence[Path], *, publish: bool = True) -> list[ImportResult]:
    """Import each file in its own transaction, then publish its postings."""
    settings = get_settings()
    results = []
    for path in paths:
        try:
            ack = parse(path.read_text(encoding="ascii", errors="replace"))
        except (OSError, AckError) as exc:
            console.print(f"[bold red]{escape(path.name)}:[/] {escape(str(exc))}")
            raise typer.Exit(2) from None
        now = dt.datetime.now(dt.UTC)
        result = _db(lambda conn, ack=ack, now=now: import_ack(conn, ack, now), write=True)  # type: ignore[misc]
        if publish and result.postings:
            try:
                asyncio.run(publish_postings(settings, result.postings))
            except Exception as exc:
                console.print(
                    f"[bold red]{escape(path.name)}: imported, but its {len(result.postings)} Rejection "
                    f"posting(s) were not published ({type(exc).__name__}).[/] Import the file again "
                    "once the broker is up: it changes nothing twice and publishes them again."
                )
                raise typer.Exit(1) from None
        console.print(f"{escape(path.name)}: {escape(result.summary())}")
        results.append(result)
    return results


@app.command("import-ack")
def import_ack_command(
    files: Annotated[list[Path], typer.Argument(help="999 or 277CA files.", exists=True, dir_okay=False)],
    publish: Annotated[bool, typer.Option(help="Publish Rejection postings to billing.postings.")] = True,
) -> None:
    """Read 999 and 277CA acknowledgments: mark claims accepted, turn rejections into J postings."""
    import_files(files, publish=publish)


@app.command()
def export(
    run: Annotated[
        int | None, typer.Option("--run", help="Every sendable claim of this formatter run.")
    ] = None,
    claim: Annotated[str | None, typer.Option("--claim", help="One claim, by its id.")] = None,
) -> None:
    """Write an interchange now for claims the worker has recorded (new control numbers)."""
    if (run is None) == (claim is None):
        raise typer.BadParameter("give exactly one of --run N or --claim ID")
    settings = get_settings()
    try:
        routing = load_routing(settings.x12_routing)
    except RoutingError as exc:
        console.print(f"[bold red]{escape(str(exc))}[/]")
        raise typer.Exit(2) from None
    outbox = outbox_path(settings)

    def work(conn: Connection) -> list[Path]:
        claims = storage.stored_claims(conn, run=run, claim_id=claim)
        if not claims:
            return []
        ids = [c.claim_id for c in claims]
        # The claims move to the new interchange; the payer's claim numbers stay with them.
        kept = conn.execute(
            select(x12_claims.c.claim_id, x12_claims.c.payer_claim_number).where(
                x12_claims.c.claim_id.in_(ids), x12_claims.c.payer_claim_number.is_not(None)
            )
        )
        numbers = {row.claim_id: row.payer_claim_number for row in kept}
        conn.execute(x12_claims.delete().where(x12_claims.c.claim_id.in_(ids)))
        written = send_claims(conn, claims, routing, outbox, dt.datetime.now(dt.UTC))
        for claim_id, number in numbers.items():
            conn.execute(
                x12_claims.update().where(x12_claims.c.claim_id == claim_id).values(payer_claim_number=number)
            )
        return written

    written = _db(work, write=True)
    if not written:
        console.print("No recorded claim matches (or none of them can go out as an 837P).")
        raise typer.Exit(1)
    for path in written:
        console.print(f"wrote {escape(str(path))}")


@app.command("list")
def list_command(
    limit: Annotated[int, typer.Option(help="The newest this many interchanges.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Interchanges, newest first, with their claims and acknowledgment status."""

    def work(conn: Connection) -> list[dict[str, object]]:
        i = x12_interchanges.c
        rows = conn.execute(
            select(i.interchange_id, i.file_name, i.receiver, i.created_at, i.claim_count, i.ack_status)
            .order_by(i.created_at.desc(), i.control_number.desc())
            .limit(limit)
        ).all()
        out = []
        for row in rows:
            c = x12_claims.c
            claims = conn.execute(
                select(c.claim_id, c.bill_id, c.transaction_number, c.status, c.status_detail)
                .where(c.interchange_id == row.interchange_id)
                .order_by(c.transaction_number)
            ).all()
            out.append(
                {
                    **{str(k): v for k, v in row._mapping.items()},
                    "created_at": row.created_at.isoformat(),
                    "claims": [{str(k): v for k, v in r._mapping.items()} for r in claims],
                }
            )
        return out

    found = _db(work)
    if as_json:
        typer.echo(orjson.dumps(found, option=orjson.OPT_INDENT_2).decode())
        return
    if not found:
        console.print("No interchanges yet.")
        return
    table = Table("interchange", "file", "receiver", "created", "999", "claims (status)")
    for item in found:
        claims = item["claims"]
        assert isinstance(claims, list)
        listed = ", ".join(f"{c['claim_id']} ({c['status']})" for c in claims[:6])
        if len(claims) > 6:
            listed += f", … {len(claims) - 6} more"
        table.add_row(
            str(item["interchange_id"]),
            str(item["file_name"]),
            str(item["receiver"]),
            str(item["created_at"])[:19],
            str(item["ack_status"]),
            escape(listed),
        )
    console.print(table)


@app.command()
def bill(
    bill_id: Annotated[str, typer.Argument(help="The bill id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """A bill's claims: each one's 837P file, its status and the acknowledgments' words."""
    found = _db(lambda conn: storage.bill_claims(conn, bill_id))
    if as_json:
        typer.echo(orjson.dumps(found).decode())
        return
    if not found:
        console.print(f"No 837P claim for bill {escape(bill_id)}.")
        raise typer.Exit(1)
    table = Table("claim", "kind", "file", "status", "detail")
    for row in found:
        table.add_row(
            str(row["claim_id"]),
            str(row["frequency"]),
            escape(str(row["file_name"] or "-")),
            str(row["status"]),
            escape(str(row["status_detail"])),
        )
    console.print(table)


@app.command()
def resend(interchange_id: Annotated[str, typer.Argument(help="As `claimflow x12 list` shows it.")]) -> None:
    """Write a recorded interchange to the outbox again, byte for byte (same control numbers)."""

    def work(conn: Connection) -> tuple[str, str] | None:
        i = x12_interchanges.c
        row = conn.execute(select(i.file_name, i.text).where(i.interchange_id == interchange_id)).first()
        return None if row is None else (row.file_name, row.text)

    found = _db(work)
    if found is None:
        console.print(f"No interchange {escape(interchange_id)}; `claimflow x12 list` shows them.")
        raise typer.Exit(1)
    path = storage.write_atomically(outbox_path(get_settings()), found[0], found[1])
    console.print(f"wrote {escape(str(path))}")
