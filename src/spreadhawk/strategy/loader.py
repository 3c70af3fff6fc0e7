"""Load a strategy by import path (``"package.module:Class"``) with its typed config.

No directory scanning and no executing files by path: a strategy is importable code, either in
this package or in the user's own installed package.
"""

from __future__ import annotations

import importlib
from typing import Any

from pydantic import ValidationError

from spreadhawk.strategy.base import Strategy


class StrategyLoadError(ValueError):
    """The strategy cannot be loaded or configured; the message is one line for the user."""


def load_strategy_class(path: str) -> type[Strategy]:
    module_name, sep, class_name = path.partition(":")
    if not sep or not module_name or not class_name:
        raise StrategyLoadError(f"strategy path {path!r} must look like 'package.module:Class'")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise StrategyLoadError(f"strategy path {path!r}: module {exc.name!r} not found") from None
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type) or not issubclass(cls, Strategy):
        raise StrategyLoadError(f"strategy path {path!r}: {class_name!r} is not a Strategy class in {module_name}")
    return cls


def build_strategy(path: str, params: dict[str, Any], strategy_id: str = "") -> Strategy:
    cls = load_strategy_class(path)
    try:
        config = cls.config_class.model_validate(params)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(["strategy.params", *(str(p) for p in first["loc"])])
        if first["type"] == "extra_forbidden":
            message = f"unknown key '{where}'"
        elif first["type"] == "missing":
            message = f"missing required key '{where}'"
        else:
            given = first.get("input")
            shown = "" if isinstance(given, dict | list) else f" (got {given!r})"
            message = f"{where}: {first['msg']}{shown}"
        raise StrategyLoadError(message) from None
    return cls(config, strategy_id or cls.__name__)
