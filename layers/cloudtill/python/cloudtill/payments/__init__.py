"""Payments domain: Stripe PaymentIntents, signed webhooks, refunds.

`ports` (what the domain needs), `stripe_adapter` (the one module importing the Stripe SDK),
`stripe_objects` (the parts of Stripe objects we read), `webhooks` and `refunds` (domain logic), `dynamo`
(payment records, webhook dedupe, order lookup).
"""
