"""Events domain: the outbox publisher (main table stream -> the stack's EventBridge bus)."""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_

from infra.constructs.domain import DomainFunctions
from infra.function_factory import FunctionDependencies
from infra.wiring import FunctionSpec


class EventsDomain(DomainFunctions):
    domain = "events"

    def grant(
        self, spec: FunctionSpec, function: lambda_.Function, dependencies: FunctionDependencies
    ) -> None:
        # PutEvents on this stack's bus only. The stream read comes with the event source mapping
        # (`infra/constructs/eventing.py`), and the publisher never writes the table: the outbox
        # items expire by TTL.
        dependencies.event_bus.grant_put_events_to(function)
