"""The Failed Charges page's URL state (workers/report/web/listing.py): read with the API's
request models, bad input said in words, and the links that change one part of it."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from workers.report.web import listing


def params(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_blank_fields_mean_all_and_unknown_keys_are_ignored() -> None:
    state = listing.read("company=acme&practice=&location=&run=3&csrf_token=x&watch=rr-1")
    assert state.problem is None and state.query is not None
    assert state.query.company == "acme" and state.query.practice is None and state.query.run == 3
    assert state.watch == "rr-1"
    assert "csrf_token" not in state.values


def test_bad_input_is_a_sentence_naming_the_field() -> None:
    state = listing.read("run=abc")
    assert state.query is None
    assert state.problem is not None and state.problem.startswith("Run Number:")
    assert "abc" not in state.problem  # never the value typed
    reversed_dates = listing.read("failed_from=2026-02-01&failed_to=2026-01-01")
    assert reversed_dates.problem == "Failed from is after Failed to."
    assert listing.read("sort=bogus").problem is not None
    assert listing.read("by=colour").problem is not None and "Group by" in str(
        listing.read("by=colour").problem
    )


def test_sort_links_toggle_and_say_their_direction() -> None:
    state = listing.read("run=3&offset=50")
    link, current = state.sort_link("amount")
    assert current is None and params(link) == {"run": ["3"], "sort": ["amount"]}  # back to page 1
    ascending = listing.read("sort=amount")
    link, current = ascending.sort_link("amount")
    assert current == "ascending" and params(link)["sort"] == ["-amount"]
    link, current = listing.read("sort=-amount").sort_link("amount")
    assert current == "descending" and params(link)["sort"] == ["amount"]
    assert listing.read("").sort_link("oldest_failure_date")[1] == "ascending"


def test_group_and_drill_links_keep_the_filters() -> None:
    state = listing.read("run=3&by=reason&watch=rr-9")
    assert state.by == "reason"
    drill = state.drill_link({"reason": "REQUIRED_FIELD"})
    assert params(drill) == {"run": ["3"], "reason": ["REQUIRED_FIELD"]}  # no by, no watch
    assert params(state.group_link(None)) == {"run": ["3"]}
    assert params(state.group_link("payer")) == {"run": ["3"], "by": ["payer"]}
    assert listing.drill_of("practice", {"key": None}) is None
    assert listing.drill_of("practice", {"key": "north"}) == {"practice": "north"}
    assert listing.drill_of("practice", {"key": None, "drill": {"missing": ["practice"]}}) == {
        "missing": ["practice"]
    }


def test_paging_and_what_a_form_carries_back() -> None:
    state = listing.read("limit=5&run=2")
    assert params(state.page_link(5)) == {"limit": ["5"], "run": ["2"], "offset": ["5"]}
    assert "offset" not in params(state.page_link(0))
    assert listing.carried("run=2&watch=rr-1&csrf_token=t&by=run&practice=") == "run=2&by=run"
