from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def person(user, empty: str = "—") -> str:
    """A user as colleagues know them: full name, else login; ``empty`` for nobody."""
    if user is None:
        return empty
    return user.get_full_name() or user.get_username()


@register.simple_tag
def actor(user) -> str:
    """Who did something in a timeline: a person, or the system itself."""
    return person(user, _("System"))
