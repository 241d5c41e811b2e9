"""The one rule for a task's categories, and the masks it stores."""

from __future__ import annotations

from labeling.categories import (
    ALL_MASK,
    ORDER,
    allowed_masks,
    effective_categories,
    effective_mask,
    mask_of,
    names_of,
)
from labeling.models import Category


def test_every_category_has_its_own_bit_in_a_fixed_order():
    # The masks are stored: the order may only grow at its end.
    assert ORDER == tuple(Category.values)
    assert [mask_of([name]) for name in ORDER] == [1, 2, 4, 8, 16, 32, 64]
    assert ALL_MASK == 127 and mask_of(ORDER) == ALL_MASK
    assert names_of(mask_of(["hate", "gore", "hate"])) == ["gore", "hate"]


def test_own_categories_else_the_projects():
    assert effective_categories(None, ["violence"]) == ["violence"]
    assert effective_categories([], ["violence"]) == []
    assert effective_mask(None, ["violence", "gore"]) == 3
    assert effective_mask(["hate"], ["violence"]) == 16
    assert effective_mask([], ["violence"]) == 0


def test_allowed_masks_are_every_set_without_an_excluded_category():
    everything_but_violence = frozenset(ORDER) - {"violence"}
    assert allowed_masks(everything_but_violence) == (0, 1)
    assert allowed_masks(frozenset(ORDER)) == (0,)
    some = allowed_masks(frozenset({"gore", "hate"}))
    assert len(some) == 2**5 and some[0] == 0
    assert all(not mask & (mask_of(["gore", "hate"])) for mask in some)
    assert set(some) == {m for m in range(128) if not m & mask_of(["gore", "hate"])}
