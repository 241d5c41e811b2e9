"""`manage.py check` (and so start-up) imports and checks every rule path named in settings."""

from __future__ import annotations

import inspect

from django.conf import settings
from django.core.checks import Error, register
from django.utils.module_loading import import_string

from labeling.policies import HOOK_EVENTS

_HOOK_KWARGS = {
    "served": ("assignment", "context", "now"),
    "submitted": ("assignment", "annotation", "context", "now"),
    "skipped": ("assignment", "context", "now"),
    "expired": ("assignments", "now"),
    "released": ("assignment", "refusal", "now"),
    "refused": ("context", "refusal", "now"),
}


def _import(setting: str, path: str, errors: list) -> object | None:
    try:
        return import_string(path)
    except ImportError as exc:
        errors.append(Error(f"{setting}: cannot import {path!r}: {exc}", id="fairlabel.E001"))
        return None


def _accepts(func, names: tuple[str, ...], *, keywords: bool) -> bool:
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return True
    try:
        if keywords:
            signature.bind(**dict.fromkeys(names))
        else:
            signature.bind(*([None] * len(names)))
    except TypeError:
        return False
    return True


@register()
def rule_paths_check(app_configs, **kwargs) -> list[Error]:
    errors: list[Error] = []
    for path in settings.FAIRLABEL_DISPATCH_GATES:
        gate = _import("FAIRLABEL_DISPATCH_GATES", path, errors)
        if gate is not None and not (
            callable(gate) and _accepts(gate, ("context",), keywords=False)
        ):
            errors.append(
                Error(
                    f"FAIRLABEL_DISPATCH_GATES: {path} must be callable as gate(context).",
                    id="fairlabel.E002",
                )
            )
    for path in settings.FAIRLABEL_ASSIGNMENT_HOOKS:
        hook = _import("FAIRLABEL_ASSIGNMENT_HOOKS", path, errors)
        if hook is None:
            continue
        events = [e for e in HOOK_EVENTS if callable(getattr(hook, e, None))]
        if not events:
            errors.append(
                Error(
                    f"FAIRLABEL_ASSIGNMENT_HOOKS: {path} has none of {', '.join(HOOK_EVENTS)}.",
                    id="fairlabel.E003",
                )
            )
        for event in events:
            if not _accepts(getattr(hook, event), _HOOK_KWARGS[event], keywords=True):
                errors.append(
                    Error(
                        f"FAIRLABEL_ASSIGNMENT_HOOKS: {path}.{event} must take the keyword "
                        f"arguments {', '.join(_HOOK_KWARGS[event])}.",
                        id="fairlabel.E004",
                    )
                )
    for setting in (
        "FAIRLABEL_PUBLISH_CHECKS",
        "FAIRLABEL_RULE_SECTIONS",
        "FAIRLABEL_TASK_ACCESS_CHECKS",
        "FAIRLABEL_PROVENANCE_SECTIONS",
        "FAIRLABEL_PROJECT_CHANGE_HOOKS",
        "FAIRLABEL_PAY_FLOOR",
        "FAIRLABEL_DISPLAY_PREFERENCES",
    ):
        paths = getattr(settings, setting)
        for path in [paths] if isinstance(paths, str) else paths:
            found = _import(setting, path, errors)
            if found is not None and not callable(found):
                errors.append(Error(f"{setting}: {path} is not callable.", id="fairlabel.E005"))
    return errors
