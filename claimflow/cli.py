"""The `claimflow` command: workers, topics, the database, reports; from a checkout also the
development broker and the demo run.

This is the entry point: it alone may name every worker (it mounts their commands and runs
them). It mounts the developer commands (`kafka`, `demo`) only when the `devtools` package
is importable, which it is in a checkout and not in the wheel or the image.
"""

from __future__ import annotations

import importlib
from typing import Annotated, NoReturn

import typer

from claimflow.settings import Settings, get_settings

app = typer.Typer(no_args_is_help=True, help="claimflow: a billing pipeline for therapy practices.")
db_app = typer.Typer(no_args_is_help=True, help="The database schema.")
app.add_typer(db_app, name="db")

#: worker name -> module with `build(settings, faults=...) -> faust.App`
WORKERS = {
    "formatter": "workers.formatter.worker",
    "posting": "workers.posting.worker",
    "reprocess": "workers.reprocess.worker",
    "clearinghouse": "workers.clearinghouse.worker",
    "remittance": "workers.remittance.worker",
}


def _mount(module: str, name: str, help: str) -> None:
    try:
        sub = importlib.import_module(module).app
    except ModuleNotFoundError as exc:
        if not (exc.name and module.startswith(exc.name)):  # a dependency is missing: say so
            raise
        return
    app.add_typer(sub, name=name, help=help)


_mount("devtools.kafka.cli", "kafka", "Start, stop or inspect the project's Kafka broker (development).")
_mount("workers.posting.cli", "bills", "Bills, ledgers and A/R reports from bill state.")
_mount("workers.report.cli", "report", "The Failed Charges report service, its users, and reprocessing.")
_mount("workers.clearinghouse.cli", "x12", "837P claims out, 999 and 277CA acknowledgments in, 835s in.")
_mount("devtools.demo", "demo", "The demo `make run` drives (development).")
_mount("workers.deadletters.cli", "dead-letters", "List, show and replay dead letters (docs/OPERATIONS.md).")
_mount(
    "workers.remittance.cli", "remittances", "835 remittances: import, ERA totals, unmatched claim payments."
)
# `claimflow x12 import-835` beside the 837P commands: one X12 group for both directions.
importlib.import_module("workers.remittance.cli").register_x12(
    importlib.import_module("workers.clearinghouse.cli").app
)


def _check_services(settings: Settings) -> None:
    """Fail at once, in words, when the broker or the database refuses us: a wrong password
    or CA would otherwise surface as a retry loop or a traceback deep in a client. Brings
    the database to the newest migration on the way."""
    from sqlalchemy.exc import OperationalError

    from claimflow.broker.security import BrokerAccessError, check_access
    from claimflow.db import connect_problem, create_all, make_engine

    try:
        check_access(settings)
    except BrokerAccessError as exc:
        _die(str(exc))
    engine = make_engine(settings.database_url)
    try:
        create_all(engine)
    except OperationalError as exc:
        _die(connect_problem(exc, settings.database_url))
    finally:
        engine.dispose()


def _die(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


@app.command()
def worker(
    name: Annotated[str, typer.Argument(help=f"one of: {', '.join(WORKERS)}")],
) -> None:
    """Run one worker until SIGTERM or Ctrl-C (finishes the batch in hand, then stops)."""
    import faust

    from claimflow.logs import configure

    if name not in WORKERS:
        raise typer.BadParameter(f"unknown worker {name!r}; choose one of {', '.join(WORKERS)}")
    settings = get_settings()
    configure(settings.log_level, settings.log_format)
    _check_services(settings)
    from workers.common.faults import FaultHooks

    # The one place the test-only fault hooks are read (tests/faults starts workers this way).
    faust_app = importlib.import_module(WORKERS[name]).build(settings, faults=FaultHooks.from_env())
    from workers.common.collector import tune_gc

    tune_gc()
    from workers.common.consumer import EXIT_LOOP_FAILED, BatchConsumer

    try:
        # redirect_stdouts=False: mode would otherwise re-log every line our structlog prints
        # as a WARNING with its own prefix, which mislabels levels and breaks JSON logs.
        faust.Worker(
            faust_app, loglevel=settings.log_level, quiet=True, redirect_stdouts=False
        ).execute_from_commandline()
    finally:
        # faust's worker always exits 0; a failed consumer loop must not look like a clean stop.
        if BatchConsumer.fatal is not None:
            raise SystemExit(EXIT_LOOP_FAILED)


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """The broker, each worker's consumer lag, and what the pipeline has done."""
    import orjson
    from rich.console import Console
    from rich.table import Table

    from claimflow.db import make_engine
    from claimflow.status import gather

    settings = get_settings()
    found = gather(settings, make_engine(settings.database_url))
    if found["broker"].get("error"):
        if as_json:
            typer.echo(orjson.dumps(found, option=orjson.OPT_INDENT_2).decode())
        _die(found["broker"]["error"])
    if as_json:
        typer.echo(orjson.dumps(found, option=orjson.OPT_INDENT_2).decode())
        return
    console = Console()
    broker = found["broker"]
    state = "[green]up[/]" if broker["running"] else "[red]DOWN[/]"
    console.print(f"Kafka broker {broker['bootstrap']}: {state}")
    lag = Table(title="Consumer lag (messages not yet processed)")
    for column in ("worker", "topic", "processed", "end", "behind"):
        lag.add_column(column, justify="right" if column in ("processed", "end", "behind") else "left")
    for row in found["lag"]:
        lag.add_row(row["worker"], row["topic"], str(row["committed"]), str(row["end"]), str(row["behind"]))
    if found["lag"]:
        console.print(lag)
    if found["lag_error"]:
        console.print(f"[yellow]lag unavailable: {found['lag_error']}[/]")
    counts = Table(title="Pipeline")
    counts.add_column("what")
    counts.add_column("count", justify="right")
    for label, n in found["counts"].items():
        counts.add_row(label, str(n))
    console.print(counts)


@app.command()
def topics() -> None:
    """Wait for the configured Kafka cluster, then create the topics it is missing (with
    CLAIMFLOW_TOPIC_PREFIX). Run once before the workers; safe to run again."""
    from claimflow.broker import ensure_topics
    from claimflow.logs import configure

    settings = get_settings()
    configure(settings.log_level, settings.log_format)
    try:
        bootstrap = ensure_topics(settings)
    except TimeoutError as exc:
        _die(str(exc))
    typer.echo(f"topics are in place at {bootstrap}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database at CLAIMFLOW_DATABASE_URL to the newest migration."""
    from sqlalchemy.exc import OperationalError

    from claimflow.db import connect_problem, create_all, make_engine

    url = get_settings().database_url
    try:
        create_all(make_engine(url))
    except OperationalError as exc:
        _die(connect_problem(exc, url))
    typer.echo("database is at the newest migration")


if __name__ == "__main__":
    app()
