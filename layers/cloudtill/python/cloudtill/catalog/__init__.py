"""Catalog domain: products, their variants (SKUs) and prices."""
