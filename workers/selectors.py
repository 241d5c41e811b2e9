"""Read queries of workers."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from labeling.models import Category
from labeling.selectors import project_open_categories
from workers.models import BLUR_DEFAULT_PX, Consent, DisplayPreference


def consent_of(*, annotator, project) -> dict[str, Any]:
    """The project's possible content (its declared categories, and any its tasks carry) and
    what the annotator agreed to see."""
    row = (
        Consent.objects.filter(annotator=annotator, project=project)
        .values_list("categories", flat=True)
        .first()
    )
    consented = set(row or [])
    names = dict(Category.choices)
    # Declared by the project, or carried by a task still to be done (an import row's own
    # categories, a flag): every one can be agreed to, or its tasks could never be served.
    possible = set(project.content_categories or []) | set(project_open_categories(project))
    return {
        "project": project.pk,
        "categories": [
            {"name": name, "label": str(names[name]), "consented": name in consented}
            for name in Category.values
            if name in possible or name in consented
        ],
        "consented": sorted(consented),
        # Whether the annotator has answered at all (agreeing to nothing is an answer).
        "decided": row is not None,
        "support": settings.FAIRLABEL_SUPPORT_CONTACT,
    }


def display_preferences(*, user_id: int) -> dict[str, int]:
    """FAIRLABEL_DISPLAY_PREFERENCES: how this person wants protected content shown (its blur
    strength; the default until it chooses one). One query."""
    blur = (
        DisplayPreference.objects.filter(user_id=user_id).values_list("blur_px", flat=True).first()
    )
    return {"blur_px": BLUR_DEFAULT_PX if blur is None else blur}
