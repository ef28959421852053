"""The customer's survey form, built from the template's questions."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from surveys.models import CallOutcome, QuestionKind, SurveyTemplate

CONTACT_FIELDS = ("contact_name", "contact_details")


class SurveyForm(forms.Form):
    contact_name = forms.CharField(label=_("Your name (optional)"), max_length=200, required=False)
    contact_details = forms.CharField(label=_("Phone or e-mail (optional)"), max_length=200, required=False)

    def __init__(self, *args, template: SurveyTemplate, **kwargs):
        super().__init__(*args, **kwargs)
        self.questions = list(template.questions.all())
        question_fields = {}
        for question in self.questions:
            question_fields[question.key] = self._field_for(question)
        # Questions first, then the voluntary contact fields.
        self.fields = {**question_fields, **self.fields}

    @staticmethod
    def _field_for(question) -> forms.Field:
        common = {"label": question.text, "required": question.required}
        if question.kind == QuestionKind.SCALE:
            labels = question.choices or ["5", "4", "3", "2", "1"]
            choices = [(str(5 - index), label) for index, label in enumerate(labels[:5])]
            return forms.TypedChoiceField(choices=choices, coerce=int, widget=forms.RadioSelect, **common)
        if question.kind == QuestionKind.NPS:
            choices = [(str(n), str(n)) for n in range(11)]
            return forms.TypedChoiceField(choices=choices, coerce=int, widget=forms.RadioSelect, **common)
        return forms.CharField(max_length=question.max_length, widget=forms.Textarea(attrs={"rows": 3}), **common)

    def answers(self) -> dict:
        return {
            q.key: self.cleaned_data.get(q.key)
            for q in self.questions
            if self.cleaned_data.get(q.key) not in (None, "")
        }

    def question_fields(self):
        return [self[q.key] for q in self.questions]

    def contact_fields(self):
        return [self[name] for name in CONTACT_FIELDS]


class PhoneSurveyForm(SurveyForm):
    """The same questionnaire, read out on a follow-up call; the agent ticks the customer's answers."""

    note = forms.CharField(label=_("Note on the call (optional)"), max_length=500, required=False)

    def __init__(self, *args, template: SurveyTemplate, **kwargs):
        super().__init__(*args, template=template, **kwargs)
        for name in CONTACT_FIELDS:
            del self.fields[name]
        if self.questions:
            self.fields[self.questions[0].key].widget.attrs["autofocus"] = True

    def contact_fields(self):
        return [self["note"]]


class UnansweredCallForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("What happened?"),
        choices=[(value, label) for value, label in CallOutcome.choices if value != CallOutcome.ANSWERED],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(label=_("Note (optional)"), max_length=500, required=False)
