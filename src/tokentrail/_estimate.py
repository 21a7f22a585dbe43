"""Token estimates for text whose usage the provider did not report.

With ``tiktoken`` installed *and* its encoding file already in tiktoken's local cache,
the estimate is an exact count for OpenAI encodings; otherwise it is
``ceil(characters / 4)`` (OpenAI's rule of thumb for English text). tiktoken is never
allowed to download: the cache file is checked first. Estimated usage is marked
``usage.estimated: true`` on the event.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from functools import lru_cache
from typing import Any

_URL = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"


def _cache_dir() -> str:
    return (os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR")
            or os.path.join(tempfile.gettempdir(), "data-gym-cache"))


@lru_cache(maxsize=16)
def _encoder(model: str) -> Any:
    try:
        import tiktoken
        from tiktoken.model import encoding_name_for_model
    except Exception:
        return None
    try:
        name = encoding_name_for_model(model)
    except Exception:
        name = "o200k_base"
    key = hashlib.sha1(_URL.format(name).encode()).hexdigest()
    if not os.path.exists(os.path.join(_cache_dir(), key)):
        return None   # would need a download; stay offline
    try:
        return tiktoken.get_encoding(name)
    except Exception:
        return None


def estimate_tokens(text: str | None, model: str | None = None) -> int:
    """Tokens in ``text``: tiktoken when available offline, else ceil(chars / 4)."""
    if not text:
        return 0
    enc = _encoder(model or "gpt-4o")
    if enc is not None:
        try:
            return len(enc.encode(text, disallowed_special=()))
        except Exception:
            pass
    return math.ceil(len(text) / 4)


def estimate_usage(prompt: str | None, completion: str | None, model: str | None = None) -> dict:
    p, c = estimate_tokens(prompt, model), estimate_tokens(completion, model)
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c, "estimated": True}
