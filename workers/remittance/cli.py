"""`claimflow remittances ...` (and `claimflow x12 import-835`): 835 files in, ERAs and the
unmatched claim payments out.

`import` publishes each file to `billing.remittances`, keyed by its payer and trace number;
the remittance worker does the rest. A file that is not even X12 is still published: the
worker refuses it, with the reason, into the dead-letter path, so a refusal is recorded in
one place. `eras` shows each ERA's deposit beside what was posted; `unmatched` lists the
parked claim payments; `retry` asks the worker to try them again; `resolve` closes one by
hand.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import getpass
import json
import re
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from claimflow.settings import Settings, get_settings
from contracts.codec import encode
from contracts.remittance import MAX_X12_CHARS, RemittanceFile, RemittanceRetry
from contracts.topics import REMITTANCES

remittance_app = typer.Typer(no_args_is_help=True, help="835 remittances: import, ERA totals, unmatched.")
#: `claimflow x12 import-835`, the same command under the X12 group.
#: What claimflow/cli.py mounts.
app = remittance_app
console = Console()

Files = Annotated[list[Path], typer.Argument(help="835 files (005010X221A1).", exists=True, dir_okay=False)]
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def era_key_of(text: str) -> str:
    """PAYER:TRACE from the first N1*PR and TRN of an 835, or "" (the worker says why)."""
    separator = text[3:4] if text.startswith("ISA") else "*"
    sep = re.escape(separator)
    trace = re.search(rf"(?:^|[~\n])\s*TRN{sep}[^~]*?{sep}([^{sep}~]+)", text)
    payer = re.search(rf"N1{sep}PR{sep}([^{sep}~]*)(?:{sep}[^{sep}~]*{sep}([^{sep}~]+))?", text)
    if not trace or not payer:
        return ""
    return f"{payer.group(2) or payer.group(1)}:{trace.group(1)}"


async def _send(settings: Settings, messages: list[tuple[str, bytes]]) -> None:
    from aiokafka import AIOKafkaProducer

    from claimflow.broker.security import client_kwargs

    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        **client_kwargs(settings),
    )
    try:
        await producer.start()
    except Exception:
        await producer.stop()
        raise
    try:
        topic = settings.topic(REMITTANCES)
        for key, value in messages:
            await producer.send_and_wait(topic, value, key=key.encode() or None)
    finally:
        await producer.stop()


def import_files(files: list[Path], settings: Settings, by: str | None = None) -> list[tuple[str, str]]:
    """Publish `files`; answers (file, key) per file published."""
    return asyncio.run(publish_files(files, settings, by))


async def publish_files(
    files: list[Path], settings: Settings, by: str | None = None
) -> list[tuple[str, str]]:
    """`import_files` inside a running event loop."""
    now = dt.datetime.now(dt.UTC)
    messages = []
    sent = []
    for path in files:
        text = path.read_text(encoding="ascii", errors="replace")
        if len(text) > MAX_X12_CHARS:
            raise typer.BadParameter(
                f"{path} is {len(text)} characters; split it into files of at most {MAX_X12_CHARS} "
                "(one ERA, ST..SE, per file)"
            )
        key = era_key_of(text)
        message = RemittanceFile(x12=text, file_name=path.name, submitted_at=now, submitted_by=by)
        messages.append((key, encode(message)))
        sent.append((str(path), key))
    await _send(settings, messages)
    return sent


def _import(files: list[Path]) -> None:
    settings = get_settings()
    try:
        sent = import_files(files, settings, _user())
    except typer.BadParameter:
        raise
    except Exception as exc:  # the broker refused or is down: say so, in one line
        console.print(
            f"[red]Cannot publish to the broker at {escape(settings.bootstrap_servers)}: "
            f"{type(exc).__name__}[/red]; nothing was imported"
        )
        raise typer.Exit(2) from None
    for path, key in sent:
        console.print(f"published {escape(path)} as ERA {escape(key or '(unreadable)')}")
    console.print(
        "The remittance worker posts each claim payment; `claimflow remittances eras` shows the "
        "ERA's totals, and an ERA already posted is counted again and changes nothing."
    )


@remittance_app.command("import")
def import_command(files: Files) -> None:
    """Publish 835 files to billing.remittances for the remittance worker."""
    _import(files)


def import_835(files: Files) -> None:
    """Publish 835 remittance files (the same as `claimflow remittances import`)."""
    _import(files)


def register_x12(group: typer.Typer) -> None:
    """Add `import-835` to the X12 command group (`claimflow x12`, the clearinghouse's)."""
    group.command("import-835")(import_835)


@remittance_app.command("eras")
def eras_command(as_json: AsJson = False) -> None:
    """Each ERA's deposit (BPR02) beside the claim payments posted, parked and the PLB."""
    from workers.remittance.views import era_totals

    with _engine().connect() as conn:
        rows = era_totals(conn)
    if as_json:
        _print_json([dataclasses.asdict(r) for r in rows])
        return
    table = Table(title="ERAs")
    for column in (
        "ERA",
        "paid on",
        "received",
        "claims",
        "deposit",
        "claims paid",
        "PLB",
        "posted",
        "parked",
    ):
        table.add_column(column, justify="right" if column not in ("ERA", "paid on") else "left")
    table.add_column("postings")
    for r in rows:
        table.add_row(
            escape(f"{r.payer_name} {r.trace}"),
            str(r.paid_on or ""),
            f"{r.times_received}x",
            ", ".join(f"{n} {k}" for k, n in sorted(r.outcomes.items())),
            str(r.deposit),
            str(r.claims_paid),
            str(r.provider_adjustments),
            str(r.posted),
            str(r.parked),
            ", ".join(f"{n} {k}" for k, n in sorted(r.postings.items())),
        )
    console.print(table)
    for r in rows:
        for a in r.provider_adjustment_lines:
            what = f"{a['description']} ({a['reference']})"
            console.print(f"  {escape(r.trace)} PLB {escape(what)}: {a['amount']}")


@remittance_app.command("unmatched")
def unmatched_command(as_json: AsJson = False) -> None:
    """The unmatched remittances: claim payments parked, with why."""
    from workers.remittance.views import parked_claims

    with _engine().connect() as conn:
        rows = parked_claims(conn)
    if as_json:
        _print_json([dataclasses.asdict(r) for r in rows])
        return
    table = Table(title="Unmatched remittances")
    for column in ("id", "ERA", "claim", "bill", "status", "paid", "reason"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            str(r.id),
            escape(r.era_key),
            escape(r.claim_id),
            escape(r.bill_id or ""),
            r.status,
            str(r.paid),
            escape(r.reason),
        )
    console.print(table)


@remittance_app.command("retry")
def retry_command(
    claim_ids: Annotated[
        list[str] | None, typer.Argument(help="Claim ids (CLP01); none: every parked one.")
    ] = None,
) -> None:
    """Ask the remittance worker to try the parked claim payments again."""
    settings = get_settings()
    message = RemittanceRetry(claim_ids=claim_ids or [], requested_at=dt.datetime.now(dt.UTC))
    asyncio.run(_send(settings, [("retry", encode(message))]))
    console.print("retry requested; `claimflow remittances unmatched` shows what is still parked")


@remittance_app.command("resolve")
def resolve_command(
    claim_payment: Annotated[int, typer.Argument(help="The id `unmatched` shows.")],
    note: Annotated[str, typer.Option(help="What was done by hand.")],
) -> None:
    """Close a parked claim payment that was dealt with by hand (it is kept, as resolved)."""
    from workers.remittance.storage import resolve

    with _engine().begin() as conn:
        done = resolve(conn, claim_payment, note, _user(), dt.datetime.now(dt.UTC))
    if not done:
        console.print(f"[red]No parked claim payment {claim_payment}.[/red]")
        raise typer.Exit(2)
    console.print(f"claim payment {claim_payment} resolved")


def _engine() -> Any:
    from claimflow.db import create_all, make_engine

    engine = make_engine(get_settings().database_url)
    create_all(engine)
    return engine


def _user() -> str:
    try:
        return re.sub(r"[^A-Za-z0-9._-]", "", getpass.getuser())[:64] or "operator"
    except Exception:
        return "operator"


def _print_json(value: Any) -> None:
    print(json.dumps(value, default=str, indent=2))
