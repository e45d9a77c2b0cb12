"""The shipped Grafana dashboard imports as is and queries only what the gateway exports."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from aegis.observability import dashboard, series_names

# PromQL functions, aggregations and keywords the dashboard may use.
PROMQL_WORDS = frozenset({
    "sum", "min", "max", "avg", "count", "topk", "bottomk", "quantile", "rate", "irate",
    "increase", "delta", "histogram_quantile", "clamp_min", "clamp_max", "abs", "vector",
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "bool", "offset", "label_values",
})
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_SELECTOR = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)\s*\{([^}]*)\}")
_MATCHER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)")
_GROUPING = re.compile(r"\b(by|without|on|ignoring)\s*\(([^)]*)\)")
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_LABEL_VALUES = re.compile(r"^\s*label_values\((.+),\s*(\w+)\s*\)\s*$")  # Grafana variables

REQUIRED_PANELS = {
    "Requests by provider": "aegis_requests_total",
    "Cost per provider (USD / hour)": "aegis_cost_usd_total",
    "Budget utilisation": "aegis_budget_utilisation",
    "Request latency p50 / p95 per provider": "aegis_request_duration_seconds_bucket",
    "Gateway overhead (total minus upstream)": "aegis_gateway_overhead_seconds_bucket",
    "Upstream error rate by provider": "aegis_requests_total",
    "Fallbacks and retries": "aegis_fallbacks_total",
    "Circuit breakers": "aegis_circuit_state",
    "Policy refusals by rule": "aegis_privacy_refusals_total",
}


def parse(expr: str) -> tuple[set[str], dict[str, set[str]], set[str]]:
    """Metric names, labels matched per metric, and labels grouped by, of one PromQL query."""
    if (variable := _LABEL_VALUES.match(expr)) is not None:
        names, matched, grouped = parse(variable.group(1))
        return names, matched, grouped | {variable.group(2)}
    text = _STRING.sub('""', expr)
    text = re.sub(r"\$\{?\w+\}?", "x", text)  # Grafana variables ($__rate_interval, ...)
    matched: dict[str, set[str]] = {}
    for metric, body in _SELECTOR.findall(text):
        matched.setdefault(metric, set()).update(_MATCHER.findall(body))
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    grouped = {label.strip() for _, labels in _GROUPING.findall(text)
               for label in labels.split(",") if label.strip()}
    text = _GROUPING.sub(" ", text)
    names = {w for w in _IDENT.findall(text) if w not in PROMQL_WORDS}
    return names, matched, grouped


def panels(data: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in data["panels"]:
        yield panel
        yield from panel.get("panels", ())


def queries(data: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for panel in panels(data):
        for target in panel.get("targets", ()):
            yield panel["title"], target["expr"]
    for variable in data["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if variable["type"] == "query" and isinstance(query, str):
            yield f"${variable['name']}", query


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    return dashboard()


def test_imports_as_is(data: dict[str, Any]) -> None:
    assert 36 <= data["schemaVersion"] <= 41
    (ds_input,) = data["__inputs"]
    assert (ds_input["name"], ds_input["type"], ds_input["pluginId"]) == (
        "DS_PROMETHEUS", "datasource", "prometheus")
    assert data["uid"] and data["title"] and data.get("id") is None
    for panel in panels(data):
        if panel["type"] == "row":
            continue
        sources = [panel["datasource"], *(t["datasource"] for t in panel["targets"])]
        assert all(s == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"} for s in sources), (
            panel["title"])
    # file provisioning skips __inputs: a datasource variable of the same name stands in
    names = {v["name"]: v["type"] for v in data["templating"]["list"]}
    assert names["DS_PROMETHEUS"] == "datasource"


def test_every_query_uses_exported_metrics_and_labels(data: dict[str, Any]) -> None:
    exported = series_names()
    seen = 0
    for title, expr in queries(data):
        names, matched, grouped = parse(expr)
        assert names, f"{title}: no metric in {expr!r}"
        assert names <= exported.keys(), f"{title}: unknown {names - exported.keys()} in {expr!r}"
        for metric, labels in matched.items():
            assert labels <= set(exported[metric]), f"{title}: {metric} has no {labels}"
        available = set().union(*(exported[n] for n in names))
        assert grouped <= available, f"{title}: cannot group by {grouped - available}"
        seen += 1
    assert seen >= 25


def test_required_panels_are_there(data: dict[str, Any]) -> None:
    by_title = {p["title"]: p for p in panels(data)}
    for title, metric in REQUIRED_PANELS.items():
        exprs = " ".join(t["expr"] for t in by_title[title]["targets"])
        assert metric in exprs, title
    assert by_title["Budget utilisation"]["type"] == "gauge"
    assert by_title["Requests by provider"]["type"] in ("piechart", "barchart")
    assert "histogram_quantile(0.95" in " ".join(
        t["expr"] for t in by_title["Request latency p50 / p95 per provider"]["targets"])


def test_panels_do_not_overlap(data: dict[str, Any]) -> None:
    taken: set[tuple[int, int]] = set()
    for panel in panels(data):
        g = panel["gridPos"]
        assert g["x"] + g["w"] <= 24, panel["title"]
        cells = {(x, y) for x in range(g["x"], g["x"] + g["w"])
                 for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & taken, panel["title"]
        taken |= cells


def test_the_parser_catches_mistakes() -> None:
    names, matched, grouped = parse(
        'histogram_quantile(0.95, sum by (le, provider) '
        '(rate(aegis_request_duration_seconds_bucket{endpoint="chat", provider=~"$provider"}'
        "[$__rate_interval])))")
    assert names == {"aegis_request_duration_seconds_bucket"}
    assert matched == {"aegis_request_duration_seconds_bucket": {"endpoint", "provider"}}
    assert grouped == {"le", "provider"}
    assert parse("sum(rate(aegis_request_total[5m]))")[0] == {"aegis_request_total"}
    assert parse("summ(aegis_requests_total)")[0] == {"summ", "aegis_requests_total"}
    assert parse("label_values(aegis_requests_total, provider)") == (
        {"aegis_requests_total"}, {}, {"provider"})
