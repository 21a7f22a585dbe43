"""Property tests: cost arithmetic and model-id resolution hold for any input."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import tokentrail
from tokentrail._pricing import Rates, candidate_ids, compute_cost
from tokentrail._usage import CORE_KEYS, EXTRA_KEYS, normalize_usage

SETTINGS = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

rate = st.decimals(min_value=0, max_value=1000, places=4, allow_nan=False, allow_infinity=False)
opt_rate = st.one_of(st.none(), rate)
rates = st.builds(Rates, input=rate, output=rate, cached_input=opt_rate, cache_write=opt_rate, cache_write_1h=opt_rate)

junk = st.one_of(st.none(), st.integers(min_value=-10**12, max_value=10**12), st.floats(allow_nan=True),
                 st.text(max_size=8), st.booleans(), st.lists(st.integers(), max_size=2))
USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens", "cache_write_tokens",
              "cache_write_1h_tokens", "reasoning_tokens", "input_tokens", "output_tokens",
              "cache_read_input_tokens", "cache_creation_input_tokens")
junk_usage = st.one_of(
    st.dictionaries(st.sampled_from(USAGE_KEYS), junk),
    st.dictionaries(st.sampled_from(USAGE_KEYS + ("prompt_tokens_details", "completion_tokens_details",
                                                  "input_tokens_details", "output_tokens_details",
                                                  "cache_creation")),
                    st.one_of(junk, st.dictionaries(st.sampled_from(("cached_tokens", "reasoning_tokens",
                                                                     "cache_write_tokens", "ephemeral_5m_input_tokens",
                                                                     "ephemeral_1h_input_tokens")), junk))),
    junk,
)


@st.composite
def valid_usage(draw, limit: int = 10**7) -> dict:
    """A consistent usage block: cache reads/writes within the prompt, 1h writes within writes."""
    prompt = draw(st.integers(0, limit))
    cached = draw(st.integers(0, prompt))
    write = draw(st.integers(0, prompt - cached))
    return {"prompt_tokens": prompt, "cached_tokens": cached, "cache_write_tokens": write,
            "cache_write_1h_tokens": draw(st.integers(0, write)), "completion_tokens": draw(st.integers(0, limit))}


@SETTINGS
@given(rates, junk_usage, st.sampled_from([None, "openai", "anthropic"]))
def test_cost_is_never_negative_whatever_the_usage(r, raw, provider):
    usage = normalize_usage(raw, provider)
    for k in CORE_KEYS:
        assert isinstance(usage[k], int) and usage[k] >= 0
    # The usage block is written as it is: extras only when non-zero, nothing else.
    extras = set(usage) - set(CORE_KEYS) - {"estimated"}
    assert extras <= set(EXTRA_KEYS) and all(isinstance(usage[k], int) and usage[k] > 0 for k in extras)
    assert usage.get("estimated", True) is True
    assert usage["total_tokens"] >= usage["prompt_tokens"] + usage["completion_tokens"]
    c = compute_cost(r, usage)
    parts = (c.input, c.cached_input, c.cache_write, c.output)
    assert all(p >= 0 for p in parts) and c.total >= 0
    assert c.total == sum(parts)                     # the total is the sum of its kinds, exactly


anthropic_field = st.one_of(st.none(), st.integers(min_value=-5, max_value=10**9), st.text(max_size=4))
anthropic_usage = st.fixed_dictionaries({"input_tokens": st.one_of(st.integers(-5, 10**9), st.text(max_size=4))},
                                         optional={"output_tokens": anthropic_field, "cache_read_input_tokens": anthropic_field,
    "cache_creation_input_tokens": anthropic_field, "total_tokens": anthropic_field, "estimated": st.booleans(),
    "cache_creation": st.fixed_dictionaries({}, optional={"ephemeral_5m_input_tokens": anthropic_field,
                                                          "ephemeral_1h_input_tokens": anthropic_field}),
    "output_tokens_details": st.fixed_dictionaries({}, optional={"thinking_tokens": anthropic_field})})


def _anthropic_reference(raw: dict) -> dict:
    """The Anthropic mapping written the long way: add cache reads and writes back onto
    input_tokens, then clamp every subset to its whole."""
    from tokentrail._usage import count
    cc, otd = raw.get("cache_creation") or {}, raw.get("output_tokens_details") or {}
    w5, w1 = count(cc.get("ephemeral_5m_input_tokens")), count(cc.get("ephemeral_1h_input_tokens"))
    read = count(raw.get("cache_read_input_tokens"))
    write = count(raw.get("cache_creation_input_tokens")) or (w5 + w1)
    prompt = count(raw.get("input_tokens")) + read + write
    completion = count(raw.get("output_tokens"))
    u = {"prompt_tokens": prompt, "completion_tokens": completion,
         "total_tokens": max(count(raw.get("total_tokens")), prompt + completion),
         "cached_tokens": min(read, prompt), "cache_write_tokens": min(write, prompt - min(read, prompt)),
         "reasoning_tokens": min(count(otd.get("thinking_tokens")), completion)}
    if w1:
        u["cache_write_1h_tokens"] = min(w1, u["cache_write_tokens"])
    if raw.get("estimated"):
        u["estimated"] = True
    return u


@SETTINGS
@given(anthropic_usage)
def test_anthropic_usage_matches_the_reference_mapping(raw):
    assert normalize_usage(raw, "anthropic") == _anthropic_reference(raw)


@SETTINGS
@given(rates, junk_usage)
def test_cost_of_raw_dicts_is_never_negative(r, raw):
    # compute_cost also clamps what it is given directly (no normalize_usage in front).
    c = compute_cost(r, raw if isinstance(raw, dict) else {})
    assert c.total >= 0 and all(p >= 0 for p in (c.input, c.cached_input, c.cache_write, c.output))


@SETTINGS
@given(rates, valid_usage(), valid_usage())
def test_cost_is_additive_over_calls(r, a, b):
    both = {k: a[k] + b[k] for k in a}
    assert compute_cost(r, both).total == compute_cost(r, a).total + compute_cost(r, b).total


@SETTINGS
@given(rates, valid_usage())
def test_cost_is_additive_over_token_kinds(r, u):
    kinds = [
        {"prompt_tokens": u["prompt_tokens"] - u["cached_tokens"] - u["cache_write_tokens"]},
        {"prompt_tokens": u["cached_tokens"], "cached_tokens": u["cached_tokens"]},
        {"prompt_tokens": u["cache_write_tokens"] - u["cache_write_1h_tokens"],
         "cache_write_tokens": u["cache_write_tokens"] - u["cache_write_1h_tokens"]},
        {"prompt_tokens": u["cache_write_1h_tokens"], "cache_write_tokens": u["cache_write_1h_tokens"],
         "cache_write_1h_tokens": u["cache_write_1h_tokens"]},
        {"completion_tokens": u["completion_tokens"]},
    ]
    whole = compute_cost(r, u)
    assert whole.total == sum(compute_cost(r, k).total for k in kinds)
    r_in, r_cached, r_write, r_write_1h, r_out = r.per_kind()
    m = Decimal(1_000_000)
    assert whole.output == u["completion_tokens"] * r_out / m
    assert whole.cached_input == u["cached_tokens"] * r_cached / m


wide_rate = st.decimals(min_value=0, max_value=10**6, places=9, allow_nan=False, allow_infinity=False)


@SETTINGS
@given(st.builds(Rates, input=wide_rate, output=wide_rate, cached_input=st.one_of(st.none(), wide_rate),
                 cache_write=st.one_of(st.none(), wide_rate), cache_write_1h=st.one_of(st.none(), wide_rate)),
       valid_usage(limit=10**10))
def test_integer_cost_equals_the_decimal_formula(r, u):
    # Costs are computed in integers over a power of ten; they must be exactly the
    # Decimal formula, and the event's floats the floats nearest those exact amounts.
    r_in, r_cached, r_write, r_write_1h, r_out = r.per_kind()
    m = Decimal(1_000_000)
    p, c, w, w1, o = (u["prompt_tokens"], u["cached_tokens"], u["cache_write_tokens"], u["cache_write_1h_tokens"],
                      u["completion_tokens"])
    want = {"input": (p - c - w) * r_in / m, "cached_input": c * r_cached / m,
            "cache_write": ((w - w1) * r_write + w1 * r_write_1h) / m, "output": o * r_out / m}
    got = compute_cost(r, u)
    assert {k: getattr(got, k) for k in want} == want
    assert got.total == sum(want.values())
    assert got.total_usd == float(sum(want.values()))
    assert got.details() == {k: float(v) for k, v in want.items()}


@SETTINGS
@given(rates, valid_usage(), st.integers(1, 50))
def test_cost_scales_with_tokens(r, u, k):
    scaled = {key: v * k for key, v in u.items()}
    assert compute_cost(r, scaled).total == k * compute_cost(r, u).total


model_text = st.one_of(
    st.text(max_size=80),
    st.from_regex(r"(openai/|azure/|bedrock/|vertex_ai/|ft:|us\.anthropic\.)?[a-z0-9.\-]{0,30}"
                  r"(-\d{4}-\d{2}-\d{2}|-\d{8}|-v\d:\d|@\d{8}|-latest)?(:[a-z0-9:]{0,20})?", fullmatch=True),
)


@SETTINGS
@given(model_text)
def test_resolution_never_raises_and_pricing_never_goes_negative(model):
    table = tokentrail.price_table()
    entry, how = table.resolve(model)
    assert isinstance(how, str)
    list(candidate_ids(model))
    c = table.cost(model, normalize_usage({"prompt_tokens": 1000, "completion_tokens": 100}))
    assert c.total >= 0 and (c.known == (entry is not None))


_ENTRIES = tokentrail.price_table().entries()


@SETTINGS
@given(st.sampled_from(_ENTRIES), st.sampled_from(["-2025-01-31", "-20250131", "@20250131"]),
       st.sampled_from(["", "openai/", "azure/", "anthropic/"]))
def test_snapshots_and_prefixes_resolve_to_their_entry(entry, suffix, prefix):
    table = tokentrail.price_table()
    model = prefix + entry.key + suffix
    # Only when the longer id is not a table entry of its own (those win, by design).
    assume(all(table.resolve(c)[0] in (None, entry) for c, _ in list(candidate_ids(model))[:-1]))
    got, _ = table.resolve(model)
    assert got is entry or got is not None and got.key == entry.key
