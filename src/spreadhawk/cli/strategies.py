"""``spreadhawk strategies``: the strategies spreadhawk ships, each with the path a config names it
by, what it does (its docstring's first line) and its config fields (type, default, description).
``spreadhawk strategies NAME`` shows one in full."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from spreadhawk.cli.output import fail

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo

__all__ = ["library_strategies", "register"]

console = Console()
LIBRARY = "spreadhawk.strategy.library"


def register(app: typer.Typer) -> None:
    app.command("strategies")(strategies)


def library_strategies() -> dict[str, type[Any]]:
    """``module:Class`` -> class, for every Strategy defined in the library (not imported into it)."""
    from spreadhawk.strategy.base import Strategy  # noqa: PLC0415 -- the engine only when asked

    package = importlib.import_module(LIBRARY)
    found: dict[str, type[Any]] = {}
    for module_info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{LIBRARY}.{module_info.name}")
        for name, obj in inspect.getmembers(module, inspect.isclass):
            own = issubclass(obj, Strategy) and obj is not Strategy and obj.__module__ == module.__name__
            if own and not inspect.isabstract(obj) and "config_class" in vars(obj):
                found[f"{module.__name__}:{name}"] = obj
    return dict(sorted(found.items()))


def strategies(
    name: Annotated[str, typer.Argument(help="a class name or path: show its config fields")] = "",
) -> None:
    """List the strategies and their config fields (`[strategy] path` and `params`)."""
    found = library_strategies()
    if not name:
        table = Table("path (spreadhawk.strategy.library.…)", "what it does", "config fields")
        for path, cls in found.items():
            fields = ", ".join(cls.config_class.model_fields)
            table.add_row(path.removeprefix(f"{LIBRARY}."), escape(_summary(cls)), escape(fields))
        console.print(table)
        return
    matches = [path for path in found if path == name or path.endswith(f".{name}") or path.endswith(f":{name}")]
    if len(matches) != 1:
        fail(f"no strategy {name!r}; known: {', '.join(p.rsplit(':', 1)[-1] for p in found)}")
    cls = found[matches[0]]
    console.print(f"[bold]{matches[0]}[/bold]: {escape(_summary(cls))}", highlight=False, soft_wrap=True)
    table = Table("field", "type", "default", "description")
    for field_name, info in cls.config_class.model_fields.items():
        table.add_row(field_name, escape(_type(info)), escape(_default(info)), escape(info.description or ""))
    console.print(table)


def _summary(cls: type[Any]) -> str:
    # its own docstring, not one inherited from a base class; else its module's
    doc = inspect.cleandoc(vars(cls).get("__doc__") or "") or inspect.getdoc(inspect.getmodule(cls)) or ""
    return doc.strip().split("\n\n", 1)[0].replace("\n", " ")


def _type(info: FieldInfo) -> str:
    annotation = info.annotation
    text = getattr(annotation, "__name__", None) or str(annotation)
    return re.sub(r"\b(?:typing|decimal|spreadhawk(?:\.\w+)*)\.", "", text)


def _default(info: FieldInfo) -> str:
    from pydantic_core import PydanticUndefined  # noqa: PLC0415 (--help must not wait for pydantic)

    if info.is_required():
        return "(required)"
    if info.default is PydanticUndefined and info.default_factory is not None:
        return "(computed)"
    return str(info.default)
