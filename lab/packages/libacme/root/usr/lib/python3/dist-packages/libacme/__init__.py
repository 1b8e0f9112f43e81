"""libacme @VERSION@: pricing for the acme shop."""

__version__ = "@VERSION@"


def order_total(items, tax_rate=0.0):
    """Total of an order: sum of price * qty of every item, plus tax, rounded to cents."""
    net = sum(item["price"] * item["qty"] for item in items)
    return round(net * (1.0 + tax_rate), 2)
