"""The request body check of the gate: one JSON object, bounded before anything else reads it.

A body is refused with 400 when it is empty, not JSON, not an object, nested deeper than
:data:`MAX_DEPTH`, holds an integer of more than :data:`MAX_INTEGER_DIGITS` digits, or a
non-finite number (``NaN``, ``Infinity``, ``1e999``). The checks are done once here, so
nothing behind the gate (BentoML, pydantic, the store) meets such input.
"""

from __future__ import annotations

import json
import math
from typing import Any

#: Deepest nesting of arrays and objects accepted; the contract's deepest body has 4 levels.
MAX_DEPTH = 32
#: Most digits of an integer accepted (a 64-bit integer has at most 19).
MAX_INTEGER_DIGITS = 20


class BodyProblem(ValueError):
    """Why a body was refused (the message names ``body``)."""


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise BodyProblem(f"body: an integer has more than {MAX_INTEGER_DIGITS} digits")
    return int(text)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BodyProblem("body: numbers must be finite")
    return value


def _constant(text: str) -> Any:
    raise BodyProblem(f"body: {text} is not a JSON number; numbers must be finite")


def parse_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or :class:`BodyProblem` saying what is wrong with it."""
    if not body.strip():
        raise BodyProblem("body: a JSON object is required")
    try:
        parsed = json.loads(body, parse_int=_integer, parse_float=_finite, parse_constant=_constant)
    except BodyProblem:
        raise
    except RecursionError:
        raise BodyProblem(f"body: nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise BodyProblem(f"body: invalid JSON at line {exc.lineno} column {exc.colno}") from None
    except (UnicodeDecodeError, ValueError):
        raise BodyProblem("body: invalid JSON") from None
    if not isinstance(parsed, dict):
        raise BodyProblem("body: expected a JSON object")
    if _depth_exceeds(parsed, MAX_DEPTH):
        raise BodyProblem(f"body: nested deeper than {MAX_DEPTH} levels")
    return parsed


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Whether ``value`` nests arrays/objects more than ``limit`` deep (iterative walk)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return False
