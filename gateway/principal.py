"""Who is calling: an agent or a customer user, as authentication found them.

A leaf, so that authentication (which makes principals) and the ticket domain (which asks
what a principal may do) both use it without importing each other.
"""

from __future__ import annotations

import dataclasses

AGENT, CUSTOMER = "User", "Customer"  # Znuny's UserType values


@dataclasses.dataclass(frozen=True)
class Principal:
    user_type: str  # AGENT or CUSTOMER, as Znuny's UserType
    login: str
    user_id: int | None = None  # agents only
    customer_id: str | None = None  # customers only
    impersonated_by: str | None = None

    @property
    def is_agent(self) -> bool:
        return self.user_type == AGENT
