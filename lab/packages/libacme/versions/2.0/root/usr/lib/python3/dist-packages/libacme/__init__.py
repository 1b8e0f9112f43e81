"""libacme @VERSION@: pricing for the acme shop.

2.0: the pricing engine was rewritten around an ``Order``; ``order_total`` now takes one
order and the tax comes from the order's region.
"""

__version__ = "@VERSION@"

TAX_BY_REGION = {"eu": 0.2, "us": 0.07}


class Order:
    def __init__(self, lines, region="eu"):
        self.lines = lines
        self.region = region


def order_total(order):
    """Total of an ``Order`` including the tax of its region, rounded to cents."""
    net = sum(line["price"] * line["qty"] for line in order.lines)
    return round(net * (1.0 + TAX_BY_REGION[order.region]), 2)
