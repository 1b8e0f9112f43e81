"""libacme @VERSION@: pricing for the acme shop.

2.0: the pricing engine was rewritten around an ``Order``.
2.0.1: ``order_total(items, tax_rate)`` from 1.x works again (compatibility restored).
"""

__version__ = "@VERSION@"

TAX_BY_REGION = {"eu": 0.2, "us": 0.07}


class Order:
    def __init__(self, lines, region="eu"):
        self.lines = lines
        self.region = region


def order_total(order, tax_rate=None):
    """Total of an ``Order`` (or of a list of items, as in 1.x) plus tax, rounded to cents."""
    if isinstance(order, Order):
        lines = order.lines
        rate = TAX_BY_REGION[order.region] if tax_rate is None else tax_rate
    else:
        lines = order
        rate = 0.0 if tax_rate is None else tax_rate
    net = sum(line["price"] * line["qty"] for line in lines)
    return round(net * (1.0 + rate), 2)
