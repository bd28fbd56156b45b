"""Which construct builds which domain's functions.

A function whose domain has no construct here fails the synth: deploying it would give it a role
that can touch nothing, so it would fail at run time instead. Adding a domain = one module in
`infra/constructs/` with its `grant_*` calls, listed below.
"""

from __future__ import annotations

from infra.constructs.catalog import CatalogDomain
from infra.constructs.checkout import CheckoutDomain
from infra.constructs.domain import DomainFunctions
from infra.constructs.events import EventsDomain
from infra.constructs.notifications import NotificationsDomain
from infra.constructs.orders import OrdersDomain
from infra.constructs.payments import PaymentsDomain
from infra.constructs.privacy import PrivacyDomain
from infra.constructs.reporting import ReportingDomain
from infra.constructs.stock import StockDomain

DOMAIN_CONSTRUCTS: dict[str, type[DomainFunctions]] = {
    cls.domain: cls
    for cls in (
        CatalogDomain,
        CheckoutDomain,
        EventsDomain,
        NotificationsDomain,
        OrdersDomain,
        PaymentsDomain,
        PrivacyDomain,
        ReportingDomain,
        StockDomain,
    )
}


class UnknownDomainError(LookupError):
    pass


def domain_construct(domain: str) -> type[DomainFunctions]:
    try:
        return DOMAIN_CONSTRUCTS[domain]
    except KeyError:
        raise UnknownDomainError(
            f"no construct grants the {domain!r} domain its permissions: add "
            f"infra/constructs/{domain}.py (a DomainFunctions subclass with domain = {domain!r} "
            f"and its grant_* calls) and list it in infra/constructs/registry.py"
        ) from None
