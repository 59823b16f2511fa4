"""Settings: defaults, validation with one clear line, and every setting documented."""

from __future__ import annotations

import subprocess
import sys

import pytest

from config.settings import SettingsError, load_settings, setting_names
from tests.support import ROOT


def test_defaults_give_local_mode_on_sqlite():
    settings = load_settings({})
    assert settings.port == 8080 and settings.locale == "vi"
    assert settings.database_url.startswith("sqlite:///") and settings.database_url.endswith(
        "data/bot.db"
    )
    assert settings.zalo_api_base == "https://openapi.zalo.me"
    assert settings.zalo_oauth_base == "https://oauth.zaloapp.com"
    assert settings.local_mode


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"PORT": "abc"}, "PORT"),
        ({"PORT": "70000"}, "PORT"),
        ({"LOCALE": "fr"}, "LOCALE"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"ZALO_API_BASE": "openapi.zalo.me"}, "ZALO_API_BASE"),
        ({"TIMEZONE": "Mars/Olympus"}, "TIMEZONE"),
        ({"WEBHOOK_MAX_BYTES": "0"}, "WEBHOOK_MAX_BYTES"),
        ({"ZALO_ACCESS_TOKEN": "t"}, "ZALO_APP_ID"),
        (
            {"ZALO_ACCESS_TOKEN": "t", "ZALO_APP_ID": "a", "ZALO_APP_SECRET": "s"},
            "ZALO_OA_SECRET_KEY",
        ),
    ],
)
def test_a_bad_value_names_the_setting(env, named):
    with pytest.raises(SettingsError) as raised:
        load_settings(env)
    message = str(raised.value)
    assert message.startswith(f"Setting {named}:") and "\n" not in message


def test_a_bad_secret_is_never_echoed():
    settings = load_settings(
        {
            "ZALO_ACCESS_TOKEN": "tok",
            "ZALO_APP_ID": "a",
            "ZALO_APP_SECRET": "very-secret",
            "ZALO_OA_SECRET_KEY": "k",
        }
    )
    assert "very-secret" not in str(settings.redacted())
    assert not settings.local_mode


def test_every_setting_is_in_env_example_and_readme():
    example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    for name in setting_names():
        assert f"\n{name}=" in example, name
        assert f"`{name}`" in readme, name


def test_the_service_refuses_to_start_with_one_line_on_a_bad_setting(tmp_path):
    result = subprocess.run(
        [sys.executable, "webhook.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            "PATH": "/usr/bin:/bin",
            "PORT": "eighty",
            "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        },
    )
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "Cannot start: Setting PORT: must be a whole number from 1 to 65535 (got 'eighty')"
    )


def test_every_command_and_its_vietnamese_alias_is_in_the_readme():
    import bot.app.registry  # noqa: F401  (registers the commands)
    from bot.core.commands import REGISTRY

    readme = (ROOT / "README.md").read_text()
    for name, spec in REGISTRY.items():
        assert f"/{name}" in readme, name
        for alias in spec.aliases[:1]:
            assert f"/{alias}" in readme, alias
