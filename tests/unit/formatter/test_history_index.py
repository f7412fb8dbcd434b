"""The formatter's per-bill index of sent lines stays in step with `History.sent`."""

from __future__ import annotations

from workers.formatter.history import History, SentLine, rule_history


def _bills(history: History) -> dict[str, tuple[bool, dict[str, int]]]:
    view = rule_history(history).bills
    return {b: (view[b].rejected, dict(view[b].sent_versions)) for b in view}


def test_index_built_from_constructor_and_updated_by_record_sent() -> None:
    history = History(
        sent={"CH-1": SentLine("B-1", 1), "CH-2": SentLine("B-1", 2)}, bill_rejected={"B-9": True}
    )
    assert _bills(history) == {"B-1": (False, {"CH-1": 1, "CH-2": 2}), "B-9": (True, {})}
    history.record_sent("CH-1", 2, "B-2")  # a correction sent on another bill moves the line
    assert _bills(history) == {
        "B-1": (False, {"CH-2": 2}),
        "B-2": (False, {"CH-1": 2}),
        "B-9": (True, {}),
    }
    history.record_sent("CH-2", 3, "B-2")
    assert "B-1" not in rule_history(history).bills
    assert _bills(history)["B-2"] == (False, {"CH-1": 2, "CH-2": 3})


def test_unknown_bill_is_a_key_error() -> None:
    view = rule_history(History()).bills
    assert "B-1" not in view
    assert view.get("B-1") is None
    assert len(view) == 0


def test_index_matches_a_scan() -> None:
    history = History()
    for i in range(200):
        history.set_sent(f"CH-{i}", SentLine(f"B-{i % 7}", i % 3 + 1))
    for i in range(0, 200, 5):
        history.record_sent(f"CH-{i}", 9, f"B-{i % 11}")
    for bill in {s.bill_id for s in history.sent.values()}:
        scan = {cid: s.version for cid, s in history.sent.items() if s.bill_id == bill}
        assert dict(rule_history(history).bills[bill].sent_versions) == scan
