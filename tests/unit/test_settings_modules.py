"""Settings, composed of one group per concern (``andromede/settings/``): what the split promised.

Each setting is declared by exactly one group (pydantic would let a later group's field of the
same name silently replace another's), every group is a base of ``Settings``, the importers'
names are still exported by ``andromede.settings``, and each module stays under STYLE.md's 800
lines with a docstring saying what it owns.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest
from pydantic import BaseModel

import andromede.settings
from andromede.settings import (
    AuditWitnessSettings,
    HypervisorHostSettings,
    RegionSettings,
    Settings,
)

PACKAGE = Path(andromede.settings.__file__).parent
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
# The items of list settings (regions, hypervisor_hosts, audit_witnesses), not groups.
ITEMS = {RegionSettings, HypervisorHostSettings, AuditWitnessSettings}
GROUPS = [base for base in Settings.__bases__ if base.__module__.startswith("andromede.settings.")]


def test_each_setting_is_declared_by_one_group() -> None:
    homes: dict[str, list[str]] = {}
    for group in GROUPS:
        for name in group.__annotations__:
            homes.setdefault(name, []).append(group.__name__)
    assert {n: h for n, h in homes.items() if len(h) != 1} == {}
    assert set(homes) == set(Settings.model_fields)
    assert Settings.__annotations__.keys() <= {"model_config"}


def test_every_group_is_a_base_of_settings() -> None:
    declared = {
        cls
        for stem in MODULES
        for _, cls in inspect.getmembers(importlib.import_module(f"andromede.settings.{stem}"))
        if inspect.isclass(cls)
        and issubclass(cls, BaseModel)
        and cls.__module__ == f"andromede.settings.{stem}"
        and cls not in ITEMS
    }
    assert declared == set(GROUPS)


def test_importers_names_are_exported() -> None:
    for name in andromede.settings.__all__:
        assert getattr(andromede.settings, name) is not None
    assert {"Settings", "load_settings", "RegionSettings", "HypervisorHostSettings"} <= set(
        andromede.settings.__all__
    )


@pytest.mark.parametrize("stem", [*MODULES, "__init__"])
def test_modules_are_small_and_say_what_they_own(stem: str) -> None:
    name = "andromede.settings" if stem == "__init__" else f"andromede.settings.{stem}"
    assert importlib.import_module(name).__doc__
    assert len((PACKAGE / f"{stem}.py").read_text().splitlines()) < 800
