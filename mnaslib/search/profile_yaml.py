"""Reading a profile's YAML: only what a profile can hold, and nothing that expands or overrides in secret.

``yaml.safe_load`` never runs code, but it still accepts aliases (a 300-byte "billion laughs" file expands to
gigabytes and hangs the reader), a key given twice (the second silently wins), dates and sets (which no setting
takes and the trial store cannot record) and numbers beyond the store's 64-bit integers. ``load_yaml`` refuses the
first two at their line and column; ``check_plain`` refuses the rest, naming the setting.
"""
from __future__ import annotations

import datetime
import math
from collections.abc import Mapping
from typing import Any

import yaml

from mnaslib.errors import ProfileError, shown

MAX_INTEGER = 2**63 - 1  # SQLite's largest integer: the store records a profile's values


def load_yaml(text: str) -> Any:
    """The YAML document in ``text``; a ``yaml.YAMLError`` (a ``Refused`` one for valid YAML a profile must not
    hold) when it cannot be used."""
    return yaml.load(text, Loader=_ProfileLoader)


class Refused(yaml.MarkedYAMLError):
    """Valid YAML that a profile must not hold."""


class _ProfileLoader(yaml.SafeLoader):
    """YAML as a profile may write it: no aliases (a 300-byte "billion laughs" file would expand to gigabytes) and
    no key given twice (the second would silently win)."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise Refused(None, None, "aliases (*name) are not allowed in a profile; write the value out",
                          self.peek_event().start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if isinstance(key, (str, int, float, bool)) and key in seen:
                    raise Refused(None, None, f"key {shown(key)} is given twice (the second would silently win); "
                                  "keep one", key_node.start_mark)
                if isinstance(key, (str, int, float, bool)):
                    seen.add(key)
        return super().construct_mapping(node, deep=deep)


def check_plain(value: Any, where: str) -> None:
    """Refuse what YAML can hold but a profile cannot use or record: dates, sets, binary, keys that are not text,
    numbers that are not finite or do not fit the store's 64-bit integers."""
    what = where or "the profile"
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ProfileError(f"{what}: setting names must be text, got {shown(key)}")
            check_plain(item, f"{where}.{key}" if where else key)
    elif isinstance(value, (list, tuple)):
        for item in value:
            check_plain(item, where)
    elif isinstance(value, (datetime.date, datetime.datetime)):
        raise ProfileError(f"{what}: {value} was read as a date; quote it ('{value}') if it is text")
    elif isinstance(value, float) and not math.isfinite(value):
        raise ProfileError(f"{what} must be a finite number, got {value}")
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INTEGER:
        raise ProfileError(f"{what} is too large ({shown(value)}); integers must fit in 64 bits")
    elif value is not None and not isinstance(value, (str, int, float, bool)):
        raise ProfileError(f"{what} must be text, a number, true/false, a list or a mapping, got a "
                           f"{type(value).__name__} ({shown(value)})")
