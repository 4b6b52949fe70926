"""Small formatting filters: fractions as percentages, money with a sign."""

from django import template

register = template.Library()


@register.filter
def pct(value, digits=1):
    """0.9984 -> '99.8 %'; None -> '—'."""
    if value in (None, ""):
        return "—"
    return f"{float(value) * 100:.{int(digits)}f} %"


@register.filter
def usd(value, digits=0):
    """1234.5 -> '$1,235'; negative values keep their sign; None -> '—'."""
    if value in (None, ""):
        return "—"
    v = float(value)
    return f"{'-' if v < 0 else ''}${abs(v):,.{int(digits)}f}"


@register.filter
def get(mapping, key):
    return (mapping or {}).get(key)
