"""Traces: group the calls of one logical request under one ``traceId``.

A trace lives in a :mod:`contextvars` variable, so it follows ``await`` and the asyncio
tasks started inside it; threads need a copied context (:func:`propagate`,
:class:`ContextThreadPoolExecutor`). Inside a trace, calls repeating the same model and
prompt are numbered (``retry_attempt``), a call that changes model after a failure is a
fallback, and budgets (``budget_usd``, ``max_calls``) are enforced.
"""

from __future__ import annotations


import contextvars
import functools
import inspect
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from ._ids import new_id
from typing import Any, Callable

logger = logging.getLogger("tokentrail")

_current: contextvars.ContextVar["trace | None"] = contextvars.ContextVar("tokentrail_trace", default=None)


class BudgetExceeded(RuntimeError):
    """Raised before a call reaches the provider when a budget with ``on_exceed="raise"`` is spent."""

    def __init__(self, message: str, *, trace_id: str | None = None, limit: str = "", spent: float = 0.0,
                 calls: int = 0):
        super().__init__(message)
        self.trace_id = trace_id
        self.limit = limit
        self.spent = spent
        self.calls = calls


class _Totals:
    __slots__ = ("cost", "calls", "tokens", "errors")

    def __init__(self) -> None:
        self.cost = 0.0
        self.calls = 0
        self.tokens = 0
        self.errors = 0


class _RetryState:
    """Shared by a root trace and every trace nested in it."""

    __slots__ = ("lock", "seen", "last_model", "last_failed", "last_error")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: dict[tuple, int] = {}
        self.last_model: str | None = None
        self.last_failed = False
        self.last_error: str | None = None


class trace:
    """Group every call inside under one ``traceId``; usable as ``with``, ``async with`` or a decorator.

    Example::

        with tokentrail.trace("answer-question", metadata={"user": "u1"}, budget_usd=0.50) as t:
            client.chat.completions.create(...)
        print(t.trace_id, t.cost, t.calls, t.tokens, t.errors)

    Nested traces keep the outer ``traceId`` and record the inner one as ``parentId``.
    ``on_exceed="raise"`` makes the next call after the budget is spent raise
    :class:`BudgetExceeded` before it reaches the provider; the default logs a warning
    and marks the events (``metadata.budget_exceeded``).
    """

    def __init__(self, name: str | None = None, *, trace_id: str | None = None, metadata: dict | None = None,
                 budget_usd: float | None = None, max_calls: int | None = None, on_exceed: str = "warn"):
        if on_exceed not in ("warn", "raise"):
            raise ValueError(f"on_exceed must be 'warn' or 'raise', not {on_exceed!r}")
        if metadata is not None and not isinstance(metadata, dict):
            raise TypeError("trace metadata must be a dict")
        self.name = name
        self._given_id = trace_id
        self._own_metadata = dict(metadata or {})
        self.budget_usd = budget_usd
        self.max_calls = max_calls
        self.on_exceed = on_exceed
        self.trace_id: str = trace_id or ""
        self.span_id: str = new_id()
        self.parent: trace | None = None
        self.metadata: dict = dict(self._own_metadata)
        self._totals = _Totals()
        self._retry: _RetryState | None = None
        self._tokens: list[contextvars.Token] = []
        self._warned_budget = False
        self._lock = threading.Lock()

    # -- live totals ---------------------------------------------------------------
    @property
    def cost(self) -> float:
        """USD spent by the calls of this trace (nested traces included) so far."""
        return self._totals.cost

    @property
    def calls(self) -> int:
        return self._totals.calls

    @property
    def tokens(self) -> int:
        return self._totals.tokens

    @property
    def errors(self) -> int:
        return self._totals.errors

    @property
    def parent_id(self) -> str | None:
        """The enclosing trace's span id, for a nested trace."""
        return self.parent.span_id if self.parent is not None else None

    # -- context management ------------------------------------------------------
    def __enter__(self) -> "trace":
        parent = _current.get()
        if parent is not None:
            self.parent = parent
            self.trace_id = self._given_id or parent.trace_id
            self.metadata = {**parent.metadata, **self._own_metadata}
            self._retry = parent._retry if self.trace_id == parent.trace_id else _RetryState()
        else:
            self.trace_id = self._given_id or new_id()
            self._retry = _RetryState()
        self._tokens.append(_current.set(self))
        return self

    def __exit__(self, *exc: Any) -> None:
        tok = self._tokens.pop()
        try:
            _current.reset(tok)
        except ValueError:
            # Exited in another context (e.g. a generator finalised elsewhere): just drop it.
            if _current.get() is self:
                _current.set(self.parent)

    async def __aenter__(self) -> "trace":
        return self.__enter__()

    async def __aexit__(self, *exc: Any) -> None:
        self.__exit__(*exc)

    def _fresh(self) -> "trace":
        return trace(self.name, trace_id=self._given_id, metadata=self._own_metadata,
                     budget_usd=self.budget_usd, max_calls=self.max_calls, on_exceed=self.on_exceed)

    def __call__(self, fn: Callable) -> Callable:
        """Use as a decorator: each call of ``fn`` runs in its own new trace."""
        if self.name is None:
            self.name = getattr(fn, "__qualname__", None)
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def awrapper(*args: Any, **kwargs: Any) -> Any:
                async with self._fresh():
                    return await fn(*args, **kwargs)
            return awrapper

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._fresh():
                return fn(*args, **kwargs)
        return wrapper

    def __repr__(self) -> str:
        return (f"<trace {self.name!r} id={self.trace_id} calls={self.calls} cost=${self.cost:.6f} "
                f"errors={self.errors}>")

    # -- bookkeeping used by the recorder ------------------------------------------
    def _chain(self) -> list["trace"]:
        out, t = [], self
        while t is not None:
            out.append(t)
            t = t.parent
        return out


def current_trace() -> trace | None:
    """The innermost open trace in this context, or None."""
    return _current.get()


# ------------------------------------------------------------------ process-wide totals

_global_totals = _Totals()
_global_lock = threading.Lock()
_global_warned = False


def global_totals() -> _Totals:
    return _global_totals


def check_budgets(tr: trace | None, settings: Any) -> list[str]:
    """Before a call: raise BudgetExceeded, or return the limits already crossed (for marking)."""
    crossed: list[str] = []
    for t in (tr._chain() if tr is not None else ()):
        why = _over(t._totals, t.budget_usd, t.max_calls)
        if why:
            crossed.append(f"trace {t.name or t.trace_id}: {why}")
            if t.on_exceed == "raise":
                raise BudgetExceeded(f"tokentrail: budget exceeded for trace {t.name or t.trace_id!r}: {why}; "
                                     "the call was not sent", trace_id=t.trace_id, limit=why,
                                     spent=t._totals.cost, calls=t._totals.calls)
            if not t._warned_budget:
                t._warned_budget = True
                logger.warning("tokentrail: trace %r crossed its budget (%s); calls go on (on_exceed='warn')",
                               t.name or t.trace_id, why)
    why = _over(_global_totals, settings.budget_usd, settings.max_calls)
    if why:
        crossed.append(f"process: {why}")
        if settings.on_exceed == "raise":
            raise BudgetExceeded(f"tokentrail: process-wide budget exceeded: {why}; the call was not sent",
                                 limit=why, spent=_global_totals.cost, calls=_global_totals.calls)
        global _global_warned
        if not _global_warned:
            _global_warned = True
            logger.warning("tokentrail: process-wide budget crossed (%s); calls go on (on_exceed='warn')", why)
    return crossed


def _over(tot: _Totals, budget: float | None, max_calls: int | None) -> str:
    if budget is not None and tot.cost >= budget:
        return f"spent ${tot.cost:.6f} of a ${budget} budget"
    if max_calls is not None and tot.calls >= max_calls:
        return f"{tot.calls} calls of a max_calls={max_calls} limit"
    return ""


def classify_attempt(tr: trace | None, model: str, prompt_key: Any) -> tuple[int, str | None, str | None]:
    """At the start of a call: (retry_attempt, fallback_model, fallback_reason)."""
    if tr is None or tr._retry is None:
        return 0, None, None
    st = tr._retry
    with st.lock:
        key = (model, prompt_key)
        attempt = st.seen.get(key, 0)
        st.seen[key] = attempt + 1
        fallback_model = fallback_reason = None
        if st.last_failed and st.last_model is not None and st.last_model != model:
            fallback_model, fallback_reason = st.last_model, st.last_error
        return attempt, fallback_model, fallback_reason


def record_outcome(tr: trace | None, model: str, cost: float, tokens: int, error: str | None,
                   count_cost: bool = True) -> None:
    """After a call: update live totals (trace chain and process) and the fallback state."""
    failed = error is not None
    if tr is not None:
        for t in tr._chain():
            tot = t._totals
            with t._lock:
                tot.calls += 1
                if count_cost:
                    tot.cost += cost
                    tot.tokens += tokens
                if failed:
                    tot.errors += 1
        st = tr._retry
        if st is not None:
            with st.lock:
                st.last_model, st.last_failed, st.last_error = model, failed, error
    with _global_lock:
        g = _global_totals
        g.calls += 1
        if count_cost:
            g.cost += cost
            g.tokens += tokens
        if failed:
            g.errors += 1


# ------------------------------------------------------------------ threads

def propagate(fn: Callable) -> Callable:
    """Wrap ``fn`` to run in a copy of the current context (trace included), e.g. in a thread::

        threading.Thread(target=tokentrail.propagate(work), args=(x,)).start()
    """
    ctx = contextvars.copy_context()

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        return ctx.copy().run(fn, *args, **kwargs)
    return run


class ContextThreadPoolExecutor(ThreadPoolExecutor):
    """A ThreadPoolExecutor whose tasks run in the submitter's context (so they join its trace)::

        with tokentrail.trace("batch") as t, tokentrail.ContextThreadPoolExecutor(8) as pool:
            list(pool.map(ask, questions))
    """

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any):  # type: ignore[override]
        ctx = contextvars.copy_context()
        return super().submit(ctx.run, fn, *args, **kwargs)


