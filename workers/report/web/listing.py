"""The Failed Charges page's state, which lives in its URL: the query string read with the
API's own request models (`SearchQuery`, `GroupQuery`), and the links that change one part
of it (sort, group, drill into a group, page). Pure: no request, no database."""

from __future__ import annotations

import re
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from pydantic import ValidationError

from workers.report import queries as q
from workers.report.models import GroupQuery, SearchQuery

#: The page's own parameters, beside the search's.
PAGE_KEYS = ("by", "watch")
#: Page sizes offered; any size the API takes works in the URL.
PAGE_SIZES = (25, 50, 100, 200)

#: What a biller calls each parameter, for messages that name the field.
LABELS: dict[str, str] = {
    "company": "Company",
    "practice": "Practice",
    "location": "Location",
    "run": "Run Number",
    "reason": "Reason",
    "payer": "Payer",
    "procedure": "Procedure",
    "failed_from": "Failed from",
    "failed_to": "Failed to",
    "date_field": "Failure date",
    "status": "Status",
    "service_from": "Service from",
    "service_to": "Service to",
    "amount_min": "Amount from",
    "amount_max": "Amount to",
    "missing": "Missing",
    "sort": "Sort",
    "limit": "Rows per page",
    "offset": "Page",
    "by": "Group by",
}

#: The results' columns: (sort key, heading, numeric). None: not sortable.
COLUMNS: tuple[tuple[str | None, str, bool], ...] = (
    ("charge_id", "Charge Record ID", False),
    (None, "Failure reasons", False),
    ("oldest_failure_date", "Oldest failure", False),
    ("failure_count", "Failures", True),
    ("service_date", "Service date", False),
    ("patient_name", "Patient", False),
    ("payer_name", "Payer", False),
    ("procedure_code", "Procedure", False),
    ("amount", "Amount", True),
    ("run_number", "Run", True),
)


def _is_list(name: str) -> bool:
    return typing.get_origin(SearchQuery.model_fields[name].annotation) is list


def search_fields() -> tuple[str, ...]:
    """Every parameter the search takes, as the API names them."""
    return tuple(SearchQuery.model_fields)


def form_values(params: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """The search's parameters from a query string: blanks dropped (an empty drop-down means
    All), unknown keys ignored, list parameters kept as lists."""
    known = set(search_fields())
    values: dict[str, Any] = {}
    for key, raw in params:
        value = raw.strip()
        if key not in known or not value:
            continue
        if _is_list(key):
            values.setdefault(key, []).append(value)
        else:
            values[key] = value
    return values


def in_words(exc: ValidationError) -> str:
    """A validation error as the page says it: the field's label and the problem, never the
    value typed (it may be patient data)."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False)[:5]:
        names = [str(p) for p in error["loc"] if not isinstance(p, int)]
        label = LABELS.get(names[0], names[0]) if names else ""
        message = str(error["msg"]).removeprefix("Value error, ")
        if not label:  # a rule over several fields names them as the API does: say the labels
            for name in sorted(LABELS, key=len, reverse=True):
                message = re.sub(rf"\b{name}\b", LABELS[name], message)
        parts.append(f"{label}: {message}" if label else message)
    return "; ".join(parts) + "."


@dataclass(frozen=True)
class State:
    """The page's state as read from its URL. `query` is None when the URL is invalid
    (then `problem` says why in words and the page shows the defaults)."""

    values: dict[str, Any]
    query: SearchQuery | None
    by: q.GroupBy | None = None
    watch: str | None = None
    problem: str | None = None
    raw: tuple[tuple[str, str], ...] = field(default=())

    def url(self, **changes: Any) -> str:
        """This page with some parameters changed (None removes one); `watch` never carries
        over, a new search is not watching the old request."""
        params: dict[str, Any] = {k: v for k, v in self.values.items()}
        if self.by and "by" not in changes:
            params["by"] = self.by
        for key, value in changes.items():
            if value is None or value == [] or value == "":
                params.pop(key, None)
            else:
                params[key] = value
        return "/failed-charges" + (f"?{urlencode(params, doseq=True)}" if params else "")

    @property
    def sort(self) -> tuple[tuple[str, bool], ...]:
        try:
            return q.parse_sort(self.values.get("sort"))
        except q.SearchError:
            return q.DEFAULT_SORT

    def sort_link(self, column: str) -> tuple[str, str | None]:
        """(the link that sorts by `column`, this column's aria-sort now). A first click sorts
        ascending, the next reverses it."""
        first, descending = self.sort[0]
        if first != column:
            return self.url(sort=column, offset=None), None
        return (
            self.url(sort=column if descending else f"-{column}", offset=None),
            "descending" if descending else "ascending",
        )

    def group_link(self, by: str | None) -> str:
        return self.url(by=by, offset=None, sort=None if by else self.values.get("sort"))

    def drill_link(self, drill: Mapping[str, Any]) -> str:
        """The rows of one group: the search it was grouped from plus the group's filters."""
        return self.url(by=None, offset=None, **dict(drill))

    def page_link(self, offset: int) -> str:
        return self.url(offset=offset or None)


def drill_of(by: str, group: Mapping[str, Any]) -> dict[str, Any] | None:
    """The filters that find one group's rows: the group's own when the query layer gives
    them, else the group key as the filter of the same name; None when there is none (the
    group of charges without a practice, where `missing` is not a filter)."""
    drill = group.get("drill")
    if drill:
        return dict(drill)
    if group.get("key") is None:
        return None
    return {by: group["key"]}


def read(query_string: str) -> State:
    """The page's state from its query string."""
    raw = tuple(parse_qsl(query_string, keep_blank_values=True))
    values = form_values(raw)
    page = {k: v.strip() for k, v in raw if k in PAGE_KEYS and v.strip()}
    by = page.get("by")
    watch = page.get("watch")
    try:
        query = SearchQuery.model_validate(values)
        q.parse_sort(query.sort)
        grouped = None
        if by is not None:
            filters = {k: v for k, v in values.items() if k not in ("sort", "limit", "offset")}
            grouped = GroupQuery.model_validate({**filters, "by": by}).by
    except ValidationError as exc:
        return State(values, None, None, watch, in_words(exc), raw)
    except q.SearchError as exc:
        return State(values, None, None, watch, f"Sort: {exc}.", raw)
    return State(values, query, grouped, watch, None, raw)


def carried(query_string: str) -> str:
    """A search's query string as a form carries it back (to return to it after an action):
    only the search's and the grouping's parameters, re-encoded."""
    keep = set(search_fields()) | {"by"}
    return urlencode([(k, v) for k, v in parse_qsl(query_string) if k in keep and v.strip()])
