"""Configuration: environment variables parsed and validated at start-up with clear messages."""

from __future__ import annotations

from typing import Any

import pytest

from app import create_app
from app.config import DEFAULTS, ConfigError, from_environment, validate
from app.db import get_engine


def valid(**overrides: Any) -> dict[str, Any]:
    config = dict(DEFAULTS) | {"SECRET_KEY": "x"} | overrides
    validate(config)
    return config


def test_environment_variables_are_parsed_to_their_types() -> None:
    env = {
        "APP_BASE_URL": "https://app.example.com/",
        "APP_ALLOWED_TENANT_HOSTS": '["*.atlassian.net", "127.0.0.1"]',
        "APP_CONFLUENCE_TIMEOUT": "2.5",
        "APP_PRODUCTION": "false",
        "UNRELATED": "x",
    }
    found = from_environment(env)
    assert found == {
        "BASE_URL": "https://app.example.com/",
        "ALLOWED_TENANT_HOSTS": ["*.atlassian.net", "127.0.0.1"],
        "CONFLUENCE_TIMEOUT": 2.5,
        "PRODUCTION": False,
    }
    assert valid(**found)["BASE_URL"] == "https://app.example.com"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"APP_ALLOWED_TENANT_HOSTS": "*.atlassian.net"}, "APP_ALLOWED_TENANT_HOSTS must be a JSON list"),
        ({"APP_CONFLUENCE_TIMEOUT": "soon"}, "APP_CONFLUENCE_TIMEOUT must be a number"),
        ({"APP_PRODUCTION": "maybe"}, "APP_PRODUCTION must be true or false"),
    ],
)
def test_unparseable_environment_names_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_environment(env)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"BASE_URL": "not a url"}, "APP_BASE_URL must be an http"),
        ({"BASE_URL": "ftp://x"}, "APP_BASE_URL must be an http"),
        ({"BASE_URL": "https://x/?a=1"}, "APP_BASE_URL must not have a query"),
        ({"INSTALL_KEYS_URL": ""}, "APP_INSTALL_KEYS_URL"),
        ({"ALLOWED_TENANT_HOSTS": []}, "APP_ALLOWED_TENANT_HOSTS must be a non-empty"),
        ({"ALLOWED_TENANT_HOSTS": [1]}, "APP_ALLOWED_TENANT_HOSTS"),
        ({"KEY": "bad key!"}, "APP_KEY"),
        ({"DATABASE_URL": "app.db"}, "APP_DATABASE_URL"),
        ({"CONFLUENCE_TIMEOUT": 0}, "APP_CONFLUENCE_TIMEOUT"),
        ({"CONFLUENCE_MAX_ATTEMPTS": 0}, "APP_CONFLUENCE_MAX_ATTEMPTS must be a whole number"),
        ({"CONFLUENCE_MAX_ATTEMPTS": 2.5}, "APP_CONFLUENCE_MAX_ATTEMPTS"),
        ({"CONFLUENCE_MAX_RETRY_AFTER": -1}, "APP_CONFLUENCE_MAX_RETRY_AFTER"),
        ({"CONFLUENCE_MAX_TOTAL_SECONDS": 0}, "APP_CONFLUENCE_MAX_TOTAL_SECONDS"),
        ({"PRODUCTION": True, "BASE_URL": "http://x.example"}, "https in production"),
        ({"PRODUCTION": True, "BASE_URL": "https://x.example", "SECRET_KEY": None}, "APP_SECRET_KEY"),
        ({"PRODUCTION": True, "BASE_URL": "https://x.example", "DEBUG": True}, "debug on"),
    ],
)
def test_bad_values_stop_start_up_with_the_variable_named(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        valid(**overrides)


def test_create_app_refuses_a_bad_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_BASE_URL", "nope")
    with pytest.raises(ConfigError, match="APP_BASE_URL"):
        create_app()


def test_overrides_win_over_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("APP_KEY", "from-env")
    app = create_app({"KEY": "from-test", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert app.config["KEY"] == "from-test"
    get_engine(app).dispose()


def test_retry_settings_reach_the_client() -> None:
    from app.confluence.factory import ClientSettings

    config = valid(
        **from_environment({"APP_CONFLUENCE_MAX_ATTEMPTS": "2", "APP_CONFLUENCE_MAX_RETRY_AFTER": "5"})
    )
    settings = ClientSettings.from_config(config)
    assert (settings.max_attempts, settings.max_retry_after, settings.max_total_seconds) == (2, 5.0, 60.0)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"REDIS_URL": "http://127.0.0.1:6379"}, "APP_REDIS_URL must be a redis://"),
        ({"JOBS_NAME": "has space"}, "APP_JOBS_NAME"),
        ({"SCANS_PER_TENANT": 0}, "APP_SCANS_PER_TENANT must be a whole number of scans from 1 to 50"),
        ({"SCAN_LEASE_SECONDS": 1}, "APP_SCAN_LEASE_SECONDS"),
        ({"SCAN_CHECKPOINT_PAGES": 1.5}, "APP_SCAN_CHECKPOINT_PAGES"),
        ({"SCAN_MAX_ATTEMPTS": 0}, "APP_SCAN_MAX_ATTEMPTS"),
        ({"WARM_VIEWED_DAYS": 0}, "APP_WARM_VIEWED_DAYS"),
        ({"WARM_AHEAD_SECONDS": -1}, "APP_WARM_AHEAD_SECONDS"),
        ({"HOT_CACHE_SECONDS": -0.5}, "APP_HOT_CACHE_SECONDS must be a number of seconds from 0 to 10"),
        ({"HOT_CACHE_SECONDS": 11}, "APP_HOT_CACHE_SECONDS"),
    ],
)
def test_job_settings_are_checked_at_start_up(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        valid(**overrides)


def test_the_hot_cache_bound_is_read_from_the_environment_and_zero_is_allowed() -> None:
    assert from_environment({"APP_HOT_CACHE_SECONDS": "0.25"}) == {"HOT_CACHE_SECONDS": 0.25}
    assert valid(HOT_CACHE_SECONDS=0)["HOT_CACHE_SECONDS"] == 0


def test_the_hot_path_switch_is_read_from_the_environment_and_checked() -> None:
    assert from_environment({"APP_HOT_PATH": "false"}) == {"HOT_PATH": False}
    assert valid()["HOT_PATH"] is True
    with pytest.raises(ConfigError, match="APP_HOT_PATH must be true or false"):
        from_environment({"APP_HOT_PATH": "fast"})
    with pytest.raises(ConfigError, match="APP_HOT_PATH must be true or false"):
        valid(HOT_PATH="false")  # an override must be a bool, not a truthy string


def test_the_queue_is_a_file_by_default_and_redis_when_a_url_is_set(tmp_path: Any) -> None:
    from huey import RedisHuey, SqliteHuey

    from app.jobs.queue import make_queue

    file_queue = make_queue(valid(JOBS_SQLITE_PATH=str(tmp_path / "q" / "jobs.db")))
    assert isinstance(file_queue, SqliteHuey) and (tmp_path / "q").is_dir()
    redis_queue = make_queue(valid(REDIS_URL="redis://127.0.0.1:1/0"))  # no connection until used
    assert isinstance(redis_queue, RedisHuey)
    assert from_environment({"APP_REDIS_URL": "", "APP_SCANS_PER_TENANT": "3"}) == {
        "REDIS_URL": "",
        "SCANS_PER_TENANT": 3,
    }
    assert valid(REDIS_URL="")["REDIS_URL"] is None  # an empty variable means "no Redis"


def test_observability_settings_are_checked_at_start_up() -> None:
    token = "abcdefghijklmnopqrstuvwxyz012345"
    config = valid(**from_environment({"APP_METRICS_TOKEN": token, "APP_LOG_FORMAT": "JSON"}))
    assert (config["METRICS_TOKEN"], config["LOG_FORMAT"]) == (token, "json")
    assert valid()["METRICS_TOKEN"] is None and valid()["LOG_FORMAT"] == "text"
    assert valid(METRICS_TOKEN="")["METRICS_TOKEN"] is None  # an empty variable means "metrics off"
    for bad in ("short", "has a space in it but is long enough", "x" * 257, "tok\nen" * 5):
        with pytest.raises(ConfigError, match="APP_METRICS_TOKEN must be 24-256 characters") as info:
            valid(METRICS_TOKEN=bad)
        assert bad not in str(info.value)  # the message never repeats a credential
    with pytest.raises(ConfigError, match="APP_LOG_FORMAT must be one of text, json"):
        valid(LOG_FORMAT="xml")
    assert valid()["LOG_BATCH_SECONDS"] == 0.05
    assert from_environment({"APP_LOG_BATCH_SECONDS": "0"})["LOG_BATCH_SECONDS"] == 0.0
    for bad_delay in (-0.1, 5.5, True):
        with pytest.raises(ConfigError, match="APP_LOG_BATCH_SECONDS must be a number of seconds"):
            valid(LOG_BATCH_SECONDS=bad_delay)


def test_lifecycle_settings_are_read_from_the_environment() -> None:
    found = from_environment(
        {
            "APP_UNINSTALLED_RETENTION_DAYS": "7",
            "APP_PERSONAL_DATA_URL": "https://api.atlassian.com/app/report-accounts/",
        }
    )
    assert found == {
        "UNINSTALLED_RETENTION_DAYS": 7,
        "PERSONAL_DATA_URL": "https://api.atlassian.com/app/report-accounts/",
    }
    config = {**DEFAULTS, **found}
    validate(config)
    assert DEFAULTS["UNINSTALLED_RETENTION_DAYS"] == 30
    assert DEFAULTS["PERSONAL_DATA_URL"] == "/app/report-accounts/"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"UNINSTALLED_RETENTION_DAYS": -1}, "APP_UNINSTALLED_RETENTION_DAYS"),
        ({"UNINSTALLED_RETENTION_DAYS": 4000}, "APP_UNINSTALLED_RETENTION_DAYS"),
        ({"PERSONAL_DATA_URL": "app/report-accounts/"}, "APP_PERSONAL_DATA_URL"),
        ({"PERSONAL_DATA_URL": "//evil.example/x"}, "APP_PERSONAL_DATA_URL"),
        ({"PERSONAL_DATA_URL": "ftp://api.atlassian.com/"}, "APP_PERSONAL_DATA_URL"),
    ],
)
def test_lifecycle_settings_are_checked_at_start_up(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate({**DEFAULTS, **overrides})
