"""Task metadata from HTTP bodies, headers and keyword arguments."""

from __future__ import annotations

import pytest

from aegis.errors import InvalidRequest
from aegis.privacy.classes import DataClass
from aegis.routing.metadata import task_from_http, task_from_kwargs


def test_body_object_and_headers_combine():
    task = task_from_http({"quality": "high", "tags": ["a", "b"], "batch_size": 12},
                          {"x-aegis-complexity": "very_high", "x-aegis-workspace": "rnd"})
    assert (task.quality, task.complexity, task.workspace) == ("high", "very_high", "rnd")
    assert task.tags == ("a", "b") and task.batch_size == 12


def test_body_wins_but_data_class_is_never_lowered():
    task = task_from_http({"quality": "low", "data_class": "public"},
                          {"x-aegis-quality": "high", "x-aegis-data-class": "PHI"})
    assert task.quality == "low"
    assert task.data_class == DataClass.PHI


@pytest.mark.parametrize(("body", "headers", "where", "allowed"), [
    ({"quality": "superb"}, {}, "aegis.quality", "low, medium, high, critical"),
    ({}, {"x-aegis-data-class": "secret"}, "header x-aegis-data-class",
     "public, internal, confidential, pii, phi"),
    ({"strategy": "cheapest"}, {}, "aegis.strategy", "balanced, cost"),
    ({"colour": "red"}, {}, "aegis.colour", "task_type"),
])
def test_unknown_values_name_the_field_and_allowed_values(body, headers, where, allowed):
    with pytest.raises(InvalidRequest) as info:
        task_from_http(body, headers)
    assert info.value.message.startswith(where)
    assert allowed in info.value.message


def test_batch_size_must_be_positive():
    with pytest.raises(InvalidRequest):
        task_from_http({"batch_size": 0}, {})
    with pytest.raises(InvalidRequest):
        task_from_http({"batch_size": "many"}, {})


def test_kwargs_are_validated_the_same_way():
    assert task_from_kwargs(data_class="pii", quality=None).data_class == DataClass.PII
    with pytest.raises(InvalidRequest):
        task_from_kwargs(complexity="enormous")
