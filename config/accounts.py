"""Agents change their own password, or get a reset link by e-mail when they forgot it.

Django's own views; the reset e-mail goes through the outbox like every other message,
its link written in only as it is sent (``outbox.links``), and both forms are throttled.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.tokens import default_token_generator
from django.urls import reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import get_language
from django_ratelimit.decorators import ratelimit

from outbox import links
from outbox.services import queue_email


def password_reset_link(pk: int) -> str:
    """``outbox.links``: a fresh reset link for user ``pk``, made as the e-mail goes out."""
    user = get_user_model().objects.get(pk=pk)
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return settings.SITE_URL + reverse("password_reset_confirm", args=[uid, token])


class OutboxPasswordResetForm(PasswordResetForm):
    """The reset e-mail is written to the outbox and sent by a worker, never from the request."""

    def send_mail(self, subject_template_name, email_template_name, context, from_email, to_email,
                  html_email_template_name=None) -> None:  # fmt: skip
        user = context["user"]
        queue_email(
            to=to_email,
            template="password_reset",
            context={"user": user, "url": links.placeholder("password_reset", user.pk),
                     "desk_name": settings.DESK_NAME, "hours": settings.PASSWORD_RESET_TIMEOUT // 3600},
            language=get_language() or settings.LANGUAGE_CODE,
            kind="password_reset",
        )  # fmt: skip


def _email_key(group: str, request) -> str:
    return (request.POST.get("email") or "").strip().lower()


@method_decorator(ratelimit(key="ip", rate="10/h", method="POST"), name="post")
@method_decorator(ratelimit(key=_email_key, rate="3/h", method="POST"), name="post")
class PasswordResetView(auth_views.PasswordResetView):
    form_class = OutboxPasswordResetForm
    success_url = reverse_lazy("password_reset_done")


@method_decorator(ratelimit(key="user", rate="10/h", method="POST"), name="post")
class PasswordChangeView(auth_views.PasswordChangeView):
    success_url = reverse_lazy("password_change_done")


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    success_url = reverse_lazy("password_reset_complete")

    def dispatch(self, *args, **kwargs):
        response = super().dispatch(*args, **kwargs)
        response["Referrer-Policy"] = "no-referrer"  # the link's token must not travel on
        return response
