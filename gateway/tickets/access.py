"""Who may do what with a ticket: Znuny's permission rule, in one place.

Agents reach a ticket through its queue's group (rw implies every other key) or as its
owner or responsible; customer users through their own login or their company.
"""

from __future__ import annotations

from gateway.auth import Principal
from gateway.store import ticket_rows
from gateway.store.database import Row, Transaction

# the agent that customer users' actions are recorded as (Znuny's CustomerPanelUserID)
CUSTOMER_PANEL_USER_ID = 1


def acting_user_id(principal: Principal) -> int:
    if principal.is_agent and principal.user_id is not None:  # an agent always has an id
        return principal.user_id
    return CUSTOMER_PANEL_USER_ID


class Access:
    """The caller's permissions, read once per request: checking many tickets costs one query.

    Znuny's rules: agents through the queue's group (rw implies every other key) or as the
    ticket's owner or responsible; customers through their own login or company.
    """

    def __init__(self, tx: Transaction, principal: Principal) -> None:
        self.tx = tx
        self.principal = principal
        self._groups: dict[int, set[str]] | None = None

    def _agent_keys(self, group_id: int) -> set[str]:
        if self._groups is None:
            self._groups = ticket_rows.agent_permissions(self.tx, acting_user_id(self.principal))
        return self._groups.get(group_id, set())

    def allows(self, ticket: Row, permission: str = "ro") -> bool:
        principal = self.principal
        if principal.is_agent:
            if principal.user_id in (ticket["user_id"], ticket["responsible_user_id"]):
                return True
            return bool(self._agent_keys(ticket["group_id"]) & {permission, "rw"})
        return ticket["customer_user_id"] == principal.login or (
            bool(principal.customer_id) and ticket["customer_id"] == principal.customer_id)

    def may_create_in(self, group_id: int, customer_group_support: bool) -> bool:
        if self.principal.is_agent:
            return bool(self._agent_keys(group_id) & {"create", "rw"})
        if not customer_group_support:
            return True
        return ticket_rows.customer_has_permission(self.tx, self.principal.login, self.principal.customer_id or "",
                                               group_id, "create")
