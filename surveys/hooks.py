"""The points where other apps take part in a survey's life, without ``surveys`` importing them
(complaints sit above surveys). Subscribed in ``config/reactions.py``."""

from __future__ import annotations

from tickets.hooks import Hook

follow_up_opened = Hook(
    "follow_up_opened",
    "response: an unhappy answer opened its follow-up ticket, ``response.follow_up`` (in its transaction).",
)
