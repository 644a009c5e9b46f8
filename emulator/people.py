"""Who is on the emulated site: users, groups, deleted accounts and the accounts of installed apps.

Account ids are global in Atlassian, so they are the same on every emulator. A deleted account keeps its id
but Confluence shows it as "Former user" everywhere; an app gets a bot account of its own when installed,
and (as on a real site) that account is in the ``atlassian-addons-admin`` group.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Final

ADMIN_ACCOUNT_ID: Final = "557058:0a1d3c5e-7f90-4b2d-8e41-a6c9d0000001"
USER_ACCOUNT_ID: Final = "557058:0a1d3c5e-7f90-4b2d-8e41-a6c9d0000002"
#: A deleted account: it still edited pages, users-bulk returns it as "Former user" with status closed.
DELETED_ACCOUNT_ID: Final = "557058:0a1d3c5e-7f90-4b2d-8e41-a6c9d0000099"
#: An account this site never knew (e.g. from another site); it edited pages, users-bulk omits it.
UNKNOWN_ACCOUNT_ID: Final = "557058:0a1d3c5e-7f90-4b2d-8e41-a6c9d00000ff"
FORMER_USER: Final = "Former user"

SITE_ADMINS: Final = "site-admins"
CONFLUENCE_USERS: Final = "confluence-users"
APPS_GROUP: Final = "atlassian-addons-admin"
_APP_NAMESPACE: Final = uuid.UUID("6d1d5a3e-0c57-4d7e-9a59-9d6f6b1b2c01")


@dataclass(frozen=True, slots=True)
class User:
    """A Confluence account; only ``is_admin`` users get the application ``administer`` operation."""

    account_id: str
    display_name: str
    email: str
    is_admin: bool = False
    groups: tuple[str, ...] = (CONFLUENCE_USERS,)
    account_type: str = "atlassian"  # "atlassian" | "app"
    status: str = "active"  # "active" | "closed" (deleted)

    @property
    def active(self) -> bool:
        """True unless the account was deleted."""
        return self.status == "active"


@dataclass(frozen=True, slots=True)
class Group:
    """A user group; Confluence Cloud groups have a UUID id and a name."""

    name: str

    @property
    def id(self) -> str:
        """A stable UUID derived from the name."""
        return str(uuid.uuid5(_APP_NAMESPACE, f"group:{self.name}"))


GROUPS: Final[tuple[Group, ...]] = (Group(SITE_ADMINS), Group(CONFLUENCE_USERS), Group(APPS_GROUP))

USERS: Final[tuple[User, ...]] = (
    User(
        ADMIN_ACCOUNT_ID,
        "Ada Admin",
        "ada.admin@example.test",
        is_admin=True,
        groups=(SITE_ADMINS, CONFLUENCE_USERS),
    ),
    User(USER_ACCOUNT_ID, "Una User", "una.user@example.test"),
    User("557058:0a1d3c5e-7f90-4b2d-8e41-a6c9d0000003", "Björn Åkesson", "bjorn@example.test"),
    User("712020:0a1d3c5e-7f90-4b2d-8e41-a6c9d0000004", "Chidi O'Neil", "chidi@example.test"),
    # Edit-only accounts whose names need escaping or are not ASCII (they edited seeded pages).
    User("712020:0a1d3c5e-7f90-4b2d-8e41-a6c9d0000005", 'Zoë "Zed" <b>Ng</b> & Co', "zoe@example.test"),
    User("557058:0a1d3c5e-7f90-4b2d-8e41-a6c9d0000006", "李小龍 (Lǐ Xiǎolóng)", "li@example.test"),
    User("557058:0a1d3c5e-7f90-4b2d-8e41-a6c9d0000007", "<script>alert('x')</script>", "x@example.test"),
    User(DELETED_ACCOUNT_ID, FORMER_USER, "", groups=(), status="closed"),
)

#: The accounts the original seed draws page and blog post creators from (the draw order is part of the
#: seed: changing this tuple changes every site).
CREATORS: Final[tuple[User, ...]] = USERS[:4]
#: Accounts that made the latest edit of seeded content, picked by a rule on the id (not the seed's random
#: stream, so adding editors did not change anything else): every user, the deleted one and an unknown one.
EDITOR_IDS: Final[tuple[str, ...]] = (*(u.account_id for u in USERS), UNKNOWN_ACCOUNT_ID)


def shown_name(user: User) -> str:
    """The name Confluence shows for an account: "Former user" once it is closed (deleted)."""
    return user.display_name if user.active else FORMER_USER


def closed(user: User) -> User:
    """The account as it is after deletion: the id stays, the personal data and group memberships go."""
    return User(user.account_id, FORMER_USER, "", groups=(), account_type=user.account_type, status="closed")


def app_account_id(app_key: str) -> str:
    """The account id of an app's bot user: stable for an app key on every emulator."""
    return f"557058:{uuid.uuid5(_APP_NAMESPACE, f'app:{app_key}')}"


def app_user(app_key: str) -> User:
    """The bot account Confluence creates for an installed app (in the ``atlassian-addons-admin`` group)."""
    return User(
        app_account_id(app_key),
        app_key,
        "",
        groups=(APPS_GROUP,),
        account_type="app",
    )


def group_by_name(name: str) -> Group | None:
    """The group with this name, if the site has it."""
    return next((g for g in GROUPS if g.name == name), None)
