"""The package's input error: every bad input (model, file, option) raises it."""

from __future__ import annotations


class InputError(ValueError):
    """Bad input: a value, expression, file or option that fpsolve refuses.

    The message is one line naming the bad value; the scripts turn it into
    exit status 2.  ``fpsolve.ModelError`` is the same class (its older name).
    """
