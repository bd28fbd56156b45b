"""The order workflow: the tasks of the order-lifecycle state machine
(`infra/statemachines/order_lifecycle.asl.json`) and their bookkeeping.

`contracts` (what the state machine's tasks take and return, the attribute names of task tokens and
step markers), `ports` (the bookkeeping's storage, the checkout as the workflow uses it), `dynamo` (its
adapter, and the store the tasks run on), `lifecycle` (the tasks), `checkout_link` and `factory`.
The order itself is `cloudtill.orders`; refunds go through the payments domain's refund ledger.
"""
