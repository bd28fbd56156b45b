"""Which construct builds which domain's functions. Unlisted domains get the grant-nothing base."""

from __future__ import annotations

from infra.constructs.catalog import CatalogDomain
from infra.constructs.domain import DomainFunctions

DOMAIN_CONSTRUCTS: dict[str, type[DomainFunctions]] = {cls.domain: cls for cls in (CatalogDomain,)}


def domain_construct(domain: str) -> type[DomainFunctions]:
    return DOMAIN_CONSTRUCTS.get(domain, DomainFunctions)
