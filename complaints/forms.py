from django import forms
from django.utils.translation import gettext_lazy as _

from complaints.models import MAX_COMPENSATION, Complaint, ConfirmationChannel, RootCause, Severity


class RaiseForm(forms.Form):
    severity = forms.ChoiceField(label=_("Severity"), choices=Severity.choices, initial=Severity.MINOR)


class EscalateForm(forms.Form):
    reason = forms.CharField(label=_("Why escalate?"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class UpdateForm(forms.ModelForm):
    #: The complaint's version when the form was shown (a stale form is refused, not saved over).
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    compensation_amount = forms.DecimalField(
        label=_("Compensation amount"),
        min_value=0,
        max_value=MAX_COMPENSATION,
        decimal_places=2,
        required=False,
        initial=0,
    )

    class Meta:
        model = Complaint
        fields = ["severity", "root_cause", "corrective_action", "compensation_kind", "compensation_amount"]
        widgets = {"corrective_action": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["root_cause"].queryset = RootCause.objects.filter(active=True)
        if self.instance.pk and not self.is_bound:
            self.initial["version"] = self.instance.version

    def clean_compensation_amount(self):
        return self.cleaned_data.get("compensation_amount") or 0


class ConfirmationForm(forms.Form):
    channel = forms.ChoiceField(label=_("How did the customer confirm?"), choices=ConfirmationChannel.choices)
    contact = forms.CharField(label=_("Who confirmed"), max_length=200)
    note = forms.CharField(label=_("What they said"), max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))


class CloseForm(forms.Form):
    note = forms.CharField(label=_("Closing note"), max_length=2000, required=False)


class AppointmentForm(forms.Form):
    appointment_at = forms.DateTimeField(
        label=_("When"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )
    appointment_place = forms.CharField(
        label=_("Where"), max_length=200, help_text=_("A visit, a meeting room, a service point…")
    )
    appointment_with = forms.CharField(
        label=_("With whom"), max_length=200, help_text=_("The more senior person who meets the customer.")
    )
