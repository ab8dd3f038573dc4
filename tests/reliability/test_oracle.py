"""The oracle itself, on synthetic ledgers: it must see a loss, an alien event, a reorder and duplicates."""

from __future__ import annotations

import pytest

from oracle import Ledger, Observed, check


def _ledger(n: int = 6, users: int = 2) -> tuple[Ledger, list[str]]:
    ledger = Ledger(["a", "b"], run="r")
    events = [ledger.event(f"u{i % users}") for i in range(n)]
    ledger.answered(events, 200)
    return ledger, [e["messageId"] for e in events]


def test_clean_run_passes_and_counts():
    ledger, ids = _ledger()
    report = check(ledger, Observed(delivered={"a": ids, "b": ids}), ordered=["a", "b"])
    assert report.problems == [] and (report.sent, report.acked, report.delivered) == (6, 6, 12)
    report.assert_ok()


def test_loss_at_one_destination_is_detected():
    ledger, ids = _ledger()
    report = check(ledger, Observed(delivered={"a": ids, "b": ids[:-1]}))
    assert report.lost == [("b", ids[-1])]
    with pytest.raises(AssertionError, match="I1"):
        report.assert_ok()


def test_dead_lettered_rejected_and_untargeted_events_are_resolved():
    ledger = Ledger(["a", "b"], run="r")
    events = [ledger.event("u1"), ledger.event("u1"), ledger.event("u1", targets=["a"])]
    ledger.answered(events, 200)
    ids = [e["messageId"] for e in events]
    observed = Observed(delivered={"a": ids[1:], "b": []}, dead={"b": [ids[1]]}, rejected=[ids[0]])
    report = check(ledger, observed)
    assert report.problems == [] and report.dead_lettered == 1


def test_unacknowledged_event_may_be_missing_or_present():
    ledger = Ledger(["a"], run="r")
    lost_503, delivered_503 = ledger.event("u"), ledger.event("u")
    ledger.answered([lost_503, delivered_503], 503)
    assert check(ledger, Observed(delivered={"a": [delivered_503["messageId"]]})).problems == []


def test_alien_event_is_detected():
    ledger, ids = _ledger()
    report = check(ledger, Observed(delivered={"a": ids, "b": ids}, dead={"a": ["r-999"]}))
    assert report.aliens == ["r-999"]
    assert "I2" in report.problems[0]


def test_reorder_is_detected_but_a_replayed_suffix_is_not():
    ledger, ids = _ledger(n=4, users=1)
    replay = ids[:3] + ids[1:]
    assert check(ledger, Observed(delivered={"a": replay, "b": ids}), ordered=["a"]).problems == []
    swapped = [ids[0], ids[2], ids[1], ids[3]]
    report = check(ledger, Observed(delivered={"a": swapped, "b": ids}), ordered=["a"])
    assert report.reordered == [("a", f"{ids[1]} after {ids[2]}")]


def test_order_is_per_user():
    ledger, ids = _ledger(n=4, users=2)  # u0: ids 0, 2; u1: ids 1, 3
    interleaved = [ids[1], ids[3], ids[0], ids[2]]
    assert check(ledger, Observed(delivered={"a": interleaved, "b": ids}), ordered=["a"]).problems == []


def test_duplicates_are_counted_and_bounded():
    ledger, ids = _ledger()
    report = check(ledger, Observed(delivered={"a": ids + ids[:2], "b": ids}))
    assert report.duplicates == 2 and report.problems == []
    report.assert_ok(max_duplicates=2)
    with pytest.raises(AssertionError, match="I3"):
        report.assert_ok(max_duplicates=1)


def test_a_later_200_wins_over_an_earlier_503():
    ledger = Ledger(["a"], run="r")
    event = ledger.event("u")
    ledger.answered([event], 503)
    ledger.answered([event], 200)
    ledger.answered([event], 503)
    assert ledger.acked == [event["messageId"]]
    assert check(ledger, Observed()).lost == [("a", event["messageId"])]
