"""field(): one reader for SDK models, dicts and other objects, without pydantic's slow misses."""

from __future__ import annotations

from collections import UserDict
from typing import Optional

import pydantic
import pytest
from conftest import ANTHROPIC_OMIT, requires
from openai.types import CompletionUsage

from tokentrail._fields import field
from tokentrail._usage import normalize_usage


class Details(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="allow")
    cached_tokens: Optional[int] = None

    @property
    def doubled(self) -> int:
        return (self.cached_tokens or 0) * 2

    @property
    def broken(self) -> int:
        raise RuntimeError("boom")


@pytest.fixture
def misses(monkeypatch):
    """Count trips through pydantic's __getattr__ (the slow path a miss used to take)."""
    seen: list[str] = []
    orig = pydantic.BaseModel.__getattr__

    def spy(self, item):
        seen.append(item)
        return orig(self, item)

    monkeypatch.setattr(pydantic.BaseModel, "__getattr__", spy)
    return seen


def test_pydantic_fields_extras_properties_and_misses(misses):
    d = Details.model_validate({"cached_tokens": 7, "ttl_12h_tokens": 3})
    assert field(d, "cached_tokens") == 7
    assert field(d, "ttl_12h_tokens") == 3          # an extra the model does not declare
    assert field(d, "doubled") == 14                 # a property still works
    assert field(d, "broken", "dflt") == "dflt"      # a raising property is a missing field
    assert field(d, "nope") is None
    assert field(d, "nope", 0) == 0
    assert misses == []


def test_dicts_mappings_none_and_plain_objects():
    assert field({"a": 1}, "a") == 1
    assert field({"a": 1}, "b", 5) == 5
    assert field(UserDict(a=2), "a") == 2
    assert field(None, "a", 9) == 9

    class Dynamic:                                   # a non-pydantic __getattr__ is still asked
        def __getattr__(self, item):
            if item == "magic":
                return 42
            raise AttributeError(item)

    assert field(Dynamic(), "magic") == 42
    assert field(Dynamic(), "other") is None


def test_sdk_usage_is_normalized_without_a_single_pydantic_miss(misses):
    usage = CompletionUsage.model_validate({
        "prompt_tokens": 2048, "completion_tokens": 64, "total_tokens": 2112,
        "prompt_tokens_details": {"cached_tokens": 1792, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 16, "accepted_prediction_tokens": 0}})
    u = normalize_usage(usage, "openai")
    assert (u["prompt_tokens"], u["completion_tokens"], u["total_tokens"]) == (2048, 64, 2112)
    assert (u["cached_tokens"], u["reasoning_tokens"], u["cache_write_tokens"]) == (1792, 16, 0)
    assert misses == []


def test_pick_params_keeps_only_given_sampling_parameters():
    import types
    from collections import UserDict

    import openai

    from tokentrail._content import pick_params

    fmt = {"type": "json_schema", "schema": {"type": "object"}}
    omit = ANTHROPIC_OMIT
    body = {"model": "m", "messages": [], "temperature": 0.0, "top_p": None, "max_tokens": 64,
            "thinking": omit, "seed": openai.NOT_GIVEN, "stream": False, "response_format": fmt,
            "api_key": "sk-secret", "extra_headers": {"Authorization": "Bearer x"}, "stop": ["END"]}
    got = pick_params(body)
    assert got == {"max_tokens": 64, "response_format": fmt, "stop": ["END"], "stream": False,
                   "temperature": 0.0}
    assert list(got) == ["temperature", "max_tokens", "stream", "response_format", "stop"]   # the request's order
    fmt["schema"]["type"] = "array"                        # the caller's dict changes after the call...
    assert got["response_format"]["schema"] == {"type": "object"}   # ...the recorded copy does not
    assert pick_params(UserDict({"n": 2, "model": "m"})) == {"n": 2}
    assert pick_params({"model": "m"}) == {} and pick_params({}) == {}
    # A value of a type never seen before is learned (and copied as JSON).
    odd = types.SimpleNamespace(x=1)
    assert pick_params({"tool_choice": odd})["tool_choice"] == str(odd)


def test_data_fields_reads_a_model_with_properties_as_one_dict(misses):
    from tokentrail._fields import data_fields

    d = Details(cached_tokens=5, region="eu")        # a property that raises is never evaluated
    got = data_fields(d)
    assert type(got) is dict and got == {"cached_tokens": 5, "region": "eu"} and "broken" not in got
    assert misses == []
    raw = {"id": "resp_1", "object": "response", "created_at": 0, "model": "gpt-5.5", "output": [],
           "parallel_tool_calls": True, "tool_choice": "auto", "tools": [], "status": "completed"}
    assert data_fields(raw) is raw and data_fields(None).get("model") is None
    assert data_fields(UserDict(model="m")).get("model") == "m"         # not a model: fields_of as before


@requires("openai", "responses")
def test_data_fields_reads_a_responses_api_response():
    from openai.types.responses import Response          # it has a property (output_text)

    from tokentrail._fields import data_fields

    raw = {"id": "resp_1", "object": "response", "created_at": 0, "model": "gpt-5.5", "output": [],
           "parallel_tool_calls": True, "tool_choice": "auto", "tools": [], "status": "completed"}
    resp = Response.model_validate(raw)
    assert data_fields(resp)["model"] == "gpt-5.5" and data_fields(resp)["status"] == "completed"
