from django import forms
from django.utils.translation import gettext_lazy as _

from labeling.models import Category, TaskType


def labels_from_text(text: str) -> list[dict]:
    """One label per line: `value`, optionally `value | #colour | hotkey`."""
    labels = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if not parts[0]:
            continue
        label = {"value": parts[0]}
        if len(parts) > 1 and parts[1]:
            label["color"] = parts[1]
        if len(parts) > 2:
            label["hotkey"] = parts[2]
        labels.append(label)
    return labels


def labels_to_text(labels: list[dict]) -> str:
    return "\n".join(f"{lab['value']} | {lab['color']} | {lab['hotkey']}" for lab in labels)


class ProjectForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    instructions = forms.CharField(
        label=_("Instructions (Markdown)"), required=False, widget=forms.Textarea(attrs={"rows": 6})
    )
    task_type = forms.ChoiceField(label=_("Task type"), choices=TaskType.choices)
    labels = forms.CharField(
        label=_("Labels"),
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_(
            "One per line: name, or name | #colour | hotkey. Digits 1 to 9 are given "
            "in order when no hotkey is set."
        ),
    )
    annotations_per_task = forms.IntegerField(
        label=_("Annotations per task"), min_value=1, max_value=50, initial=1
    )
    content_categories = forms.MultipleChoiceField(
        label=_("Content the data may hold"),
        choices=Category.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Annotators consent per category; such tasks are blurred by default."),
    )
    price_per_task = forms.DecimalField(
        label=_("Price per task"), min_value=0, max_digits=10, decimal_places=2
    )
    estimated_seconds_per_task = forms.IntegerField(
        label=_("Estimated seconds per task"), min_value=1, max_value=86400, initial=30
    )

    def cleaned_for_service(self) -> dict:
        data = dict(self.cleaned_data)
        data["labels"] = labels_from_text(data["labels"])
        data["price_per_task"] = str(data["price_per_task"])
        return data
