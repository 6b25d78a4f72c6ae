"""JSONata for Step Functions (decision 0329): the one module that speaks to the
``jsonata-python`` library (a port of the reference implementation, untyped), behind typed
functions.

A value is an expression when it is a string ``{% … %}``; :func:`resolve` evaluates every
such string within a template (an object's values, a list's items) and leaves the rest as
written, as AWS's ``Arguments``, ``Output`` and ``Assign`` do. An expression that returns
nothing (JSONata's undefined: a variable never assigned, a field the input lacks) fails, as
AWS's does ("returned nothing (undefined)", decision 0338); JSON's ``null`` is a value. The
functions Step Functions adds to JSONata are bound in every expression: ``$partition``,
``$range``, ``$hash``, ``$random``, ``$uuid`` and ``$parse``; ``$eval`` is not (AWS leaves it
out too). A failure is :class:`QueryFailure`, which the interpreter fails the state with as
``States.QueryEvaluationError``."""

from __future__ import annotations

import functools
import hashlib
import json
import random
import re
import sys
import uuid
from collections.abc import Mapping
from typing import Any, Final

# Importing the library sets the whole process's recursion limit to 10,000 ("similar to
# JavaScript"): every other parser of the serve (json's nesting depth among them) would go ten
# times deeper on a thread stack sized for the default, and CI caught Logs Insights' jsonParse
# accepting a 5,000-deep message it refuses. The limit is put back; an expression that needs
# deeper recursion fails as a query error, as any other evaluation failure.
_RECURSION_LIMIT: Final = sys.getrecursionlimit()
import jsonata  # noqa: E402
from jsonata.utils import Utils  # noqa: E402

sys.setrecursionlimit(_RECURSION_LIMIT)

__all__ = ["QueryFailure", "UndefinedResult", "evaluate", "expression_of", "problem_of", "resolve"]

_EXPRESSION: Final = re.compile(r"\{%(.*)%\}", re.DOTALL)
_HASHES: Final = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384",
                  "SHA-512": "sha512"}  # fmt: skip
_MAX_RANGE: Final = 1000  # AWS's bound on the items $range makes


class QueryFailure(Exception):
    """An expression that does not parse, or failed as it was evaluated."""


class UndefinedResult(QueryFailure):
    """An expression that returned nothing (JSONata's undefined)."""


def expression_of(value: Any) -> str | None:
    """The JSONata expression ``value`` holds (``{% … %}``), or None: a plain value."""
    if not isinstance(value, str):
        return None
    found = _EXPRESSION.fullmatch(value.strip())
    return None if found is None else found.group(1).strip()


def problem_of(expression: str) -> str | None:
    """Why ``expression`` does not parse (None: it does), for the definition's validation."""
    try:
        _compiled(expression)
    except QueryFailure as exc:
        return str(exc)
    return None


def evaluate(expression: str, bindings: Mapping[str, Any]) -> Any:
    """The value of ``expression`` with these variables bound (``states`` among them)."""
    compiled = _compiled(expression)
    try:
        found = compiled.evaluate(None, dict(bindings))
    except Exception as exc:
        # Whatever the foreign library raises (its JException, or a Python error from within
        # it) is the expression's failure: the state fails States.QueryEvaluationError.
        raise QueryFailure(f"{expression[:200]}: {str(exc)[:300]}") from exc
    if found is None:  # JSON's null is the library's NULL_VALUE, its undefined is None
        raise UndefinedResult(f"The JSONata expression '{expression[:200]}' returned nothing "
                              "(undefined).")  # fmt: skip
    return _plain(found)


def resolve(template: Any, bindings: Mapping[str, Any], field: str = "") -> Any:
    """``template`` with each ``{% … %}`` string replaced by its expression's value; one that
    returns nothing fails naming its place in ``field`` (``Output/v``, as AWS's cause)."""
    if isinstance(template, dict):
        return {key: resolve(value, bindings, f"{field}/{key}" if field else key)
                for key, value in template.items()}  # fmt: skip
    if isinstance(template, list):
        return [resolve(value, bindings, f"{field}[{i}]") for i, value in enumerate(template)]
    expression = expression_of(template)
    if expression is None:
        return template
    try:
        return evaluate(expression, bindings)
    except UndefinedResult:
        raise UndefinedResult(
            f"The JSONata expression '{expression[:200]}' specified for the "
            f"field '{field[:200]}' returned nothing (undefined)."
        ) from None


@functools.lru_cache(maxsize=1024)
def _compiled(expression: str) -> Any:
    try:
        compiled = jsonata.Jsonata(expression)
    except Exception as exc:  # the foreign parser's failure, whatever its kind
        raise QueryFailure(f"{expression[:200]}: {str(exc)[:300]}") from exc
    compiled.set_output_convert_nulls(False)  # so that null and undefined stay apart
    compiled.register_lambda("partition", _partition)
    compiled.register_lambda("range", _range)
    compiled.register_lambda("hash", _hash)
    compiled.register_lambda("random", _random)
    compiled.register_lambda("uuid", lambda: str(uuid.uuid4()))
    compiled.register_lambda("parse", _parse)
    compiled.register_lambda("eval", _no_eval)
    return compiled


def _plain(value: Any) -> Any:
    """The library's sequences, nulls and numbers as JSON's: lists, None, and integers where
    whole."""
    if value is Utils.NULL_VALUE:
        return None
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _partition(items: Any, size: Any) -> list[Any]:
    if not isinstance(items, list) or not isinstance(size, int | float) or size < 1:
        raise ValueError("$partition takes an array and a positive size")
    step = int(size)
    return [list(items[i : i + step]) for i in range(0, len(items), step)]


def _range(start: Any, end: Any, step: Any) -> list[Any]:
    if not all(isinstance(n, int | float) and not isinstance(n, bool) for n in (start, end, step)):
        raise ValueError("$range takes three numbers")
    if step == 0:
        raise ValueError("$range's step must not be 0")
    out: list[Any] = []
    value = start
    while (value <= end if step > 0 else value >= end) and len(out) < _MAX_RANGE:
        out.append(value)
        value += step
    return out


def _hash(value: Any, algorithm: Any) -> str:
    if not isinstance(value, str) or algorithm not in _HASHES:
        raise ValueError(f"$hash takes a string and one of {', '.join(_HASHES)}")
    return hashlib.new(_HASHES[algorithm], value.encode()).hexdigest()


def _random(seed: Any = None) -> float:
    # A seed gives the same number each time (AWS's $random(seed)); none, a fresh one.
    return random.Random(seed).random() if seed is not None else random.random()  # noqa: S311


def _parse(text: Any) -> Any:
    if not isinstance(text, str):
        raise ValueError("$parse takes a string of JSON")
    return json.loads(text)


def _no_eval(*_: Any) -> Any:
    raise ValueError("$eval is not available in Step Functions: use $parse")
