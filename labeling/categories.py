"""Content categories: the one rule for what a task carries, used wherever it is decided
(import, image import, project edit, flags, the dispatcher, the page's protections)."""

from __future__ import annotations

from collections.abc import Sequence


def effective_categories(own: Sequence[str] | None, project_categories: Sequence[str]) -> list[str]:
    """A task's categories: its own when its import row gave them (`[]` marks it safe) or a flag
    added one, else the project's. Protection is the default: an unmarked task of a sensitive
    project is sensitive."""
    return list(project_categories or ()) if own is None else list(own)


def is_sensitive(own: Sequence[str] | None, project_categories: Sequence[str]) -> bool:
    """What Task.is_sensitive stores (indexed for the dispatcher's safe-only claims)."""
    return bool(effective_categories(own, project_categories))
