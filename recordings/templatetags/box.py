from django import template

from recordings.health import health_status

register = template.Library()


@register.simple_tag
def box_health():
    return health_status()
