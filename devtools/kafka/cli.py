"""`claimflow kafka start|stop|status`: the project's own broker from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from devtools.kafka import BrokerError, broker_status, ensure_broker, stop_broker
from devtools.kafka.maven import ResolveError

app = typer.Typer(help="Run the local Apache Kafka broker (KRaft, 127.0.0.1).", no_args_is_help=True)
console = Console()

PortOpt = Annotated[
    int | None, typer.Option("--port", "-p", help="Broker port (default: from bootstrap_servers).")
]
DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Run directory (default: <home>/kafka/run-<port>).")
]


@app.command()
def start(
    port: PortOpt = None,
    data_dir: DataDirOpt = None,
    prefix: Annotated[str | None, typer.Option(help="Topic prefix (default: settings.topic_prefix).")] = None,
) -> None:
    """Start the broker if it is not running (first run downloads the jars) and create topics."""
    try:
        with console.status("Starting Kafka (first run resolves the jars from Maven Central)..."):
            bootstrap = ensure_broker(port, data_dir=data_dir, prefix=prefix)
    except (BrokerError, ResolveError, TimeoutError) as exc:
        console.print(f"[bold red]Kafka did not start:[/] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"[green]Kafka is up[/] at [bold]{bootstrap}[/]")


@app.command()
def stop(port: PortOpt = None, data_dir: DataDirOpt = None) -> None:
    """Stop the broker this project started (SIGTERM, then SIGKILL after 30 s)."""
    if stop_broker(port, data_dir=data_dir):
        console.print("[green]Kafka stopped.[/]")
    else:
        console.print("[yellow]No broker of ours was running.[/]")


@app.command()
def status(port: PortOpt = None, data_dir: DataDirOpt = None) -> None:
    """Show whether the broker runs, where, and which topics it has."""
    st = broker_status(port, data_dir=data_dir)
    table = Table(show_header=False, box=None)
    table.add_row("running", "[green]yes[/]" if st.running else "[red]no[/]")
    table.add_row("bootstrap", st.bootstrap)
    table.add_row("managed by", "someone else (external)" if st.external else "claimflow")
    if st.pid is not None:
        table.add_row("pid", str(st.pid))
    if st.run_dir is not None:
        table.add_row("run dir", str(st.run_dir))
    if st.kafka_version:
        table.add_row("kafka", st.kafka_version)
    table.add_row("topics", "\n".join(t for t in st.topics if not t.startswith("__")) or "-")
    console.print(table)
    if not st.running:
        raise typer.Exit(1)
