"""Results that carry a Matplotlib figure: drawn on first access, shown, saved."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any


class Drawn(ABC):
    """A result with a Matplotlib figure drawn on first access (``.figure``, ``.plot()``,
    ``.save()``)."""

    _figure: Any = None

    @abstractmethod
    def draw(self) -> Any:
        """A new Matplotlib figure of the result."""

    @property
    def figure(self) -> Any:
        """The Matplotlib figure (drawn on first access)."""
        if self._figure is None:
            self._figure = self.draw()
        return self._figure

    def plot(self) -> Any:
        """The figure (as ``.figure``); ``matplotlib.pyplot.show()`` displays it."""
        return self.figure

    def save(self, path: str | Path, dpi: int = 80) -> Path:
        """Write the figure to ``path`` (format from the suffix, e.g. ``.png``)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.figure.savefig(path, dpi=dpi, bbox_inches="tight")
        return path


__all__ = ["Drawn"]
