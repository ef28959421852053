from django import forms
from django.contrib import admin
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from kpis.models import KPIRun, KPITarget
from kpis.registry import KPIS


class KPITargetForm(forms.ModelForm):
    kpi = forms.ChoiceField(label=_("KPI"), choices=lambda: [(k.key, k.name) for k in KPIS])
    #: The target's version when the form was shown; a stale form is refused, not saved over.
    read_version = forms.IntegerField(widget=forms.HiddenInput, min_value=0, required=False)

    class Meta:
        model = KPITarget
        fields = ["kpi", "team", "value"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["read_version"] = self.instance.version

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk:
            current = KPITarget.objects.filter(pk=self.instance.pk).values("version", "value").first()
            if current and cleaned.get("read_version") != current["version"]:
                # Keep what was typed, show what was saved, and let a second save replace it knowingly.
                self.data = self.data.copy()
                self.data["read_version"] = current["version"]
                raise forms.ValidationError(
                    _("Someone else saved this target while you were editing it: it is now %(saved)s. Your value "
                      "is kept below; save again to replace theirs.") % {"saved": current["value"]},
                    code="conflict",
                )  # fmt: skip
        return cleaned

    def save(self, commit=True):
        target = super().save(commit=False)
        if target.pk:
            target.version = F("version") + 1
        if commit:
            target.save()
            target.refresh_from_db(fields=["version"])
        return target


@admin.register(KPITarget)
class KPITargetAdmin(admin.ModelAdmin):
    form = KPITargetForm
    list_display = ["__str__", "team", "value"]
    list_filter = ["team"]


@admin.register(KPIRun)
class KPIRunAdmin(admin.ModelAdmin):
    list_display = ["started_at", "finished_at", "full", "first_day", "periods", "rows"]
    readonly_fields = ["started_at", "finished_at", "full", "first_day", "periods", "rows"]

    def has_add_permission(self, request):
        return False
