"""Connect webhooks: the events apps subscribe to in ``modules.webhooks``, sent the way Confluence sends them.

Each content change becomes one POST per subscribed, enabled app that may view the content, to the module
``url`` under the app's ``baseUrl`` with ``lic=none`` appended (as Confluence appends it), carrying
``Authorization: JWT <HS256 token>`` signed with the app's shared secret: ``iss`` = the site's clientKey,
``iat``, ``exp = iat + 180``, ``qsh`` = ``hash_url("POST", <URL relative to the app baseUrl, with query>)``.
The body is the shape captured from Confluence Cloud (see docs/emulator.md); ``excludeBody: true`` sends
none. Delivery is best effort, once, with no retries, like Confluence's (the Connect webhook module docs:
"webhook delivery is not guaranteed"): https://developer.atlassian.com/cloud/confluence/modules/webhook/

A single background thread sends deliveries in order from a bounded queue (a full queue drops the new
delivery and logs it), each with its own timeout; tests can hold deliveries (pause/resume), wait for the
queue to drain (flush), and inject duplicates or a seeded shuffle of a held batch.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final

import jwt
import requests
from atlassian_jwt.url_utils import hash_url

from emulator.people import app_user
from emulator.restrictions import Principal
from emulator.shapes import webui_path
from emulator.site import Content, Site, iso

if TYPE_CHECKING:
    from emulator.apps import AppRecord
    from emulator.state import EmulatorState

TOKEN_LIFETIME: Final = 180
QUEUE_LIMIT: Final = 1000
LOG_LIMIT: Final = 2000
LICENSE_QUERY: Final = "lic=none"


@dataclass(frozen=True)
class ContentEvent:
    """A change to a page or blog post: the event name, the content as it now is, who did it and when."""

    event: str
    item: Content
    actor: str
    at: float


@dataclass
class Delivery:
    """One POST to one app (a duplicate is a second Delivery with ``duplicate`` set)."""

    id: int
    app_key: str
    event: str
    content_id: int
    url: str  # absolute, with query
    relative: str  # relative to the app baseUrl path: what the qsh covers
    body: bytes | None
    created: float
    state: str = "queued"  # queued | held | sending | sent | failed | dropped
    status: int | None = None
    attempts: int = 0
    error: str = ""
    sent_at: float | None = None
    duplicate: bool = False

    def to_json(self) -> dict[str, Any]:
        """The delivery log entry."""
        return {
            "id": self.id,
            "event": self.event,
            "appKey": self.app_key,
            "contentId": str(self.content_id),
            "url": self.url,
            "state": self.state,
            "status": self.status,
            "attempts": self.attempts,
            "timestamp": iso(self.created),
            "sentAt": iso(self.sent_at) if self.sent_at is not None else None,
            "error": self.error,
            "duplicate": self.duplicate,
        }


@dataclass
class DeliveryFaults:
    """Fault injection for tests: send each delivery twice; shuffle a held batch (seeded) on resume."""

    duplicate: bool = False
    shuffle: bool = False
    seed: int = 0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def to_json(self) -> dict[str, Any]:
        """The settings as the control API shows them."""
        return {"duplicate": self.duplicate, "shuffle": self.shuffle, "seed": self.seed}


def _ms(ts: float) -> int:
    return round(ts * 1000)


def content_json(site: Site, item: Content) -> dict[str, Any]:
    """The ``page``/``blog`` object of a webhook body, as Confluence Cloud sends it."""
    space = site.space(item.space_id)
    key = space.key if space else ""
    return {
        "idAsString": str(item.id),
        "creatorAccountId": item.author_id,
        "spaceKey": key,
        "spaceId": item.space_id,
        "modificationDate": _ms(item.modified_at),
        "lastModifierAccountId": item.last_editor,
        "self": f"{site.base_url}{webui_path(site, item)}",
        "id": item.id,
        "title": item.title,
        "creationDate": _ms(item.created_at),
        "contentType": item.kind,
        "version": item.version,
    }


def payload(site: Site, event: ContentEvent) -> dict[str, Any]:
    """The whole webhook body: the actor, the content under ``page`` or ``blog``, and a timestamp."""
    body: dict[str, Any] = {"userAccountId": event.actor, "accountType": "customer"}
    if event.event.endswith("_updated"):
        body["updateTrigger"] = "edit_page"
        body["suppressNotifications"] = False
    body["page" if event.item.kind == "page" else "blog"] = content_json(site, event.item)
    body["timestamp"] = _ms(event.at)
    return body


def subscriptions(record: AppRecord, event: str) -> list[dict[str, Any]]:
    """The app's webhook modules for ``event`` (malformed entries are ignored, as an install would reject)."""
    return [
        m
        for m in record.modules("webhooks")
        if m.get("event") == event and isinstance(m.get("url"), str) and m["url"]
    ]


def app_url(base_url: str, url: str, what: str) -> tuple[str, str]:
    """(absolute URL, URL relative to the app baseUrl path) of a module or lifecycle URL; ValueError if
    it is absolute but not under the app's baseUrl (``what`` names it in the message)."""
    base = base_url.rstrip("/")
    if url.startswith(("http://", "https://")):
        if not url.startswith(base):
            raise ValueError(f"{what} URL {url} is not under the app baseUrl {base}")
        url = url[len(base) :] or "/"
    if not url.startswith("/"):
        url = "/" + url
    return base + url, url


def target(base_url: str, url: str) -> tuple[str, str]:
    """:func:`app_url` of a webhook module, with ``lic=none`` appended."""
    _, url = app_url(base_url, url, "webhook")
    relative = f"{url}{'&' if '?' in url else '?'}{LICENSE_QUERY}"
    return base_url.rstrip("/") + relative, relative


def token(client_key: str, secret: str, relative: str, now: float | None = None) -> str:
    """The webhook JWT: HS256 with the app's shared secret, ``iss`` = clientKey, ``qsh`` for the URL."""
    iat = int(time.time() if now is None else now)
    claims = {"iss": client_key, "iat": iat, "exp": iat + TOKEN_LIFETIME, "qsh": hash_url("POST", relative)}
    return jwt.encode(claims, secret, algorithm="HS256")


class WebhookSender:
    """The delivery queue, its sending thread (started on first use) and the delivery log."""

    def __init__(self, timeout: float = 5.0) -> None:
        self.timeout = timeout
        self.faults = DeliveryFaults()
        self._cond = threading.Condition()
        self._queue: deque[Delivery] = deque()
        self._log: deque[Delivery] = deque()
        self._paused = False
        self._in_flight = 0
        self._next_id = 1
        self._thread: threading.Thread | None = None
        self._state: EmulatorState | None = None

    # -- producing ---------------------------------------------------------------------------------

    def publish(self, state: EmulatorState, event: ContentEvent) -> list[Delivery]:
        """Queue ``event`` for every enabled app subscribed to it that may view the content."""
        import json

        site = state.site
        body = json.dumps(payload(site, event), ensure_ascii=False).encode()
        made: list[Delivery] = []
        for record in state.apps.all():
            modules = subscriptions(record, event.event) if record.enabled else []
            if not modules:
                continue
            bot = app_user(record.key)
            if not state.access.can_read(Principal(bot.account_id, frozenset(bot.groups)), event.item):
                continue  # Confluence does not tell an app about content its user cannot view
            for module in modules:
                made.append(self._delivery(record, module, event, body))
        self._submit(state, made)
        return made

    def _delivery(
        self, record: AppRecord, module: dict[str, Any], event: ContentEvent, body: bytes
    ) -> Delivery:
        with self._cond:
            delivery_id = self._next_id
            self._next_id += 1
        delivery = Delivery(
            id=delivery_id,
            app_key=record.key,
            event=event.event,
            content_id=event.item.id,
            url="",
            relative="",
            body=None if module.get("excludeBody") is True else body,
            created=time.time(),
        )
        try:
            delivery.url, delivery.relative = target(record.base_url, str(module["url"]))
        except ValueError as exc:
            delivery.url, delivery.state, delivery.error = str(module["url"]), "dropped", str(exc)
        return delivery

    def _submit(self, state: EmulatorState, deliveries: list[Delivery]) -> None:
        with self._cond:
            self._state = state
            for delivery in deliveries:
                copies = [delivery]
                if self.faults.duplicate and delivery.state != "dropped":
                    with_new_id = replace(delivery, id=self._next_id, duplicate=True)
                    self._next_id += 1
                    copies.append(with_new_id)
                for copy in copies:
                    self._log.append(copy)
                    if copy.state == "dropped":
                        continue
                    if len(self._queue) >= QUEUE_LIMIT:
                        copy.state, copy.error = "dropped", "queue full"
                        continue
                    copy.state = "held" if self._paused else "queued"
                    self._queue.append(copy)
            while len(self._log) > LOG_LIMIT and self._log[0].state not in ("queued", "held", "sending"):
                self._log.popleft()
            if self._queue and self._thread is None:
                self._thread = threading.Thread(target=self._run, name="emulator-webhooks", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    # -- sending -----------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._paused or not self._queue:
                    self._cond.wait()
                delivery = self._queue.popleft()
                delivery.state = "sending"
                self._in_flight += 1
                state = self._state
            try:
                if state is not None:
                    self._send(state, delivery)
            finally:
                with self._cond:
                    self._in_flight -= 1
                    self._cond.notify_all()

    def _send(self, state: EmulatorState, delivery: Delivery) -> None:
        record = state.apps.get(delivery.app_key)
        if record is None or not record.enabled:
            delivery.state, delivery.error = "dropped", "the app is no longer installed and enabled"
            return
        headers = {
            "Authorization": f"JWT {token(state.site.client_key, record.shared_secret, delivery.relative)}",
            "User-Agent": "Confluence-Emulator",
        }
        if delivery.body is not None:
            headers["Content-Type"] = "application/json"
        delivery.attempts += 1
        delivery.sent_at = time.time()
        try:
            response = requests.post(
                delivery.url, data=delivery.body or b"", headers=headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            delivery.state, delivery.error = "failed", f"{type(exc).__name__}: {exc}"[:300]
            return
        delivery.status = response.status_code
        delivery.state = "sent" if 200 <= response.status_code < 300 else "failed"

    # -- control -----------------------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        """True while deliveries are held."""
        return self._paused

    def pending(self) -> int:
        """Deliveries queued, held or being sent."""
        with self._cond:
            return len(self._queue) + self._in_flight

    def log(self) -> list[dict[str, Any]]:
        """The delivery log, oldest first."""
        with self._cond:
            return [d.to_json() for d in self._log]

    def clear_log(self) -> None:
        """Forget finished deliveries (queued and held ones stay)."""
        with self._cond:
            self._log = deque(d for d in self._log if d.state in ("queued", "held", "sending"))

    def pause(self) -> None:
        """Hold new and queued deliveries until :meth:`resume`."""
        with self._cond:
            self._paused = True
            for delivery in self._queue:
                delivery.state = "held"

    def resume(self) -> list[int]:
        """Release held deliveries (shuffled with the seeded generator if ``shuffle`` is on); their ids in
        the order they will be sent."""
        with self._cond:
            held = list(self._queue)
            if self.faults.shuffle:
                self.faults.rng.shuffle(held)
            for delivery in held:
                delivery.state = "queued"
            self._queue = deque(held)
            self._paused = False
            self._cond.notify_all()
            return [d.id for d in held]

    def flush(self, timeout: float) -> int:
        """Wait (at most ``timeout`` seconds) until nothing is queued or in flight; the number left."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while (self._queue or self._in_flight) and not self._paused:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return len(self._queue) + self._in_flight

    def set_faults(self, duplicate: bool, shuffle: bool, seed: int) -> None:
        """Replace the fault settings; the shuffle generator restarts from ``seed``."""
        with self._cond:
            self.faults = DeliveryFaults(duplicate, shuffle, seed, random.Random(seed))
