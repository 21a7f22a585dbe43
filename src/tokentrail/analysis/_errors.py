"""The one exception the analysis and export commands raise for a user's mistake."""

from __future__ import annotations


class InputError(ValueError):
    """The input of ``report``/``export`` cannot be used; the message is one sentence
    saying what is wrong and what to do (the CLI prints it and exits non-zero)."""


__all__ = ["InputError"]
