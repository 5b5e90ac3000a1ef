"""Checking the values of a TOML file: :class:`FileChecker` collects every problem of one file
(located as ``<file>: <section> <message>``) and its typed getters report a wrong value and go
on with the default. :mod:`hiermodel.spec.parse` checks the spec's sections with it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hiermodel.errors import did_you_mean


def show_value(value: Any) -> str:
    """A TOML-looking rendering of a value for messages: 'text', true, 3, [..], {table}."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return str(value)


def is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class FileChecker:
    """Collects every problem of one file (:meth:`fail`) with typed getters that report a
    wrong value and return the default, so that all problems are reported together."""

    def __init__(self, label: str, file: Path, base: Path, text: str) -> None:
        self.label = label
        self.file = file
        self.base = base
        self.text = text
        self.errors: list[str] = []

    # -- reporting ------------------------------------------------------------------------------
    def fail(self, where: str, message: str) -> None:
        self.errors.append(f"{self.label}: {where} {message}" if where
                           else f"{self.label}: {message}")

    def unknown_keys(self, where: str, table: Mapping[str, Any], allowed: tuple[str, ...]
                     ) -> None:
        for key in table:
            if key not in allowed:
                hint = did_you_mean(key, allowed)
                self.fail(where, f"unknown key '{key}'"
                          + (hint or f"; valid keys: {', '.join(allowed)}"))

    def table(self, where: str, value: Any) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(where, f"must be a table, got {show_value(value)}")
            return {}
        return value

    # -- typed getters (each returns the default after reporting a problem) -------------------
    def string(self, where: str, t: Mapping[str, Any], key: str, default: str | None = None,
               required: bool = False, example: str = "") -> str | None:
        if key not in t:
            if required:
                self.fail(where, f"{key} is required" + (f", e.g. {example}" if example else ""))
            return default
        value = t[key]
        if not isinstance(value, str):
            self.fail(where, f"{key} must be a string, got {show_value(value)}")
            return default
        if not value.strip():
            self.fail(where, f"{key} must not be empty")
            return default
        return value.strip()

    def boolean(self, where: str, t: Mapping[str, Any], key: str, default: bool) -> bool:
        if key not in t:
            return default
        value = t[key]
        if not isinstance(value, bool):
            self.fail(where, f"{key} must be true or false, got {show_value(value)}")
            return default
        return value

    def integer(self, where: str, t: Mapping[str, Any], key: str, default: int | None,
                minimum: int) -> int | None:
        if key not in t:
            return default
        value = t[key]
        if not is_integer(value) or value < minimum:
            kind = {0: "a non-negative integer", 1: "a positive integer"}.get(
                minimum, f"an integer >= {minimum}")
            self.fail(where, f"{key} must be {kind}, got {show_value(value)}")
            return default
        return int(value)

    def path(self, where: str, key: str, text: str) -> Path | None:
        """``text`` resolved against the spec's folder (``~`` expanded; absolute paths kept);
        None after reporting a path the operating system cannot name."""
        try:
            path = (self.base / Path(text).expanduser()).resolve()
            path.exists()  # raises for names the OS cannot look up (too long, ...)
            return path
        except (ValueError, OSError, RuntimeError) as exc:  # NUL byte, name too long, loop
            self.fail(where, f"{key} {show_value(text)} is not a usable path ({exc}); give a file "
                      "name relative to the spec file")
            return None


__all__ = ["FileChecker", "is_integer", "show_value"]
