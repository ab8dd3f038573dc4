"""scan_event: the pipeline's one pass over names agrees with normalize and the naming lint."""

import copy

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from eventyard.transforms.protocols import NormalizationError, lint_event, normalize
from eventyard.transforms.protocols.key_scan import scan_event
from eventyard.transforms.protocols.normalize import check_names

RECEIVED = "2024-01-01T00:00:00.000Z"
keys = st.text(max_size=4) | st.sampled_from(["x" * 256, "order_id", "Bad Key", "camelCase", "firstName"])
values = st.recursive(st.none() | st.integers() | st.text(max_size=3),
                      lambda children: st.lists(children, max_size=3)
                      | st.dictionaries(keys, children, max_size=4), max_leaves=10)
events = st.fixed_dictionaries({
    "type": st.sampled_from(["track", "identify", "page"]),
    "event": st.sampled_from(["Order Completed", "purchase_made", "Bench Event 00"]) | values,
    "properties": values, "traits": values})


def normalize_outcome(event: dict, too_long: bool) -> tuple:
    """What the pipeline does with the scan's answer: the same result or error as ``normalize``."""
    try:
        if too_long:
            check_names(event)
        return "ok", normalize(event, RECEIVED, check_keys=False)
    except NormalizationError as exc:
        return "error", exc.reason, exc.field


@hsettings(max_examples=500, deadline=None)
@given(event=events, case=st.sampled_from(["snake", "camel", "kebab", "any"]))
def test_scan_agrees_with_normalize_and_lint(event, case):
    before = copy.deepcopy(event)
    too_long, findings = scan_event(event, case)
    assert event == before
    try:
        expected = ("ok", normalize(event, RECEIVED))
    except NormalizationError as exc:
        expected = ("error", exc.reason, exc.field)
    assert normalize_outcome(event, too_long) == expected
    if expected[0] == "ok":
        assert findings == len(lint_event(event, case))
    assert scan_event(event, None)[1] == 0


@pytest.mark.parametrize("properties", [
    {"a": {"b": [{"k" * 256: 1}]}},
    [{"ok": 1}, {"k" * 300: {"x": 1}}],
])
def test_long_keys_are_found_at_any_depth(properties):
    event = {"type": "track", "event": "Order Completed", "properties": properties}
    assert scan_event(event, None) == (True, 0)
    with pytest.raises(NormalizationError, match="property name too long"):
        check_names(event)


def test_same_keys_with_nested_values_are_not_taken_from_the_cache():
    flat = {"type": "track", "event": "Order Completed", "properties": {"a": 1, "b": 2}}
    nested = {**flat, "properties": {"a": {"Bad Key": 1}, "b": 2}}
    assert scan_event(flat, "snake") == (False, 0)
    assert scan_event(nested, "snake") == (False, 1)
