"""The Failed Charges report at scale: its searches timed through the real API.

Fills `charge_failures` (1-3 reasons each) with `rows` failures spread over ten companies
(practices, locations, payers, daily runs over a year, procedures, reasons, dates, amounts
and statuses in realistic, skewed shares), then asks the report's FastAPI app, in process
through Starlette's TestClient with a publisher that drops what it is given, the
questions a biller asks most, and reports p50/p95/max per question against the issue's
300 ms target, on SQLite and on PostgreSQL.

The load is not measured: tables are created, their secondary indexes dropped, rows bulk
written (claimflow.bulk on SQLite, COPY on PostgreSQL), then the indexes built again, as a
restore would. PostgreSQL is then VACUUMed and ANALYZEd, as its autovacuum does after such
a load; SQLite gets no statistics, as nothing in claimflow runs ANALYZE on it, so its
planner chooses as it does in production.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, insert

from bench.common import BENCH_HOME, BenchEnv, percentile
from claimflow.bulk import BulkInsert
from claimflow.db import create_all, make_engine, unit_of_work
from workers.formatter import tables as t
from workers.formatter.failure_rows import FAILURE_COLUMNS, REASON_COLUMNS
from workers.formatter.rules import RULES

TARGET_MS = 300.0
COMPANIES = 10
ANCHOR = dt.date(2026, 11, 30)  # the last day of the year of failures: figures repeat run to run
DAYS = 365
SEED = 20261206
#: Failures the rung writes per mode (python -m bench --quick/--medium/--full).
ROWS = {"quick": 20_000, "medium": 200_000, "full": 1_000_000}
#: Timed requests per question (each after `WARMUP` untimed ones, so that a question is not
#: charged for the first read of its index from disk).
REPEATS = {"quick": 10, "medium": 20, "full": 30}
#: The PostgreSQL buffer pool the rung runs with: the million failures' tables and indexes
#: (~700 MB) are a report database's working set, which a production server keeps in memory;
#: the test servers' 32 MB made every probe a read from the OS cache.
REPORT_SHARED_BUFFERS = "1GB"
WARMUP = 2


PAYERS = (
    ("Medicare", 30),
    ("Blue Cross Blue Shield", 14),
    ("Aetna", 10),
    ("UnitedHealthcare", 10),
    ("Cigna", 7),
    ("Humana", 6),
    ("Medicaid", 8),
    ("Tricare", 3),
    ("Workers Comp", 3),
    ("Kaiser Permanente", 3),
    ("Oscar", 1),
    ("Patient", 2),
)
PROCEDURES = (
    ("97110", 30),
    ("97140", 15),
    ("97530", 14),
    ("97112", 9),
    ("97116", 5),
    ("97161", 4),
    ("97162", 4),
    ("97163", 2),
    ("97164", 3),
    ("97535", 4),
    ("97150", 2),
    ("92507", 3),
    ("97165", 1),
    ("97166", 1),
    ("G0283", 3),
)
#: Reason codes in the shares billers see them: a few rules fail most charges.
REASON_WEIGHTS = {
    "REQUIRED_FIELD": 30,
    "MEMBER_ID_MISSING": 12,
    "AUTHORIZATION_REQUIRED": 10,
    "THERAPY_MODIFIER_MISSING": 9,
    "TIMELY_FILING_EXCEEDED": 7,
    "MEDICARE_MBI_FORMAT": 6,
    "KX_MODIFIER_REQUIRED": 5,
    "ICD10_FORMAT": 5,
    "UNITS_MINUTES_MISMATCH": 4,
    "DUPLICATE_CHARGE": 3,
    "PROCEDURE_CODE_FORMAT": 3,
}
LAST_NAMES = ("Garcia", "Smith", "Nguyen", "Johnson", "Brown", "Lee", "Patel", "Miller", "Davis", "Lopez")
FIRST_NAMES = ("Ann", "Bob", "Carla", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivan", "June", "Kai", "Lin")

#: The questions timed, each a request built from what the data holds (see `questions`).
QUESTIONS = (
    "search_default",
    "search_by_run",
    "search_amount_desc",
    "group_by_reason",
    "group_by_payer",
    "drill_down_reason",
    "drill_down_payer",
    "charge_record",
    "deep_page",
)


def _weighted(pairs: Any) -> tuple[list[Any], list[int]]:
    items = list(pairs.items()) if isinstance(pairs, dict) else list(pairs)
    return [k for k, _ in items], [w for _, w in items]


def company_id(n: int) -> str:
    return f"co-{n:02d}"


def generate(rows: int, seed: int = SEED) -> Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]:
    """(failure row, its reason rows) in FAILURE_COLUMNS/REASON_COLUMNS order, in the order
    a formatter would have written them: oldest failures first, companies interleaved."""
    rng = random.Random(seed)
    payers, payer_w = _weighted(PAYERS)
    procs, proc_w = _weighted(PROCEDURES)
    codes, code_w = _weighted(REASON_WEIGHTS)
    places: dict[str, list[tuple[str, str]]] = {}
    for c in range(COMPANIES):
        co = company_id(c)
        places[co] = [
            (f"{co}-p{p}", f"{co}-p{p}-l{loc}")
            for p in range(rng.randint(3, 6))
            for loc in range(rng.randint(2, 4))
        ]
    now = dt.datetime.combine(ANCHOR, dt.time(18), dt.UTC)
    # Earlier failures first, as they were written: one run a day, rows spread evenly.
    for i in range(rows):
        days_ago = DAYS - 1 - (i * DAYS) // rows
        oldest = ANCHOR - dt.timedelta(days=days_ago)
        co = company_id(rng.randrange(COMPANIES))
        place: tuple[str | None, str | None] = rng.choice(places[co])
        practice, location = place
        if rng.random() < 0.04:  # charges from an EHR feed without practice or location
            practice, location = (None, None) if rng.random() < 0.5 else (practice, None)
        count = rng.choices((1, 2, 3, 4), (70, 20, 7, 3))[0]
        last = min(ANCHOR, oldest + dt.timedelta(days=(count - 1) * rng.randint(1, 10)))
        # Old failures are mostly fixed by now; this month's mostly still open.
        open_share = 0.85 if days_ago < 30 else 0.5
        roll = rng.random()
        status = "open" if roll < open_share else "reprocessing" if roll < open_share + 0.05 else "resolved"
        service = oldest - dt.timedelta(days=rng.randint(0, 30)) if rng.random() > 0.01 else None
        amount = Decimal(rng.randint(2_000, 40_000)) / 100 if rng.random() > 0.01 else None
        payer = rng.choices(payers, payer_w)[0] if rng.random() > 0.03 else None
        charge_id = f"CH-{i:08d}"
        patient = rng.randrange(20_000)
        row = (
            charge_id,
            co,
            practice,
            location,
            f"{co}-pt{patient}",
            f"{LAST_NAMES[patient % 10]}, {FIRST_NAMES[patient % 12]}",
            count,
            DAYS - (ANCHOR - last).days,
            oldest,
            last,
            count,
            status,
            service,
            rng.choices(procs, proc_w)[0],
            amount,
            payer,
            now,
        )
        n_reasons = rng.choices((1, 2, 3), (60, 30, 10))[0]
        # A code may repeat on a charge (REQUIRED_FIELD for two fields), as the formatter's do.
        picked = rng.choices(codes, code_w, k=n_reasons)
        reasons = [
            (charge_id, pos, code, f"{RULES[code].title}: correct the charge", None, RULES[code].severity)
            for pos, code in enumerate(picked)
        ]
        yield row, reasons


def _chunks(rows: int, size: int = 20_000) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    failures: list[tuple[Any, ...]] = []
    reasons: list[tuple[Any, ...]] = []
    for row, rs in generate(rows):
        failures.append(row)
        reasons.extend(rs)
        if len(failures) >= size:
            yield failures, reasons
            failures, reasons = [], []
    if failures:
        yield failures, reasons


_insert_failures = BulkInsert(t.failures, FAILURE_COLUMNS)
_insert_reasons = BulkInsert(t.failure_reasons, REASON_COLUMNS)


def _copy(conn: Connection, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    raw: Any = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def load(engine: Engine, rows: int) -> dict[str, float]:
    """Create the tables and write `rows` failures; returns the seconds each step took."""
    create_all(engine)
    started = time.monotonic()
    indexes = [*t.failures.indexes, *t.failure_reasons.indexes]
    with unit_of_work(engine) as conn:
        for index in indexes:
            index.drop(conn)
    postgres = engine.dialect.name == "postgresql"
    for failures, reasons in _chunks(rows):
        with unit_of_work(engine) as conn:
            if postgres:
                _copy(conn, t.failures.name, FAILURE_COLUMNS, failures)
                _copy(conn, t.failure_reasons.name, REASON_COLUMNS, reasons)
            else:
                _insert_failures(conn, failures)
                _insert_reasons(conn, reasons)
    written = time.monotonic()
    with unit_of_work(engine) as conn:
        for index in indexes:
            index.create(conn)
    indexed = time.monotonic()
    if postgres:
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "VACUUM ANALYZE charge_failures, charge_failure_reasons"
            )
    return {
        "write_s": round(written - started, 1),
        "index_s": round(indexed - written, 1),
        "analyze_s": round(time.monotonic() - indexed, 1),
    }


def _records(engine: Engine, charge_ids: list[str]) -> None:
    """The history a charge record shows (versions and failure events) for the charges the
    bench opens; the other failures' history is never read, so it is not written."""
    now = dt.datetime.combine(ANCHOR, dt.time(18), dt.UTC)
    with unit_of_work(engine) as conn:
        conn.execute(
            insert(t.charges),
            [
                {
                    "charge_id": c,
                    "version": 1,
                    "company_id": "co-00",
                    "patient_id": "p",
                    "outcome": "failed",
                    "run_number": 1,
                    "answers": "[]",
                    "charge_json": orjson.dumps({"charge_id": c, "version": 1}).decode(),
                    "received_at": now,
                }
                for c in charge_ids
            ],
        )
        conn.execute(
            insert(t.failure_events),
            [
                {"charge_id": c, "version": 1, "run_number": 1, "failed_at": now, "reasons_json": "[]"}
                for c in charge_ids
            ],
        )


Request = tuple[str, dict[str, Any]]


def record_ids(rows: int, n: int) -> list[str]:
    """Charges spread over the table whose records the bench opens."""
    return [f"CH-{i:08d}" for i in range(0, rows, max(1, rows // n))][:n]


def questions(engine: Engine, rows: int, repeats: int) -> dict[str, list[Request]]:
    """`repeats` + WARMUP requests per question, over the companies in turn, each with a
    filter value the data holds (a run of that company, a reason and payer it has)."""
    from sqlalchemy import func, select

    f = t.failures
    rng = random.Random(SEED + 1)
    n = repeats + WARMUP
    with engine.connect() as conn:
        runs = {
            r.company_id: r.runs
            for r in conn.execute(
                select(f.c.company_id, func.max(f.c.run_number).label("runs")).group_by(f.c.company_id)
            )
        }
    records = record_ids(rows, n)
    companies = sorted(runs)
    out: dict[str, list[Request]] = {name: [] for name in QUESTIONS}
    codes = list(REASON_WEIGHTS)
    payers = [p for p, _ in PAYERS]
    for i in range(n):
        co = companies[i % len(companies)]
        base = {"company": co}
        out["search_default"].append(("/failures", base))
        out["search_by_run"].append(
            ("/failures", {**base, "run": rng.randint(max(1, runs[co] - 90), runs[co])})
        )
        out["search_amount_desc"].append(("/failures", {**base, "sort": "-amount"}))
        out["group_by_reason"].append(("/failures/groups", {**base, "by": "reason"}))
        out["group_by_payer"].append(("/failures/groups", {**base, "by": "payer"}))
        out["drill_down_reason"].append(("/failures", {**base, "reason": codes[i % len(codes)]}))
        out["drill_down_payer"].append(("/failures", {**base, "payer": payers[i % len(payers)]}))
        out["charge_record"].append((f"/failures/{records[i % len(records)]}", {}))
        out["deep_page"].append(("/failures", {**base, "offset": 5000}))
    return out


def time_questions(engine: Engine, rows: int, repeats: int) -> dict[str, dict[str, Any]]:
    """p50/p95/max (ms) per question, through the API as a biller's browser asks it."""
    from fastapi.testclient import TestClient

    from claimflow.settings import get_settings
    from workers.report import accounts
    from workers.report.api import create_app
    from workers.report.publish import Message

    async def drop(message: Message) -> None:
        return None

    asked = questions(engine, rows, repeats)
    with unit_of_work(engine) as conn:
        token = accounts.create_user(
            conn, "bench", [company_id(c) for c in range(COMPANIES)], dt.datetime.now(dt.UTC)
        )
    headers = {"Authorization": f"Bearer {token}"}
    out: dict[str, dict[str, Any]] = {}
    with TestClient(create_app(get_settings(), engine=engine, publisher=drop)) as client:
        for name, requests in asked.items():
            times: list[float] = []
            sizes: list[int] = []
            for i, (path, params) in enumerate(requests):
                started = time.perf_counter()
                answer = client.get(path, params=params, headers=headers)
                elapsed = (time.perf_counter() - started) * 1000
                if answer.status_code != 200:
                    raise RuntimeError(
                        f"{name}: {path} {params} answered {answer.status_code}: {answer.text}"
                    )
                if i >= WARMUP:
                    times.append(elapsed)
                    body = answer.json()
                    sizes.append(int(body["total"]) if "total" in body else len(body.get("groups", [1])))
            times.sort()
            p95 = percentile(times, 95)
            out[name] = {
                "requests": len(times),
                "p50_ms": round(percentile(times, 50) or 0, 1),
                "p95_ms": round(p95 or 0, 1),
                "max_ms": round(times[-1], 1),
                "rows_found_median": sorted(sizes)[len(sizes) // 2],
                "met": p95 is not None and p95 < TARGET_MS,
            }
    return out


def measure(url: str, rows: int, repeats: int) -> dict[str, Any]:
    engine = make_engine(url)
    try:
        started = time.monotonic()
        load_times = load(engine, rows)
        _records(engine, record_ids(rows, repeats + WARMUP))
        load_times["total_s"] = round(time.monotonic() - started, 1)
        with engine.connect() as conn:
            per_company = conn.exec_driver_sql(
                "SELECT count(*), sum(CASE WHEN status = 'open' THEN 1 ELSE 0 END) "
                "FROM charge_failures WHERE company_id = 'co-00'"
            ).one()
        queries = time_questions(engine, rows, repeats)
    finally:
        engine.dispose()
    worst = max(q["p95_ms"] for q in queries.values())
    return {
        "rows": rows,
        "company_rows": int(per_company[0]),
        "company_open_rows": int(per_company[1]),
        "load": load_times,
        "queries": queries,
        "worst_p95_ms": worst,
        "met": all(q["met"] for q in queries.values()),
    }


def report(
    env: BenchEnv, rows: int, repeats: int, databases: tuple[str, ...] = ("sqlite", "postgresql")
) -> dict[str, Any]:
    """The rung: each database filled with `rows` failures and asked every question."""
    out: dict[str, Any] = {
        "rows": rows,
        "companies": COMPANIES,
        "target_p95_ms": TARGET_MS,
        "repeats": repeats,
    }
    for db in databases:
        try:
            if db == "sqlite":
                out[db] = measure(env.sqlite_url("report"), rows, repeats)
            else:
                out[db] = _on_own_postgres(rows, repeats)
        except Exception as exc:  # recorded beside the other database's figures
            out[db] = {"error": f"{type(exc).__name__}: {exc}"}
        if db == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{env.run_dir / 'report.db'}{suffix}").unlink(missing_ok=True)
    return out


def _on_own_postgres(rows: int, repeats: int) -> dict[str, Any]:
    """The questions on a PostgreSQL server of the rung's own, with a production-sized buffer
    pool (the bench's shared server keeps the test servers' 32 MB for the workers' rungs)."""
    from devtools.testing.postgres import start_postgres

    server = start_postgres("report", shared_buffers=REPORT_SHARED_BUFFERS)
    try:
        figures = measure(server.url, rows, repeats)
        return {**figures, "shared_buffers": REPORT_SHARED_BUFFERS}
    finally:
        server.stop()


def standalone_env() -> BenchEnv:
    """What the rung needs when it runs alone (`--report`): a run dir, no broker."""
    run_dir = BENCH_HOME / "runs" / time.strftime("%Y%m%dT%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=True)
    return BenchEnv(bootstrap="", run_dir=run_dir)
