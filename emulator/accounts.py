"""Accounts as REST callers and lookups see them: site users, deleted users and installed apps' bot users."""

from __future__ import annotations

from emulator.auth import Caller
from emulator.people import app_account_id, app_user
from emulator.restrictions import Principal
from emulator.site import User
from emulator.state import EmulatorState


def find_account(state: EmulatorState, account_id: str) -> User | None:
    """A site user (deleted ones included) or the bot user of an installed app; None if unknown."""
    user = state.site.user(account_id)
    if user is not None:
        return user
    return next((app_user(a.key) for a in state.apps.all() if app_account_id(a.key) == account_id), None)


def caller_user(state: EmulatorState, caller: Caller) -> User:
    """The account a REST call acts as: the impersonated user for a bearer token, else the app's bot user."""
    user = state.site.user(caller.account_id) if caller.account_id else None
    return user if user is not None else app_user(caller.app_key)


def principal_of(user: User) -> Principal:
    """The principal read restrictions are checked against."""
    return Principal(user.account_id, frozenset(user.groups))


def caller_principal(state: EmulatorState, caller: Caller) -> Principal:
    """The principal of a REST caller."""
    return principal_of(caller_user(state, caller))
