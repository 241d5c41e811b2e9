"""Content categories: the one rule for what a task carries, used wherever it is decided
(import, image import, project edit, flags, the dispatcher, the page's protections).

A task stores its effective categories once, as a bit mask (`Task.category_mask`, indexed with
the dispatcher's queue): its own when its import row gave them (`[]` marks it safe) or a flag
added one, else its project's. The services that change them keep it true: the import, a flag,
an edit of the project's categories (one UPDATE of the tasks that follow the project)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

# Bit n of a mask is ORDER[n]. The masks are stored: append new categories, never reorder.
ORDER: tuple[str, ...] = (
    "violence",
    "gore",
    "sexual",
    "self_harm",
    "hate",
    "child_safety",
    "other_disturbing",
)
BITS: dict[str, int] = {name: 1 << n for n, name in enumerate(ORDER)}
ALL_MASK = (1 << len(ORDER)) - 1


def effective_categories(own: Sequence[str] | None, project_categories: Sequence[str]) -> list[str]:
    """A task's categories: its own when its import row gave them (`[]` marks it safe) or a flag
    added one, else the project's. Protection is the default: an unmarked task of a sensitive
    project is sensitive."""
    return list(project_categories or ()) if own is None else list(own)


def mask_of(names: Iterable[str]) -> int:
    """The bit mask of these categories (unknown names carry no bit: they were refused on the
    way in)."""
    mask = 0
    for name in names:
        mask |= BITS.get(name, 0)
    return mask


def names_of(mask: int) -> list[str]:
    """The categories of a mask, in ORDER."""
    return [name for name, bit in BITS.items() if mask & bit]


def effective_mask(own: Sequence[str] | None, project_categories: Sequence[str]) -> int:
    """What Task.category_mask stores."""
    return mask_of(effective_categories(own, project_categories))


def allowed_masks(excluded: Iterable[str]) -> tuple[int, ...]:
    """Every mask that carries none of the excluded categories, the safe one (0) first: what a
    restricted annotator may be served. At most 2**k masks for k categories left allowed."""
    allowed = ALL_MASK & ~mask_of(excluded)
    masks = [0]
    bits = [bit for bit in BITS.values() if allowed & bit]
    for bit in bits:
        masks += [mask | bit for mask in masks]
    return tuple(sorted(masks))
