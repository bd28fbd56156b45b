"""Reporting: incremental daily aggregates from domain events and the nightly report built from them."""
