"""Destination filters: config validation, Segment's action order, sampling, fail-closed."""

from __future__ import annotations

import copy

import pytest
from pydantic import ValidationError

from eventyard.transforms.filters import (
    FILTER_REASONS,
    MAX_FILTERS_PER_DESTINATION,
    DestinationFilter,
    FilterChain,
    FilterResult,
)

EVENT = {
    "type": "track",
    "event": "Order Completed",
    "userId": "u-1",
    "context": {"ip": "1.2.3.4", "library": {"name": "analytics.js"}},
    "properties": {"email": "a@b.com", "total": 30, "flag": "yes", "items": [{"sku": 1, "name": "x"}]},
}


def chain(*filters: dict) -> FilterChain:
    return FilterChain.from_config(list(filters))


def test_no_matching_filter_keeps_the_event_unchanged():
    result = chain({"if": "event = 'Other'", "actions": [{"type": "drop"}]}).apply(EVENT)
    assert result == FilterResult(EVENT, None)
    assert result.kept


def test_drop():
    result = chain({"if": "event = 'Order Completed'", "actions": [{"type": "drop"}]}).apply(EVENT)
    assert result == FilterResult(None, "filter_drop")
    assert not result.kept


def test_all_matches_everything_and_types_are_case_insensitive():
    result = chain({"if": "all", "actions": [{"type": "DROP"}]}).apply({})
    assert result.reason == "filter_drop"


def test_drop_and_allow_properties_copy_instead_of_mutating():
    before = copy.deepcopy(EVENT)
    result = chain(
        {"if": "all", "actions": [{"type": "drop_properties", "fields": {"properties": ["email"], "context": ["ip"]}}]},
        {"if": "type = 'track'", "actions": [{"type": "allow_properties", "fields": {"properties": ["email", "items"], "properties.items": ["sku"]}}]},
    ).apply(EVENT)
    assert result.event["properties"] == {"items": [{"sku": 1}]}
    assert result.event["context"] == {"library": {"name": "analytics.js"}}
    assert EVENT == before


def test_order_is_sample_then_drop():
    result = chain(
        {"if": "all", "actions": [{"type": "drop"}]},
        {"if": "all", "actions": [{"type": "sample", "percent": 0}]},
    ).apply(EVENT)
    assert result.reason == "sampled_out"


def test_order_is_drop_before_property_edits():
    result = chain(
        {"if": "all", "actions": [{"type": "drop_properties", "fields": {"properties": ["email"]}}]},
        {"if": "all", "actions": [{"type": "drop"}]},
    ).apply(EVENT)
    assert result == FilterResult(None, "filter_drop")


def test_conditions_are_evaluated_on_the_incoming_event():
    # the second filter still sees properties.email although the first one drops it
    result = chain(
        {"if": "all", "actions": [{"type": "drop_properties", "fields": {"properties": ["email"]}}]},
        {"if": "contains(properties.email, '@')", "actions": [{"type": "drop_properties", "fields": {"properties": ["total"]}}]},
    ).apply(EVENT)
    assert "email" not in result.event["properties"] and "total" not in result.event["properties"]


def test_disabled_filters_are_skipped():
    result = chain({"if": "all", "enabled": False, "actions": [{"type": "drop"}]}).apply(EVENT)
    assert result.kept


def test_ten_filters_allowed_eleven_rejected():
    one = {"if": "all", "actions": [{"type": "sample", "percent": 1}]}
    assert len(FilterChain.from_config([one] * MAX_FILTERS_PER_DESTINATION).filters) == 10
    with pytest.raises(ValidationError, match="at most 10"):
        FilterChain.from_config([one] * (MAX_FILTERS_PER_DESTINATION + 1))


@pytest.mark.parametrize(("config", "field"), [
    ({"if": "event = ", "actions": [{"type": "drop"}]}, "if"),
    ({"if": "all", "actions": []}, "actions"),
    ({"if": "all", "actions": [{"type": "sample", "percent": 1.5}]}, "percent"),
    ({"if": "all", "actions": [{"type": "explode"}]}, "actions"),
    ({"if": "all", "actions": [{"type": "drop"}], "unknown": 1}, "unknown"),
    ({"actions": [{"type": "drop"}]}, "if"),
])
def test_config_errors_name_the_field(config, field):
    with pytest.raises(ValidationError) as info:
        DestinationFilter.model_validate(config)
    assert any(field in map(str, error["loc"]) for error in info.value.errors())


def test_invalid_fql_error_names_the_position():
    with pytest.raises(ValidationError, match="position 8"):
        DestinationFilter.model_validate({"if": "event = ", "actions": [{"type": "drop"}]})


def test_evaluation_error_fails_closed():
    result = chain(
        {"if": "all", "actions": [{"type": "sample", "percent": 1}]},
        {"title": "bad", "if": "properties.flag and type = 'track'", "actions": [{"type": "drop_properties", "fields": {"properties": ["email"]}}]},
    ).apply(EVENT)
    assert result.event is None
    assert result.reason == "filter_error"
    assert "bad" in result.detail and "'and'" in result.detail


def test_reasons_are_a_fixed_label_set():
    assert set(FILTER_REASONS) == {"filter_drop", "sampled_out", "filter_error"}


def test_sampling_by_path_is_deterministic_and_proportional():
    sampled = chain({"if": "all", "actions": [{"type": "sample", "percent": 0.3, "path": "userId"}]})
    decisions = [sampled.apply({"userId": f"user-{i}"}).kept for i in range(10_000)]
    assert abs(sum(decisions) / 10_000 - 0.3) <= 0.02
    again = [sampled.apply({"userId": f"user-{i}", "other": i}).kept for i in range(10_000)]
    assert again == decisions


def test_sampling_without_path_is_random_but_proportional():
    sampled = chain({"if": "all", "actions": [{"type": "sample", "percent": 0.5}]})
    kept = sum(sampled.apply(EVENT).kept for _ in range(10_000))
    assert 4_500 < kept < 5_500


def test_property_edits_that_remove_nothing_pass_the_event_on_as_it_is():
    result = chain({"if": "all", "actions": [
        {"type": "drop_properties", "fields": {"properties": ["absent"], "no.such.path": ["x"]}},
        {"type": "allow_properties", "fields": {"context": ["ip", "library"]}},
    ]}).apply(EVENT)
    assert result.event is EVENT
