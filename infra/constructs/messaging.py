"""Messaging: the regional EventBridge bus every domain event is published to."""

from __future__ import annotations

from aws_cdk import aws_events as events
from constructs import Construct


class Messaging(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: str) -> None:
        super().__init__(scope, construct_id)
        # A named bus so operators (and localrt) recognise it; bus names are per region.
        self.event_bus = events.EventBus(self, "EventBus", event_bus_name=f"cloudtill-{stage}")
