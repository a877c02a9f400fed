"""Template filters over crimebox.display: times once with their zone, human sizes."""

from datetime import datetime

from django import template

from crimebox import display
from crimebox.display import box_time, box_window, human_duration, human_size, mb

register = template.Library()

register.filter("boxtime", box_time)
register.filter("human_size", human_size)
register.filter("human_duration", human_duration)


@register.simple_tag
def window(start: datetime, end: datetime | None) -> str:
    return box_window(start, end)


@register.simple_tag
def zone_name() -> str:
    return display.zone_name()


register.filter("mb", mb)
