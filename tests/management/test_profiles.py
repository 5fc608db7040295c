"""Profiles and system properties, as Spring Boot Admin's env view and details page read them."""

from __future__ import annotations

import os

import pytest

from actuator.management.profiles import active_profiles, system_properties


@pytest.mark.parametrize(
    ("environ", "profiles"),
    [
        ({}, []),
        ({"APP_ENV": "staging"}, ["staging"]),
        ({"ENV": "prod", "APP_ENV": "staging"}, ["staging"]),
        ({"APP_PROFILES": " eu, canary ,", "APP_ENV": "prod"}, ["eu", "canary"]),
        ({"APP_ENV": "  ", "ENVIRONMENT": "dev"}, ["dev"]),
    ],
)
def test_active_profiles_come_from_the_first_profile_variable_set(
    environ: dict[str, str], profiles: list[str]
) -> None:
    assert active_profiles(environ) == profiles


def test_system_properties_hold_the_pid() -> None:
    assert system_properties()["PID"] == str(os.getpid())
