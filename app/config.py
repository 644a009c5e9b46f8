"""The app's configuration: defaults, ``APP_*`` environment variables, and validation at start-up.

Every setting has a config key (``BASE_URL``) and an environment variable (``APP_BASE_URL``).
A bad value stops the app at start-up with a message naming the variable, instead of failing on
the first install callback.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from app.secrets_at_rest import parse_keys

INSTANCE_DIR: Final = Path(__file__).resolve().parent.parent / "instance"

DEFAULTS: Final[Mapping[str, Any]] = {
    "BASE_URL": "http://localhost:5000",
    "DATABASE_URL": f"sqlite:///{INSTANCE_DIR / 'app.db'}",
    "INSTALL_KEYS_URL": "https://connect-install-keys.atlassian.com",
    "ALLOWED_TENANT_HOSTS": ["*.atlassian.net", "*.jira-dev.com"],
    "SECRET_KEY": None,
    "KEY": "com.example.confluence-freshness",
    "NAME": "Content Freshness",
    "OAUTH_URL": "https://oauth-2-authorization-server.services.atlassian.com",
    "ALL_JS_URL": "https://connect-cdn.atl-paas.net/all.js",
    "INSTALL_KEYS_TIMEOUT": 5.0,
    "CONFLUENCE_TIMEOUT": 10.0,
    "CONFLUENCE_MAX_ATTEMPTS": 5,
    "CONFLUENCE_MAX_RETRY_AFTER": 30.0,
    "CONFLUENCE_MAX_TOTAL_SECONDS": 60.0,
    "PRODUCTION": False,
    "TRUSTED_PROXY_COUNT": 0,
    "SECRETS_KEYS": "",
    "REDIS_URL": None,
    "JOBS_SQLITE_PATH": str(INSTANCE_DIR / "jobs.db"),
    "JOBS_NAME": "freshness",
    "SCANS_PER_TENANT": 1,
    "SCAN_LEASE_SECONDS": 120.0,
    "SCAN_CHECKPOINT_PAGES": 4,
    "SCAN_MAX_ATTEMPTS": 5,
    "WARM_VIEWED_DAYS": 7,
    "WARM_AHEAD_SECONDS": 300.0,
    # How long a process may serve a tenant, its settings and its report versions as it last read them
    # from the database (docs/architecture.md, "The hot path"): the bound within which an uninstall or
    # a reinstall's new secret is seen by every process. 0 reads the database on every request.
    "HOT_CACHE_SECONDS": 1.0,
    # Warm iframe loads answered below Flask's request cycle (app/hot_path.py); false sends every
    # request through Flask (an operator's switch: the answers are the same, only slower).
    "HOT_PATH": True,
    "METRICS_TOKEN": None,
    "LOG_FORMAT": "text",
    # The web process writes its lines to standard error in batches, this long after the first one
    # (app/observability/stderr_batches.py); 0 writes each line at once.
    "LOG_BATCH_SECONDS": 0.05,
    "UNINSTALLED_RETENTION_DAYS": 30,
    # Atlassian's personal data reporting API: a path is resolved against each tenant's baseUrl (as
    # every REST call is); an absolute URL is used as is (e.g. https://api.atlassian.com/app/report-accounts/).
    "PERSONAL_DATA_URL": "/app/report-accounts/",
    # The app sets no cookie (tokens carry the context); should Flask's session ever set one, it is
    # a third-party cookie inside Confluence's iframe: Secure, HttpOnly and SameSite=None.
    "SESSION_COOKIE_SECURE": True,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "None",
}

#: Settings read from the environment, with the type each must parse to.
_TYPES: Final[Mapping[str, type]] = {
    "BASE_URL": str,
    "DATABASE_URL": str,
    "INSTALL_KEYS_URL": str,
    "ALLOWED_TENANT_HOSTS": list,
    "SECRET_KEY": str,
    "KEY": str,
    "NAME": str,
    "OAUTH_URL": str,
    "ALL_JS_URL": str,
    "INSTALL_KEYS_TIMEOUT": float,
    "CONFLUENCE_TIMEOUT": float,
    "CONFLUENCE_MAX_ATTEMPTS": int,
    "CONFLUENCE_MAX_RETRY_AFTER": float,
    "CONFLUENCE_MAX_TOTAL_SECONDS": float,
    "PRODUCTION": bool,
    "TRUSTED_PROXY_COUNT": int,
    "SECRETS_KEYS": str,
    "REDIS_URL": str,
    "JOBS_SQLITE_PATH": str,
    "JOBS_NAME": str,
    "SCANS_PER_TENANT": int,
    "SCAN_LEASE_SECONDS": float,
    "SCAN_CHECKPOINT_PAGES": int,
    "SCAN_MAX_ATTEMPTS": int,
    "WARM_VIEWED_DAYS": int,
    "WARM_AHEAD_SECONDS": float,
    "HOT_CACHE_SECONDS": float,
    "HOT_PATH": bool,
    "METRICS_TOKEN": str,
    "LOG_FORMAT": str,
    "LOG_BATCH_SECONDS": float,
    "UNINSTALLED_RETENTION_DAYS": int,
    "PERSONAL_DATA_URL": str,
}

_APP_KEY_PATTERN: Final = re.compile(r"^[a-zA-Z0-9\-._]{1,80}$")
#: A bearer token as an HTTP header carries it (RFC 6750 token68), long enough not to be guessed.
_METRICS_TOKEN_PATTERN: Final = re.compile(r"^[A-Za-z0-9\-._~+/]{24,256}=*$")
LOG_FORMATS: Final = ("text", "json")


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the environment variable."""


def _parse(name: str, raw: str, kind: type) -> Any:
    env = f"APP_{name}"
    if kind is str:
        return raw
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{env} must be a whole number, got {raw!r}") from None
    if kind is float:
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{env} must be a number, got {raw!r}") from None
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(f"{env} must be true or false, got {raw!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise ConfigError(f'{env} must be a JSON list such as ["*.atlassian.net"], got {raw!r}') from None
    return value


def from_environment(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the settings present as ``APP_*`` variables, parsed to their types."""
    environ = os.environ if environ is None else environ
    found: dict[str, Any] = {}
    for name, kind in _TYPES.items():
        raw = environ.get(f"APP_{name}")
        if raw is not None:
            found[name] = _parse(name, raw, kind)
    return found


def _require_http_url(config: Mapping[str, Any], name: str) -> None:
    value = config.get(name)
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(f"APP_{name} must be an http(s) URL, got {value!r}")
    if parts.query or parts.fragment:
        raise ConfigError(f"APP_{name} must not have a query or fragment, got {value!r}")


def _require_range(
    config: Mapping[str, Any], name: str, low: float, high: float, what: str, *, whole: bool = False
) -> None:
    value = config.get(name)
    kinds = (int,) if whole else (int, float)
    if not isinstance(value, kinds) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError(f"APP_{name} must be {what} from {low:g} to {high:g}")


def _validate_jobs(config: MutableMapping[str, Any]) -> None:
    redis_url = config.get("REDIS_URL")
    if redis_url is not None and redis_url != "":
        parts = urlsplit(redis_url) if isinstance(redis_url, str) else None
        if parts is None or parts.scheme not in {"redis", "rediss", "unix"}:
            raise ConfigError(f"APP_REDIS_URL must be a redis:// or rediss:// URL, got {redis_url!r}")
    else:
        config["REDIS_URL"] = None
    if not isinstance(config.get("JOBS_SQLITE_PATH"), str) or not config["JOBS_SQLITE_PATH"]:
        raise ConfigError("APP_JOBS_SQLITE_PATH must be a file path")
    if not isinstance(config.get("JOBS_NAME"), str) or not re.fullmatch(
        r"[A-Za-z0-9._-]{1,64}", config["JOBS_NAME"]
    ):
        raise ConfigError("APP_JOBS_NAME must be 1-64 letters, digits, '.', '_' or '-'")
    _require_range(config, "SCANS_PER_TENANT", 1, 50, "a whole number of scans", whole=True)
    _require_range(config, "SCAN_LEASE_SECONDS", 5, 3600, "a number of seconds")
    _require_range(config, "SCAN_CHECKPOINT_PAGES", 1, 1000, "a whole number of pages", whole=True)
    _require_range(config, "SCAN_MAX_ATTEMPTS", 1, 50, "a whole number of attempts", whole=True)
    _require_range(config, "WARM_VIEWED_DAYS", 1, 365, "a whole number of days", whole=True)
    _require_range(config, "WARM_AHEAD_SECONDS", 0, 86400, "a number of seconds")
    _require_range(config, "HOT_CACHE_SECONDS", 0, 10, "a number of seconds")
    _require_range(config, "LOG_BATCH_SECONDS", 0, 5, "a number of seconds")
    if not isinstance(config.get("HOT_PATH"), bool):
        raise ConfigError("APP_HOT_PATH must be true or false")
    _require_range(config, "UNINSTALLED_RETENTION_DAYS", 0, 3650, "a whole number of days", whole=True)
    _validate_personal_data_url(config)


def _validate_personal_data_url(config: Mapping[str, Any]) -> None:
    value = config.get("PERSONAL_DATA_URL")
    if isinstance(value, str) and value.startswith("/") and not value.startswith("//") and "?" not in value:
        return
    try:
        _require_http_url(config, "PERSONAL_DATA_URL")
    except ConfigError:
        raise ConfigError(
            f"APP_PERSONAL_DATA_URL must be a path such as /app/report-accounts/ or an http(s) URL, "
            f"got {value!r}"
        ) from None


def _validate_observability(config: MutableMapping[str, Any]) -> None:
    token = config.get("METRICS_TOKEN")
    if token == "":
        config["METRICS_TOKEN"] = None
    elif token is not None and (not isinstance(token, str) or not _METRICS_TOKEN_PATTERN.match(token)):
        # The message never repeats the value: it is a credential.
        raise ConfigError(
            "APP_METRICS_TOKEN must be 24-256 characters of letters, digits and -._~+/ "
            "(make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    log_format = config.get("LOG_FORMAT")
    if not isinstance(log_format, str) or log_format.strip().lower() not in LOG_FORMATS:
        raise ConfigError(f"APP_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, got {log_format!r}")
    config["LOG_FORMAT"] = log_format.strip().lower()


def validate(config: MutableMapping[str, Any]) -> None:
    """Check and normalise the settings in place; raise ConfigError naming the bad variable."""
    for name in ("BASE_URL", "INSTALL_KEYS_URL", "OAUTH_URL", "ALL_JS_URL"):
        _require_http_url(config, name)
        config[name] = config[name].rstrip("/") if name != "ALL_JS_URL" else config[name]
    if config["PRODUCTION"] and urlsplit(config["BASE_URL"]).scheme != "https":
        raise ConfigError("APP_BASE_URL must use https in production (APP_PRODUCTION=true)")
    hosts = config.get("ALLOWED_TENANT_HOSTS")
    if not isinstance(hosts, list) or not hosts or not all(isinstance(h, str) and h for h in hosts):
        raise ConfigError("APP_ALLOWED_TENANT_HOSTS must be a non-empty JSON list of host patterns")
    config["ALLOWED_TENANT_HOSTS"] = [h.lower() for h in hosts]
    if not isinstance(config.get("KEY"), str) or not _APP_KEY_PATTERN.match(config["KEY"]):
        raise ConfigError("APP_KEY must be 1-80 characters of letters, digits, '-', '.' or '_'")
    if not isinstance(config.get("DATABASE_URL"), str) or "://" not in config["DATABASE_URL"]:
        raise ConfigError("APP_DATABASE_URL must be an SQLAlchemy URL such as sqlite:///app.db")
    for name in ("INSTALL_KEYS_TIMEOUT", "CONFLUENCE_TIMEOUT"):
        if not isinstance(config.get(name), int | float) or not 0 < config[name] <= 120:
            raise ConfigError(f"APP_{name} must be a number of seconds between 0 and 120")
    _require_range(config, "CONFLUENCE_MAX_ATTEMPTS", 1, 10, "a whole number of attempts", whole=True)
    _require_range(config, "CONFLUENCE_MAX_RETRY_AFTER", 0, 600, "a number of seconds")
    _require_range(config, "CONFLUENCE_MAX_TOTAL_SECONDS", 1, 600, "a number of seconds")
    _validate_jobs(config)
    _validate_observability(config)
    proxies = config.setdefault("TRUSTED_PROXY_COUNT", 0)
    if not isinstance(proxies, int) or isinstance(proxies, bool) or not 0 <= proxies <= 5:
        raise ConfigError("APP_TRUSTED_PROXY_COUNT must be a whole number of proxies from 0 to 5")
    if config.get("SECRET_KEY") is None:
        if config["PRODUCTION"]:
            raise ConfigError("APP_SECRET_KEY must be set in production (APP_PRODUCTION=true)")
        config["SECRET_KEY"] = os.urandom(32).hex()
    if config["PRODUCTION"] and config.get("DEBUG"):
        raise ConfigError("refusing to start in production with debug on (unset FLASK_DEBUG)")
    try:
        config["SECRETS_KEYS_LIST"] = parse_keys(config.get("SECRETS_KEYS") or "")
    except ValueError as exc:
        raise ConfigError(
            f"APP_SECRETS_KEYS: {exc}; make one with: python -c "
            "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
        ) from None
    if config["PRODUCTION"] and not config["SECRETS_KEYS_LIST"]:
        raise ConfigError("APP_SECRETS_KEYS must be set in production, so shared secrets are sealed at rest")
