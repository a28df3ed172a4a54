"""One registry per plug-in kind: a name -> a factory and the typed options it takes.

The space, strategy, evaluator, latency provider, executor and benchmark a profile names are each looked up in their
kind's ``Registry`` (it lives beside the kind's implementations), and each section's other keys become that plug-in's
options dataclass. As in the official MnasNet code's ``GlobalParams._replace``, an unknown field is refused, here
with one line naming it, the closest known field and the allowed ones, so a mistyped YAML key never passes silently.

An entry's factory and options may be given as ``"module:attribute"`` so that registering a plug-in imports nothing:
TensorFlow stays out of a light path until a plug-in that needs it is used.
"""
from __future__ import annotations

import difflib
import importlib
import inspect
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, Callable, Generic, Iterable, Mapping, TypeVar

from mnaslib.errors import UserError, as_int, shown

T = TypeVar("T")
Options = TypeVar("Options")


def _resolve(entry: Any) -> Any:
    """A ``"module:attribute"`` spec as the object it names; anything else as it is."""
    if isinstance(entry, str):
        module, _, attribute = entry.partition(":")
        return getattr(importlib.import_module(module), attribute)
    return entry


def did_you_mean(name: str, known: Any) -> str:
    """`` (did you mean 'x'?)`` for the known name closest to a mistyped one, else nothing."""
    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def typed_value(value: Any, annotation: str, what: str) -> Any:
    """``value`` checked against a dataclass field's annotation (``int``, ``float``, ``str``, ``bool``, ``| None``);
    other annotations (mappings, lists) pass unchanged for the options' own checks."""
    if value is None and "None" in annotation:
        return None
    base = annotation.split("|")[0].strip()
    if base == "int":
        return as_int(value, what)
    if base == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"{what} must be a number, got {shown(value)}")
        return float(value)
    if base == "bool" and not isinstance(value, bool):
        raise UserError(f"{what} must be true or false, got {shown(value)}")
    if base == "str" and not isinstance(value, str):
        raise UserError(f"{what} must be text, got {shown(value)}")
    return value


def refuse_unknown(values: Mapping[str, Any], known: Iterable[str], what: str,
                   error: type[UserError] = UserError) -> None:
    """Refuse keys of ``values`` outside ``known`` in one line, naming the closest known one: the one check every
    section of a profile and every options dataclass goes through."""
    known = sorted(known)
    unknown = sorted(set(values) - set(known))
    if unknown:
        allowed = f"known: {known}" if known else "it takes none"
        raise error(f"unknown {what} settings {shown(unknown)}{did_you_mean(unknown[0], known)}; {allowed}")


def parse_options(cls: type[Options], values: Mapping[str, Any], what: str) -> Options:
    """The options dataclass ``cls`` from a mapping: unknown fields refused, each value checked against its field's
    type (``what`` prefixes the names in messages: ``proxy``, ``executor`` ...)."""
    known = {f.name: f for f in fields(cls) if f.init}
    refuse_unknown(values, known, what)
    return cls(**{key: typed_value(value, _annotation(known[key].type), f"{what}.{key}")
                  for key, value in values.items()})


def _annotation(hint: Any) -> str:
    """A field's annotation as text (``int | None``), whether or not its module postpones annotations."""
    return hint if isinstance(hint, str) else getattr(hint, "__name__", str(hint))


def options_as_built(options: T) -> T:
    """The factory of a plug-in whose options dataclass is the plug-in itself (the cell space)."""
    return options


@dataclass(frozen=True)
class NoOptions:
    """The options of a plug-in that takes none."""


@dataclass(frozen=True)
class Plugin(Generic[T]):
    """One registered name: ``factory(options, *context)`` builds it; ``options`` is its options dataclass, or
    None when the options are the factory's own keyword arguments (checked against its signature)."""

    name: str
    factory: Callable[..., T] | str
    options: type | str | None = NoOptions


class Registry(Generic[T]):
    """Names of one plug-in kind (``kind`` as messages say it: ``search strategy``, ``executor``...); ``hint`` ends
    the message for an unknown name (what else the user may mean); ``aliases`` are short names for entries."""

    def __init__(self, kind: str, hint: str = "", aliases: Mapping[str, str] | None = None) -> None:
        self.kind, self.hint = kind, hint
        self.aliases = dict(aliases or {})
        self._plugins: dict[str, Plugin[T]] = {}

    def add(self, name: str, factory: Callable[..., T] | str, options: type | str | None = NoOptions) -> None:
        """Register ``name``. The same entry twice is harmless (a module imported again); another one under a
        taken name is refused, because silently replacing a plug-in is the mix-up provenance labels exist to
        prevent."""
        plugin = Plugin(name, factory, options)
        existing = self._plugins.get(name)
        if existing is not None and (_resolve(existing.factory) is not _resolve(factory)
                                     or _resolve(existing.options) is not _resolve(options)):
            raise ValueError(f"a {self.kind} named {name!r} is already registered ({existing.factory!r}); pick "
                             "another name")
        self._plugins[name] = plugin

    def names(self) -> tuple[str, ...]:
        """The registered names, in registration order."""
        return tuple(self._plugins)

    def __contains__(self, name: object) -> bool:
        return self.aliases.get(name, name) in self._plugins  # type: ignore[arg-type]

    def get(self, name: Any) -> Plugin[T]:
        """The plug-in ``name`` (or an alias of it); an unknown one is a UserError listing the known names."""
        name = self.aliases.get(name, name) if isinstance(name, str) else name
        if not isinstance(name, str) or name not in self._plugins:
            raise UserError(f"unknown {self.kind} {shown(name)}{did_you_mean(name, self._plugins)}; choose one of "
                            f"{', '.join(self._plugins)}{self.hint}")
        return self._plugins[name]

    def options(self, name: str, values: Mapping[str, Any], what: str) -> Any:
        """``name``'s options parsed from ``values`` (``what`` names the section in messages); for a plug-in whose
        options are its factory's keywords, the keywords as a dict once they bind."""
        plugin = self.get(name)
        if plugin.options is None:
            factory = _resolve(plugin.factory)
            try:
                inspect.signature(factory).bind(**values)
            except TypeError as error:
                raise UserError(f"bad options for {self.kind} {plugin.name!r}: {error}; it accepts "
                                f"{inspect.signature(factory)}") from None
            return dict(values)
        cls = _resolve(plugin.options)
        if not is_dataclass(cls):
            raise TypeError(f"{self.kind} {plugin.name!r} registers options {cls!r}, which is not a dataclass")
        if "from_dict" in vars(cls):  # options that parse themselves (the PPO controller's presets)
            return cls.from_dict(values)
        return parse_options(cls, values, what)

    def build(self, name: str, options: Any, *context: Any, **keywords: Any) -> T:
        """Build ``name`` from options ``self.options`` gave, with what the factory needs besides (decisions...)."""
        plugin = self.get(name)
        factory = _resolve(plugin.factory)
        if plugin.options is None:
            return factory(*context, **keywords, **options)
        return factory(options, *context, **keywords)

    def make(self, name: str, values: Mapping[str, Any], *context: Any, what: str = "", **keywords: Any) -> T:
        """Parse and build in one call."""
        return self.build(name, self.options(name, values, what or self.kind), *context, **keywords)

