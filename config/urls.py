from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView

from config import accounts, health
from config.api import TokenObtainApi, api_not_found

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="tickets:list", permanent=False)),
    path("healthz", health.healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/change/", accounts.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("accounts/password/reset/", accounts.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/password/reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "accounts/reset/<uidb64>/<token>/", accounts.PasswordResetConfirmView.as_view(), name="password_reset_confirm"
    ),
    path("accounts/reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("tickets/", include("tickets.urls")),
    path("admin/", admin.site.urls),
    path("api/auth/token/", TokenObtainApi.as_view(), name="api-token"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("s/", include("surveys.public_urls")),
    path("surveys/", include("surveys.urls")),
    path("dashboard/", include("kpis.urls")),
    path("complaints/", include("complaints.urls")),
    path("notifications/", include("notifications.urls")),
    path("mail/", include("mailboxes.urls")),
    path("api/", include("tickets.api_urls")),
    path("api/", include("surveys.api_urls")),
    path("api/", include("kpis.api_urls")),
    path("api/", include("complaints.api_urls")),
    re_path(r"^api/", api_not_found),
    path("dev/outbox/", include("outbox.urls")),  # 404 unless DEBUG
]

handler500 = "config.views.server_error"
