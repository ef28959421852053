from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from kpis.models import KPIRun, KPITarget
from kpis.registry import KPIS


class KPITargetForm(forms.ModelForm):
    kpi = forms.ChoiceField(label=_("KPI"), choices=lambda: [(k.key, k.name) for k in KPIS])

    class Meta:
        model = KPITarget
        fields = ["kpi", "team", "value"]


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
