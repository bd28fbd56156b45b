"""Checkout domain: priced checkouts that reserve stock (and promotion redemptions) atomically,
and give both back when the checkout expires."""
