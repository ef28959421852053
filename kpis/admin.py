from django.contrib import admin

from kpis.models import KPIRun, KPITarget


@admin.register(KPITarget)
class KPITargetAdmin(admin.ModelAdmin):
    list_display = ["kpi", "team", "value"]
    list_filter = ["kpi", "team"]


@admin.register(KPIRun)
class KPIRunAdmin(admin.ModelAdmin):
    list_display = ["started_at", "finished_at", "full", "first_day", "periods", "rows"]
    readonly_fields = ["started_at", "finished_at", "full", "first_day", "periods", "rows"]

    def has_add_permission(self, request):
        return False
