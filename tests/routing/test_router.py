"""Router decisions on a known catalog: strategies, constraints, rules, precedence, refusals."""

from __future__ import annotations

from typing import Any

import pytest

from aegis import errors
from aegis.config import from_dict
from aegis.engine import Call, Engine
from aegis.privacy.classes import DataClass
from aegis.records import Caller
from aegis.routing import Decision, Task
from aegis.validation import chat_request

PNG = "data:image/png;base64,iVBORw0KGgo="
LAT = {"ttft_ms": 500, "tokens_per_s": 50}


def model(name: str, provider: str, quality: float, inp: float, out: float, *,
          ctx: int = 128_000, caps: tuple[str, ...] = ("tools", "json"), ttft: int = 500,
          tps: float = 50, kind: str = "chat") -> dict[str, Any]:
    return {"name": name, "provider": provider, "quality": quality, "input_per_mtok": inp,
            "output_per_mtok": out, "context_window": ctx, "max_output": 4096,
            "capabilities": list(caps), "latency": {"ttft_ms": ttft, "tokens_per_s": tps},
            "kind": kind}


def config(**extra: Any) -> dict[str, Any]:
    return {
        "storage": {"url": "sqlite:///:memory:"},
        "providers": {
            "lan": {"kind": "ollama", "base_url": "http://127.0.0.1:9", "locality": "local"},
            "cheapco": {"kind": "openai", "base_url": "http://127.0.0.1:9/v1"},
            "premiumco": {"kind": "anthropic", "base_url": "http://127.0.0.1:9"},
        },
        "models": [
            model("local-small", "lan", 0.3, 0, 0, ctx=8192, ttft=200, tps=30),
            model("cheap-mini", "cheapco", 0.6, 0.1, 0.4, caps=("tools", "vision", "json"),
                  ttft=300, tps=150),
            model("fast-flash", "cheapco", 0.5, 0.3, 1.2, ctx=1_000_000, ttft=80, tps=400),
            model("premium-pro", "premiumco", 0.95, 5.0, 25.0, ctx=200_000,
                  caps=("tools", "vision"), ttft=900, tps=60),
            model("code-coder", "cheapco", 0.7, 0.5, 2.0, ttft=400, tps=100),
            model("embed-local", "lan", 0.5, 0, 0, kind="embedding", caps=("embeddings",)),
            model("embed-cloud", "cheapco", 0.7, 0.02, 0, kind="embedding",
                  caps=("embeddings",)),
        ],
        **extra,
    }


def engine(**extra: Any) -> Engine:
    return Engine(from_dict(config(**extra), env={}))


def decide(eng: Engine, content: Any = "hello", *, model: str = "auto",
           caller: Caller | None = None, **task: Any) -> Decision:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": content}]}
    for key in ("tools", "response_format", "max_tokens"):
        if key in task:
            body[key] = task.pop(key)
    if "data_class" in task:
        task["data_class"] = DataClass.parse(task["data_class"])
    call = Call(task=Task(**task), caller=caller or Caller())
    return eng.route(eng.prepare(chat_request(body)), call)


def order(decision: Decision) -> list[str]:
    return [c.model.name for c in decision.candidates]


@pytest.fixture(scope="module")
def eng() -> Engine:
    return engine()


# -- strategies -----------------------------------------------------------------------


def test_cost_picks_the_cheapest(eng: Engine):
    d = decide(eng, strategy="cost")
    assert order(d)[:3] == ["local-small", "cheap-mini", "fast-flash"]
    assert d.route == "strategy:cost"


def test_quality_picks_the_best(eng: Engine):
    assert order(decide(eng, strategy="quality"))[:2] == ["premium-pro", "code-coder"]


def test_latency_picks_the_fastest_from_priors(eng: Engine):
    assert order(decide(eng, strategy="latency"))[0] == "fast-flash"


def test_latency_follows_live_measurements():
    eng = engine()
    for _ in range(20):  # fast-flash turns out slow in practice
        eng.latency.observe("cheapco", "fast-flash", ttft_ms=5000, latency_ms=9000,
                            output_tokens=100)
    assert order(decide(eng, strategy="latency"))[0] != "fast-flash"


def test_local_first_puts_local_models_first(eng: Engine):
    d = decide(eng, strategy="local_first")
    assert order(d)[0] == "local-small"
    assert len(d.candidates) == 5  # the rest are the fallback chain


def test_balanced_trades_quality_for_cost_unless_quality_is_critical(eng: Engine):
    cheap = order(decide(eng, strategy="balanced", quality="low"))
    critical = order(decide(eng, strategy="balanced", quality="critical"))
    assert cheap.index("premium-pro") > cheap.index("cheap-mini")
    assert critical[0] == "premium-pro"


def test_quality_floor_demotes_weak_models_for_hard_tasks(eng: Engine):
    d = decide(eng, strategy="local_first", complexity="very_high")
    # only premium-pro and code-coder reach the 0.7 floor; they come first despite local_first
    assert set(order(d)[:2]) == {"premium-pro", "code-coder"}
    assert order(d)[2] == "local-small"  # first among those below the floor


# -- hard constraints -----------------------------------------------------------------


def test_images_need_vision(eng: Engine):
    d = decide(eng, [{"type": "text", "text": "what is it"},
                     {"type": "image_url", "image_url": {"url": PNG}}], strategy="cost")
    assert set(order(d)) == {"cheap-mini", "premium-pro"}
    rules = {e["candidate"]: e["rule"] for e in d.record["excluded"]}
    assert rules["lan/local-small"] == "capability:vision"


def test_json_mode_needs_json(eng: Engine):
    d = decide(eng, strategy="quality", response_format={"type": "json_object"})
    assert "premium-pro" not in order(d)


def test_context_window_excludes_small_models(eng: Engine):
    d = decide(eng, "word " * 30_000, strategy="cost")
    assert "local-small" not in order(d)
    assert any(e["rule"] == "context_window" for e in d.record["excluded"])


def test_what_moves_between_requests_is_checked_on_every_request():
    """The static part of the constraints is kept per pool; health and size are not."""
    eng = engine()
    assert not decide(eng, "hi", strategy="cost").record["excluded"]
    for _ in range(10):
        eng.resilience.breaker.on_failure(("cheapco", "cheap-mini"), "unavailable")
    d = decide(eng, "hi", strategy="cost")
    assert "cheap-mini" not in order(d)
    assert [(e["candidate"], e["rule"]) for e in d.record["excluded"]] == [
        ("cheapco/cheap-mini", "unavailable")]
    d = decide(eng, "word " * 30_000, strategy="cost")
    assert [(e["candidate"], e["rule"]) for e in d.record["excluded"]] == [
        ("lan/local-small", "context_window"), ("cheapco/cheap-mini", "unavailable")]
    eng.resilience.breaker.reset()
    assert "cheap-mini" in order(decide(eng, "hi", strategy="cost"))
    assert "local-small" in order(decide(eng, "hi", strategy="cost"))


def test_no_model_with_the_capability_is_a_400(eng: Engine):
    with pytest.raises(errors.InvalidRequest) as info:
        decide(eng, [{"type": "image_url", "image_url": {"url": PNG}}], model="local-small")
    assert info.value.status == 400 and info.value.code == "capability_unavailable"


def test_sensitive_data_only_goes_local(eng: Engine):
    d = decide(eng, "my email is jane.doe@acme-mail.com", strategy="quality")
    assert order(d) == ["local-small"]
    assert d.profile is not None and d.profile.data_class == DataClass.PII
    assert {e["rule"] for e in d.record["excluded"]} == {"privacy"}
    assert d.reason.startswith("data_class=pii")


def test_declared_class_is_never_lowered(eng: Engine):
    d = decide(eng, "nothing sensitive here", data_class="confidential", strategy="cost")
    assert order(d) == ["local-small"]


def test_pinned_cloud_model_with_pii_is_refused_403(eng: Engine):
    with pytest.raises(errors.PolicyRefusal) as info:
        decide(eng, "SSN 123-45-6789 for the file", model="premium-pro")
    assert info.value.status == 403 and info.value.rule == "privacy"
    assert "data_class=pii may only be served by local providers" in info.value.message
    assert info.value.decision is not None


def test_trusted_provider_may_serve_up_to_its_class():
    eng = engine()
    cfg = config()
    cfg["providers"]["cheapco"]["trusted_for"] = ["pii"]
    eng = Engine(from_dict(cfg, env={}))
    assert "cheap-mini" in order(decide(eng, "mail me: a.b@acme-mail.org", strategy="cost"))
    d = decide(eng, "note", data_class="phi", strategy="cost")
    assert order(d) == ["local-small"]


def test_airgap_allows_only_local_providers():
    eng = engine(routing={"airgap": True})
    assert order(decide(eng, strategy="quality")) == ["local-small"]
    with pytest.raises(errors.PolicyRefusal) as info:
        decide(eng, model="premium-pro")
    assert info.value.rule == "airgap"


def test_airgap_from_the_environment():
    eng = Engine(from_dict(config(), env={"AEGIS_AIRGAP": "1"}))
    assert order(decide(eng, strategy="quality")) == ["local-small"]


def test_key_allow_list_is_a_hard_constraint(eng: Engine):
    caller = Caller(key_id="k1", models=frozenset({"cheap-mini"}))
    assert order(decide(eng, strategy="quality", caller=caller)) == ["cheap-mini"]
    with pytest.raises(errors.PolicyRefusal) as info:
        decide(eng, model="premium-pro", caller=caller)
    assert info.value.rule == "allow_list:key"
    assert info.value.message == "premium-pro is not in the key's allowed models"


# -- routes, rules and precedence ------------------------------------------------------


def test_named_route(eng: Engine):
    d = decide(eng, model="smart")
    assert d.route == "route:smart" and order(d)[0] == "premium-pro"
    assert all(c.model.quality >= 0.7 for c in d.candidates)


def test_code_route_uses_code_models(eng: Engine):
    assert order(decide(eng, model="code")) == ["code-coder"]


def test_long_context_route(eng: Engine):
    assert set(order(decide(eng, model="long_context"))) == {"fast-flash", "premium-pro"}


def test_local_only_route_with_pii_and_cloud_route_refused(eng: Engine):
    assert order(decide(eng, "call me at +1 415 555 0132", model="local_only")) == [
        "local-small"]
    with pytest.raises(errors.PolicyRefusal):
        decide(eng, "call me at +1 415 555 0132", model="smart")


def test_default_rules_send_plain_chat_local_first(eng: Engine):
    d = decide(eng, "hi there")
    assert d.route == "rule:default-local" and order(d)[0] == "local-small"


def test_critical_and_complex_goes_premium(eng: Engine):
    d = decide(eng, "design the system", quality="critical", complexity="high")
    assert d.route == "rule:critical-premium" and order(d) == ["premium-pro"]


def test_rule_with_no_eligible_model_falls_through(eng: Engine):
    # the batch tier lists DashScope models that this config does not serve
    d = decide(eng, "process these", batch_size=50)
    assert d.route == "rule:default-local"
    assert d.record["rules_tried"][0] == {"rule": "batch-tier", "route": "batch", "eligible": 0}


def test_critical_pii_stays_local_even_though_the_premium_rule_matches(eng: Engine):
    d = decide(eng, "patient jane@acme-mail.com", quality="critical", complexity="high")
    assert order(d) == ["local-small"]


def test_user_rules_in_order():
    eng = engine(
        rules=[{"name": "code", "when": {"task_type": "code"}, "route": "code"},
               {"name": "big", "when": {"batch_size": ">5"}, "route": "cheap"},
               {"name": "rest", "route": "smart"}],
        routes={"cheap": {"strategy": "cost", "locality": "cloud"}})
    assert decide(eng, "def f(x):\n    return x").route == "rule:code"
    d = decide(eng, "hello", batch_size=9)
    assert d.route == "rule:big" and order(d)[0] == "cheap-mini"
    assert decide(eng, "hello").route == "rule:rest"


def test_explicit_strategy_skips_the_rules(eng: Engine):
    d = decide(eng, "hi", strategy="quality", quality="critical", complexity="high")
    assert d.route == "strategy:quality" and d.record["rules_tried"] == []


def test_embeddings_go_local_by_rule(eng: Engine):
    from aegis.types import EmbeddingRequest

    del EmbeddingRequest
    probe = chat_request({"model": "auto", "messages": [{"role": "user", "content": "x"}]})
    d = eng.route(probe, Call(task=Task()), kind="embedding")
    assert d.route == "rule:embeddings-local" and order(d) == ["embed-local"]


def test_unknown_model_or_route_is_404(eng: Engine):
    with pytest.raises(errors.ModelNotFound):
        decide(eng, model="nonexistent")


def test_decision_record_explains_everything(eng: Engine):
    d = decide(eng, "email: xavier@acme-mail.com", strategy="quality")
    rec = d.record
    assert rec["inferred"]["data_class"] == "pii"
    assert rec["profile"]["findings"] == ["email"]
    assert rec["chosen"] == "lan/local-small"
    assert len(rec["excluded"]) == 4 and len(rec["ranked"]) == 1
    assert "xavier" not in str(rec)  # never the matched text


def test_bad_routing_config_names_the_path():
    with pytest.raises(errors.ConfigError) as info:
        engine(rules=[{"when": {"quality": "superb"}, "route": "smart"},
                      {"route": "nowhere"}])
    text = str(info.value)
    assert "rules[0].when.quality" in text and "rules[1].route: unknown route" in text
