"""A bill's sent lines stay in step with the charges sent on it, as runs change the history."""

from __future__ import annotations

from workers.formatter.history import History, HistoryChanges, SentLine, applied, history_of


def _bills(history: History) -> dict[str, tuple[bool, dict[str, int]]]:
    view = history.bills
    return {b: (view[b].rejected, dict(view[b].sent_versions)) for b in view}


def _record_sent(history: History, charge_id: str, version: int, bill_id: str) -> History:
    return applied(history, HistoryChanges(sent={charge_id: SentLine(bill_id, version)}))


def test_index_built_from_constructor_and_updated_by_record_sent() -> None:
    history = history_of({}, {}, {"CH-1": SentLine("B-1", 1), "CH-2": SentLine("B-1", 2)}, {"B-9": True})
    assert _bills(history) == {"B-1": (False, {"CH-1": 1, "CH-2": 2}), "B-9": (True, {})}
    history = _record_sent(history, "CH-1", 2, "B-2")  # a correction sent on another bill moves the line
    assert _bills(history) == {
        "B-1": (False, {"CH-2": 2}),
        "B-2": (False, {"CH-1": 2}),
        "B-9": (True, {}),
    }
    history = _record_sent(history, "CH-2", 3, "B-2")
    assert "B-1" not in history.bills
    assert _bills(history)["B-2"] == (False, {"CH-1": 2, "CH-2": 3})


def test_unknown_bill_is_a_key_error() -> None:
    view = History().bills
    assert "B-1" not in view
    assert view.get("B-1") is None
    assert len(view) == 0


def test_index_matches_a_scan() -> None:
    sent = {f"CH-{i}": SentLine(f"B-{i % 7}", i % 3 + 1) for i in range(200)}
    history = history_of({}, {}, sent, {})
    changes = HistoryChanges(sent={f"CH-{i}": SentLine(f"B-{i % 11}", 9) for i in range(0, 200, 5)})
    history = applied(history, changes)
    sent.update(changes.sent)
    for bill in {s.bill_id for s in sent.values()}:
        scan = {cid: s.version for cid, s in sent.items() if s.bill_id == bill}
        assert dict(history.bills[bill].sent_versions) == scan
