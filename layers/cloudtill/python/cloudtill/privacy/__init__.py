"""Privacy: everything held about a customer (export) and erasure of their personal data.

A customer is found through GSI2 `EMAIL#<sha256(normalised email)>` (docs/data-model.md, access
pattern 22): checkouts and orders carry it. Erasure pseudonymises the personal fields (email, name,
address lines, postal code, phone) and keeps the financial record (ids, lines, amounts, tax country,
payment references), removes the GSI2 link, and records an erasure marker plus a `CustomerErased`
outbox event in the same transaction.
"""
