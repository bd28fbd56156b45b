"""Payments domain: Stripe PaymentIntents, signed webhooks, refunds.

`ports` (what the domain needs, and the provider's errors), `stripe_adapter` (the one module importing
the Stripe SDK), `stripe_objects` (the parts of Stripe objects we read), `webhooks` and `refunds`
(domain logic), `dynamo` (payment records, webhook dedupe, order lookup). The refund ledger:
`refund_ledger` (claim, refund, settle; the stuck-refund sweep), `refund_claims` (its items and the
transaction parts an owner composes), `claims_dynamo` (its adapter).
"""
