"""Small helpers of instrument._core that every recorded call goes through."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from openai import NOT_GIVEN

from tokentrail.instrument import _core


class Headers(Mapping):
    def __init__(self, d):
        self.d = d

    def __getitem__(self, k):
        return self.d[k]

    def __iter__(self):
        return iter(self.d)

    def __len__(self):
        return len(self.d)


def test_mapping_or_empty_keeps_mappings_and_learns_what_is_not_one():
    d = {"a": 1}
    assert _core.mapping_or_empty(d) is d
    proxy = MappingProxyType(d)
    for _ in range(2):                      # the second time, from what it learned
        assert _core.mapping_or_empty(None) == {}
        assert _core.mapping_or_empty(NOT_GIVEN) == {}
        assert _core.mapping_or_empty(3) == {}
        assert _core.mapping_or_empty(proxy) is proxy
        h = Headers({"X-Stainless-Helper-Method": "stream"})
        assert _core.mapping_or_empty(h) is h
    assert type(NOT_GIVEN) in _core._NOT_MAPPINGS and Headers not in _core._NOT_MAPPINGS


def test_lower_headers_keeps_only_text_values():
    class Opts:
        headers = Headers({"X-Stainless-Helper-Method": "stream", "X-Omitted": NOT_GIVEN, "X-Number": 3})
    assert _core.lower_headers(Opts()) == {"x-stainless-helper-method": "stream"}
    Opts.headers = NOT_GIVEN
    assert _core.lower_headers(Opts()) == {}
