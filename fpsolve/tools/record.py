"""Typed results over the dicts the JSON files hold (issue 17.4; docs/api.md, *Typed results*).

A :class:`Record` keeps a result's summary as the ordered dict that
``summary.json`` writes (so the files keep their keys, values and order by
construction) and exposes its entries as attributes declared with
:class:`Entry`: ``sol.summary.escape_rate`` reads what ``summary.json`` calls
``escape_rate``.  :meth:`Record.as_dict` is the dict for the JSON file.

Mapping access (``summary["escape_rate"]``, ``.get``, ``.items()``,
``dict(summary)``, ``{**summary}``, assignment by key) keeps working for
scripts written against the dicts, but emits a :class:`DeprecationWarning`
naming the attribute to use.  ``key in summary`` and iteration over the keys
do not warn.
"""

from __future__ import annotations

import warnings
from typing import Any, Dict, Generic, Iterator, Mapping, Optional, TypeVar, overload

T = TypeVar("T")


class Entry(Generic[T]):
    """An attribute of a :class:`Record` that reads and writes the entry
    ``key`` of its JSON dict (default: the attribute's own name); an absent
    entry reads as ``default`` (None)."""

    def __init__(self, doc: str = "", key: Optional[str] = None, default: Any = None) -> None:
        self.key = key
        self.default = default
        self.__doc__ = doc

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        if self.key is None:
            self.key = name

    @overload
    def __get__(self, obj: None, owner: Optional[type] = None) -> "Entry[T]": ...

    @overload
    def __get__(self, obj: "Record", owner: Optional[type] = None) -> T: ...

    def __get__(self, obj: Any, owner: Optional[type] = None) -> Any:
        if obj is None:
            return self
        return obj._data.get(self.key, self.default)

    def __set__(self, obj: "Record", value: T) -> None:
        obj._data[self.key] = value

    def __repr__(self) -> str:
        return f"summary.json's {self.key!r}"


class Record(Mapping[str, Any]):
    """A result's summary: typed attributes (class attributes of type
    :class:`Entry`) over the ordered dict of the JSON file, :meth:`as_dict`
    for writing it; deprecated mapping access (module docstring)."""

    def __init__(self, data: Optional[Mapping[str, Any]] = None) -> None:
        self._data: Dict[str, Any] = dict(data or {})

    # ---- the typed side ------------------------------------------------------
    def as_dict(self) -> Dict[str, Any]:
        """The JSON file's dict: every entry, in the order it was recorded
        (a shallow copy: changing it leaves the record alone)."""
        return dict(self._data)

    def add(self, **entries: Any) -> None:
        """Record further entries (a spectrum, versions, the command line), by
        their JSON keys, after those already there."""
        self._data.update(entries)

    @classmethod
    def attribute_of(cls, key: str) -> Optional[str]:
        """The attribute that reads the JSON entry ``key`` (None if there is none)."""
        for klass in cls.__mro__:
            for name, value in vars(klass).items():
                if isinstance(value, Entry) and value.key == key:
                    return name
        return None

    def _deprecated(self, key: Any) -> None:
        name = self.attribute_of(key) if isinstance(key, str) else None
        use = f"the attribute .{name}" if name else ".as_dict()"
        warnings.warn(f"{type(self).__name__}[{key!r}] (mapping access) is deprecated; use {use}",
                      DeprecationWarning, stacklevel=3)

    # ---- the deprecated mapping side ---------------------------------------
    def __getitem__(self, key: str) -> Any:
        self._deprecated(key)
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._deprecated(key)
        self._data[key] = value

    def get(self, key: str, default: Any = None) -> Any:
        """Deprecated: the attribute, or :meth:`as_dict`."""
        self._deprecated(key)
        return self._data.get(key, default)

    def update(self, *args: Any, **entries: Any) -> None:
        """Deprecated: :meth:`add`."""
        self._deprecated("update")
        self._data.update(*args, **entries)

    def setdefault(self, key: str, default: Any = None) -> Any:
        """Deprecated: the attribute."""
        self._deprecated(key)
        return self._data.setdefault(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Record):
            return type(self) is type(other) and self._data == other._data
        return NotImplemented if not isinstance(other, Mapping) else self._data == dict(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._data!r})"
