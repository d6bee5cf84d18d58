"""Who may do what: Znuny's permission rule, in one place, for the Python checks and the search's SQL.

The rule, as Znuny 7 has it:
- A group grants a key when the caller holds that key or rw there (rw implies every other key),
  and only while the group is valid: Kernel/System/Group.pm PermissionUserGroupGet keeps the
  groups of `GroupList(Valid => 1)`, CustomerGroup.pm reads `g.valid_id IN (ValidIDsGet())`.
- Agents reach a ticket through its queue's group, or as its owner or responsible, whatever the
  key (Kernel/System/Ticket/Permission/{Group,Owner,Responsible}Check.pm).
- Customer users reach a ticket that is theirs (their login, or their company) and whose queue's
  group they hold (CustomerPermission/GroupCheck.pm is Required). Without CustomerGroupSupport
  they hold every key on every valid group; with it, what group_customer_user grants them and
  group_customer their company, plus Znuny's always-groups (CustomerGroup.pm GroupMemberList).
- Operations that check a group by name (admin, timeaccounting_webservice, the impersonation
  group) ask for rw on it, for agents only (Group.pm PermissionCheck).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gateway.principal import Principal
from gateway.store import agents, customers
from gateway.store.database import Row, Transaction, Value

# the groups operations check by name (Znuny's names); the impersonation group is a setting
ADMIN_GROUP = "admin"
TIME_ACCOUNTING_GROUP = "timeaccounting_webservice"
# Znuny's defaults of CustomerGroupAlwaysGroups and CustomerGroupCompanyAlwaysGroups: with
# CustomerGroupSupport on, every customer user holds every key on these (valid) groups
CUSTOMER_ALWAYS_GROUPS = ("users",)
VALID = 1

# the agent that customer users' actions are recorded as (Znuny's CustomerPanelUserID)
CUSTOMER_PANEL_USER_ID = 1


def acting_user_id(principal: Principal) -> int:
    if principal.is_agent and principal.user_id is not None:  # an agent always has an id
        return principal.user_id
    return CUSTOMER_PANEL_USER_ID


def _granting(key: str) -> tuple[str, str]:
    """The keys that grant `key`: itself and rw, which implies every other key."""
    return key, "rw"


def _grants(keys: Iterable[str], key: str) -> bool:
    return any(k in keys for k in _granting(key))


class Access:
    """The caller's permissions, read once per request: checking many tickets, searching, and
    checking groups by name cost one query together."""

    def __init__(self, tx: Transaction, principal: Principal, *, customer_group_support: bool) -> None:
        self.tx = tx
        self.principal = principal
        self.customer_group_support = customer_group_support
        self._by_id: dict[int, set[str]] | None = None
        self._by_name: dict[str, set[str]] = {}

    def prefetch(self) -> None:
        """Send the query of the caller's groups ahead (Transaction.prefetch): an agent's, the common case."""
        if self._by_id is None and self.principal.is_agent:
            agents.prefetch_permissions(self.tx, acting_user_id(self.principal))

    def _groups(self) -> dict[int, set[str]]:
        """Valid group id -> the keys the caller holds there."""
        if self._by_id is None:
            principal = self.principal
            if principal.is_agent:
                rows = agents.permissions(self.tx, acting_user_id(principal))
            else:
                rows = customers.group_permissions(self.tx, principal.login, principal.customer_id or "")
            self._by_id = {}
            for row in rows:
                if row["valid_id"] != VALID:
                    continue  # an invalid group grants nothing
                keys = self._keys(row)
                if keys:
                    self._by_id.setdefault(row["group_id"], set()).update(keys)
                    self._by_name.setdefault(row["name"], set()).update(keys)
        return self._by_id

    def _keys(self, row: Row) -> set[str]:
        if self.principal.is_agent:
            return {row["permission_key"]}
        if not self.customer_group_support or row["name"] in CUSTOMER_ALWAYS_GROUPS:
            return {"rw"}  # every key
        return {row["permission_key"]} if row["permission_key"] else set()

    def holds(self, group_id: int, key: str) -> bool:
        """Whether the caller holds `key` (or rw) on the valid group."""
        return _grants(self._groups().get(group_id, ()), key)

    def in_group(self, name: str, key: str = "rw") -> bool:
        """An agent's permission on a group named by the operation (customers hold none)."""
        if not self.principal.is_agent:
            return False
        self._groups()
        return _grants(self._by_name.get(name, ()), key)

    def _is_customers(self, ticket: Row) -> bool:
        principal = self.principal
        return ticket["customer_user_id"] == principal.login or (
            bool(principal.customer_id) and ticket["customer_id"] == principal.customer_id
        )

    def allows(self, ticket: Row, permission: str = "ro", group_id: int | None = None) -> bool:
        """Whether the caller may act on the ticket with `permission` (in `group_id`, a queue's group
        it is to move to, when given)."""
        group_id = ticket["group_id"] if group_id is None else group_id
        if self.principal.is_agent:
            if self.principal.user_id in (ticket["user_id"], ticket["responsible_user_id"]):
                return True
            return self.holds(group_id, permission)
        return self._is_customers(ticket) and self.holds(group_id, permission)

    def may_create_in(self, group_id: int) -> bool:
        return self.holds(group_id, "create")

    def may_assign_customer(self, customer_user: str, customer_id: str) -> bool:
        """Agents give tickets to any customer; a customer user only to itself and its own CustomerID.

        Beyond Znuny's TicketCreate and TicketUpdate, which take any CustomerUser and CustomerID from
        a customer login; its customer panel (Kernel/Modules/CustomerTicketMessage.pm) always sets
        both to the caller's own, and that is the rule here, on create and on update: otherwise a
        customer could put tickets (and the mail answering them) on any customer user or company.
        """
        if self.principal.is_agent:
            return True
        return customer_user == self.principal.login and customer_id == (self.principal.customer_id or "")

    def search_predicate(self, permission: str = "ro") -> tuple[str, list[Any]]:
        """`allows` as SQL for TicketSearch (the ticket is `t`): a WHERE fragment and its parameters.

        The caller's groups are a subquery, so a search stays one statement; it reads the same
        rows as `_groups`, with the same validity and the same keys."""
        principal = self.principal
        keys = _granting(permission)
        if principal.is_agent:
            groups = (
                "SELECT gu.group_id FROM group_user gu JOIN permission_groups g ON g.id = gu.group_id"
                " WHERE gu.user_id = ? AND g.valid_id = ? AND gu.permission_key IN (?, ?)"
            )
            return (
                f"(t.queue_id IN (SELECT id FROM queue WHERE group_id IN ({groups}))"
                " OR t.user_id = ? OR t.responsible_user_id = ?)",
                [principal.user_id, VALID, *keys, principal.user_id, principal.user_id],
            )
        company = principal.customer_id or ""
        groups, params = "SELECT id FROM permission_groups WHERE valid_id = ?", list[Value]([VALID])
        if self.customer_group_support:
            always = ", ".join("?" * len(CUSTOMER_ALWAYS_GROUPS))
            groups += (
                f" AND (name IN ({always}) OR id IN (SELECT group_id FROM group_customer_user"
                " WHERE user_id = ? AND permission_key IN (?, ?)) OR id IN (SELECT group_id FROM group_customer"
                " WHERE customer_id = ? AND permission_key IN (?, ?)))"
            )
            params += [*CUSTOMER_ALWAYS_GROUPS, principal.login, *keys, company, *keys]
        in_groups = f"t.queue_id IN (SELECT id FROM queue WHERE group_id IN ({groups}))"
        if company:
            return f"(t.customer_user_id = ? OR t.customer_id = ?) AND {in_groups}", [principal.login, company, *params]
        return f"t.customer_user_id = ? AND {in_groups}", [principal.login, *params]
