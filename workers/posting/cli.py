"""`claimflow bills ...`: bills, the A/R ledger and reports from bill state, and a posting
helper.

The reports read with `storage` and select with the pure functions of `reports`; each
prints a rich table for people or, with `--json`, JSON for machines (money as two-place
decimal strings, as on the wire). `post` publishes one Posting to the postings topic and,
with `--wait`, prints the worker's answer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any, TypeVar

import orjson
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError, ProgrammingError

from claimflow.db import make_engine, safe_url
from claimflow.settings import Settings, get_settings
from contracts.base import format_money
from contracts.codec import encode
from contracts.posting import BillState, Posting, PostingApplied, PostingRejected
from contracts.topics import POSTINGS
from workers.posting import reports, storage
from workers.posting.answer_watch import AnswerWatch, decode_answer
from workers.posting.bill import Bill, to_state

app = typer.Typer(no_args_is_help=True, help="Bills, ledgers and A/R reports from bill state.")
console = Console()
T = TypeVar("T")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for machines instead of a table.")]
CompanyOpt = Annotated[str | None, typer.Option("--company", help="Only this company's bills.")]


# --- reading ------------------------------------------------------------------------------


def _read(work: Callable[[Connection], T]) -> T:
    url = get_settings().database_url
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return work(conn)
    except (OperationalError, ProgrammingError) as exc:
        where = safe_url(url)
        console.print(
            f"[bold red]Cannot read bills from {escape(where)}:[/] {type(exc.orig or exc).__name__}. "
            "Is the schema there? Run `claimflow db upgrade` (or start `claimflow worker posting`)."
        )
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format_money(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _print_json(value: Any) -> None:
    typer.echo(orjson.dumps(value, default=_json_default, option=orjson.OPT_INDENT_2).decode())


def _m(value: Decimal | None) -> str:
    return "" if value is None else format_money(value)


# --- commands: reports ------------------------------------------------------------------------


@app.command()
def show(bill_id: Annotated[str, typer.Argument(help="The bill id.")], as_json: JsonOpt = False) -> None:
    """One bill: its balances, its payers, its statuses and its ledger."""

    def load(conn: Connection) -> tuple[Bill | None, list[reports.LedgerRow]]:
        bill = storage.load_bills(conn, [bill_id]).get(bill_id)
        return bill, reports.ledger_rows(storage.load_ledger(conn, [bill_id])) if bill else []

    bill, rows = _read(load)
    if bill is None:
        console.print(
            f"[yellow]No bill {escape(bill_id)}.[/] A bill opens when the posting worker receives its claim."
        )
        raise typer.Exit(1)
    state = to_state(bill)
    if as_json:
        _print_json({"bill": state.model_dump(mode="json"), "ledger": [dataclasses.asdict(r) for r in rows]})
        return
    _print_bill(state)
    console.print(_ledger_table(rows, f"Ledger of {bill_id}", with_bill=False))


@app.command()
def aging(
    as_of: Annotated[
        dt.datetime | None, typer.Option("--as-of", formats=["%Y-%m-%d"], help="Age as of this day (today).")
    ] = None,
    company: CompanyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A/R aging by current payer: 0-30, 31-60, 61-90, 91-120, over 120 days from the claim date."""
    day = as_of.date() if as_of else dt.date.today()
    report = reports.aging(_read(lambda conn: storage.load_all_bills(conn, company)), day)
    if as_json:
        _print_json(dataclasses.asdict(report))
        return
    table = Table(title=f"A/R aging as of {day.isoformat()}" + (f", company {company}" if company else ""))
    table.add_column("payer")
    table.add_column("type")
    for bucket in reports.BUCKETS:
        table.add_column(bucket, justify="right")
    table.add_column("total", justify="right", style="bold")
    table.add_column("bills", justify="right")
    for row in report.rows:
        table.add_row(
            row.payer_name,
            row.payer_type,
            *(_m(row.buckets[b]) for b in reports.BUCKETS),
            _m(row.total),
            str(row.bill_count),
        )
    table.add_section()
    table.add_row(
        "total",
        "",
        *(_m(report.totals[b]) for b in reports.BUCKETS),
        _m(report.total),
        str(sum(r.bill_count for r in report.rows)),
        style="bold",
    )
    console.print(table)


@app.command()
def statements(company: CompanyOpt = None, as_json: JsonOpt = False) -> None:
    """Bills the patient owes now (statements and warning letters): patient is the current
    payer, balance above zero, not on hold, in collections or killed."""
    chosen = reports.statement_candidates(_read(lambda conn: storage.load_all_bills(conn, company)))
    if as_json:
        _print_json([to_state(b).model_dump(mode="json") for b in chosen])
        return
    table = Table(title="Statement candidates")
    for column in ("bill", "company", "claim date", "patient payer"):
        table.add_column(column)
    table.add_column("balance", justify="right", style="bold")
    for bill in chosen:
        payer = bill.current
        table.add_row(
            bill.bill_id,
            bill.company_id,
            bill.claim_date.isoformat(),
            payer.label if payer else "",
            _m(bill.balance),
        )
    console.print(table)


@app.command()
def collections(company: CompanyOpt = None, as_json: JsonOpt = False) -> None:
    """Bills in collections (not on hold), with their balance and what was written off to bad debt."""
    rows = reports.collections(_read(lambda conn: storage.load_all_bills(conn, company)))
    if as_json:
        _print_json([dataclasses.asdict(r) for r in rows])
        return
    table = Table(title="Collections")
    for column in ("bill", "company", "claim", "current payer"):
        table.add_column(column)
    table.add_column("balance", justify="right", style="bold")
    table.add_column("bad debt", justify="right")
    for r in rows:
        table.add_row(r.bill_id, r.company_id, r.claim_id, r.payer_name, _m(r.balance), _m(r.bad_debt))
    console.print(table)


@app.command()
def ledger(
    bill: Annotated[list[str] | None, typer.Option("--bill", help="Only these bills (repeatable).")] = None,
    company: CompanyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The A/R ledger: every posted transaction in the order applied (WB shows as bad debt)."""

    def load(conn: Connection) -> list[reports.LedgerRow]:
        ids: list[str] | None = list(bill) if bill else None
        if company is not None:
            owned = {b.bill_id for b in storage.load_all_bills(conn, company)}
            ids = sorted(owned if ids is None else owned & set(ids))
        return reports.ledger_rows(storage.load_ledger(conn, ids))

    rows = _read(load)
    if as_json:
        _print_json([dataclasses.asdict(r) for r in rows])
        return
    console.print(_ledger_table(rows, "A/R ledger"))


# --- command: post ------------------------------------------------------------------------


@app.command(context_settings={"ignore_unknown_options": True})  # lets "AR -5.00" through
def post(
    bill_id: Annotated[str, typer.Argument(help="The bill to post to.")],
    code: Annotated[str, typer.Argument(help="Transaction code: PK, PI, C, F, J, RB, WB, KB, ...")],
    amount: Annotated[
        str | None, typer.Argument(help="Amount, e.g. 40.00 (AR may be negative: -5.00).")
    ] = None,
    next_payer: Annotated[
        int | None, typer.Option(help="J only: the payer sequence that becomes current.")
    ] = None,
    posting_id: Annotated[str | None, typer.Option(help="Posting id (default: a new one).")] = None,
    note: Annotated[str, typer.Option(help="Free text kept with the posting.")] = "",
    by: Annotated[str, typer.Option("--by", help="Who posts it.")] = "cli",
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the worker's answer and print it.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds --wait waits for the answer.")] = 30.0,
    as_json: JsonOpt = False,
) -> None:
    """Publish one Posting to the postings topic; with --wait, print its answer.

    Exit status: 0 posted (or applied), 1 rejected, 2 bad input, no broker or no answer.
    """
    try:
        posting = Posting.model_validate(
            {
                "posting_id": posting_id or f"cli-{uuid.uuid4().hex[:16]}",
                "bill_id": bill_id,
                "code": code,
                "amount": amount,
                "next_payer": next_payer,
                "posted_at": dt.datetime.now(dt.UTC),
                "posted_by": by,
                "note": note,
            }
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        console.print(f"[bold red]Not a posting:[/] {escape(problems)}")
        raise typer.Exit(2) from exc
    settings = get_settings()
    try:
        raw = asyncio.run(_publish(settings, posting, timeout if wait else None))
    except Exception as exc:  # aiokafka raises its own errors and OSError alike
        console.print(
            f"[bold red]Could not post to {escape(settings.bootstrap_servers)}:[/] "
            + escape(f"{type(exc).__name__}: {exc}")
        )
        raise typer.Exit(2) from exc
    if not wait:
        if as_json:
            typer.echo(encode(posting).decode())
        else:
            console.print(escape(f"posted {posting.posting_id}: {_what(posting)} to bill {posting.bill_id}"))
        return
    if raw is None:
        console.print(
            f"[bold red]No answer to {posting.posting_id} within {timeout:g} s.[/] "
            "Is `claimflow worker posting` running?"
        )
        raise typer.Exit(2)
    result = _decode_answer(raw)
    if as_json:
        typer.echo(raw.decode())
    elif isinstance(result, PostingApplied):
        console.print(
            "[green]applied[/] "
            + escape(f"{posting.posting_id}: {_what(posting)} (ledger {result.ledger_code})")
        )
        _print_bill(result.bill)
    else:
        console.print(
            "[bold red]rejected[/] "
            + escape(f"{posting.posting_id}: {_what(posting)} [{result.reason_code}] {result.reason}")
        )
    if isinstance(result, PostingRejected):
        raise typer.Exit(1)


async def _publish(settings: Settings, posting: Posting, wait: float | None) -> bytes | None:
    from aiokafka import AIOKafkaProducer

    from claimflow.broker.security import client_kwargs

    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers, acks="all", **client_kwargs(settings)
    )
    await producer.start()
    try:
        if wait is None:
            await producer.send_and_wait(
                settings.topic(POSTINGS), encode(posting), key=posting.bill_id.encode()
            )
            return None
        async with AnswerWatch(settings) as watch:
            await producer.send_and_wait(
                settings.topic(POSTINGS), encode(posting), key=posting.bill_id.encode()
            )
            return await watch.wait(posting.posting_id, wait)
    finally:
        await producer.stop()


def _decode_answer(raw: bytes) -> PostingApplied | PostingRejected:
    return decode_answer(raw)


def _what(posting: Posting) -> str:
    parts = [posting.code]
    if posting.amount is not None:
        parts.append(format_money(posting.amount))
    if posting.next_payer is not None:
        parts.append(f"next payer {posting.next_payer}")
    return " ".join(parts)


# --- rendering ------------------------------------------------------------------------------


def _print_bill(state: BillState) -> None:
    flags = [name for name in ("rejected", "on_hold", "in_collections", "killed") if getattr(state, name)]
    head = Table(title=f"Bill {state.bill_id}", show_header=False)
    head.add_column(style="bold")
    head.add_column(justify="right")
    for label, value in (
        ("company", state.company_id),
        ("claim", f"{state.claim_id} ({state.claim_date.isoformat()})"),
        ("billed", _m(state.billed_amount)),
        ("balance", _m(state.balance)),
        ("late fees", _m(state.late_fee_balance)),
        ("bad debt", _m(state.bad_debt)),
        ("current payer", str(state.current_payer)),
        ("status", ", ".join(f.replace("_", " ") for f in flags) or "open"),
        ("rebills", " ".join(map(str, state.rebill_history)) or "-"),
    ):
        head.add_row(label, value)
    console.print(head)
    payers = Table(title="Payers")
    for column in ("seq", "payer", "type"):
        payers.add_column(column)
    for column in ("cash", "contractual", "refunds", "transactions"):
        payers.add_column(column, justify="right")
    for p in state.payers:
        marker = " *" if p.sequence == state.current_payer else ""
        payers.add_row(
            f"{p.sequence}{marker}",
            p.name or p.payer_id,
            p.payer_type,
            _m(p.cash_balance),
            _m(p.contractual_balance),
            _m(p.refunds),
            str(p.transaction_count),
        )
    console.print(payers)


def _ledger_table(rows: list[reports.LedgerRow], title: str, with_bill: bool = True) -> Table:
    table = Table(title=title)
    table.add_column("posted", no_wrap=True)
    if with_bill:
        table.add_column("bill", no_wrap=True)
    for column in ("posting", "code", "ledger", "payer", "column"):
        table.add_column(column)
    table.add_column("amount", justify="right")
    table.add_column("balance after", justify="right")
    table.add_column("note")
    for r in rows:
        posted = r.posted_at.strftime("%Y-%m-%d %H:%M") if r.posted_at else ""
        table.add_row(
            posted,
            *([r.bill_id] if with_bill else []),
            r.posting_id,
            r.code,
            r.ledger_code,
            "" if r.payer_sequence is None else str(r.payer_sequence),
            r.column.replace("_", " "),
            _m(r.amount),
            _m(r.balance_after),
            escape(r.note),
        )
    return table
