"""A bus's rules and targets under its customer KMS key (decision 0218): what AWS's key of a
bus covers besides its events — each rule's event pattern and description, each target's
input settings (``Input``, ``InputPath``, ``InputTransformer``) and HTTP parameters — sealed
through the port :class:`~andromede.events.event_keys.EventKeys` as the bus's deliveries are
(decision 0213: the encryption context the bus's ARN), and opened again where they are read.

A sealed text names its key, so what was sealed under a former key opens while that key is
usable. Each payload carries what it belongs to (the rule's ARN, ``#`` and the target's id),
checked when opened: a sealed text moved onto another rule or target does not open there.

PutEvents must not open every rule per event: :class:`OpenedCache` keeps, per gateway, what
was opened, keyed by the digest of the sealed text — every seal makes a new text (a fresh
nonce), so a changed rule or target, or one re-sealed under another key, is a new entry and
the former one ages out (least recently used, bounded by ``events_opened_rule_cache``).
What a gateway seals goes into its cache too.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Final

from andromede.events.event_keys import EventKeys, KeyScope, KeyUnusable
from andromede.events.model import EventBus, Rule, Target

__all__ = ["OpenedCache", "RuleSeals"]

_RULE_MEMBERS: Final = ("EventPattern", "Description")
_TARGET_MEMBERS: Final = ("Input", "InputPath", "InputTransformer", "HttpParameters")
_SEALED: Final = "Sealed"


class OpenedCache:
    """What this gateway opened, by the digest of the sealed text, least recently used out
    first past ``size`` entries (0: nothing kept)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[bytes, dict[str, Any]] = OrderedDict()

    @staticmethod
    def _key(sealed: str) -> bytes:
        return hashlib.sha256(sealed.encode()).digest()

    def get(self, sealed: str) -> dict[str, Any] | None:
        key = self._key(sealed)
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def put(self, sealed: str, opened: dict[str, Any]) -> None:
        if self._size <= 0:
            return
        self._entries[self._key(sealed)] = opened
        self._entries.move_to_end(self._key(sealed))
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size(self) -> int:
        return self._size


def _target_of(rule_arn: str, target_id: str) -> str:
    return f"{rule_arn}#{target_id}"


class RuleSeals:
    """Seals and opens a bus's rules and targets; ``keys`` is None where customer keys are
    not served (then nothing is ever sealed)."""

    def __init__(self, keys: EventKeys | None = None, *, cache_size: int = 10_000) -> None:
        self.keys = keys
        self.cache = OpenedCache(cache_size)

    def _keys(self) -> EventKeys:
        if self.keys is None:
            raise KeyUnusable("Customer KMS keys are not served by this deployment.")
        return self.keys

    @staticmethod
    def scope(bus: EventBus) -> KeyScope:
        return KeyScope(bus.tenant_id, bus.kms_key, bus.arn, bus.arn)

    async def seal_rule(self, bus: EventBus, rule: Rule) -> Rule:
        """The rule as the store keeps it on ``bus``: its pattern and description sealed
        under the bus's key when it has one, in clear otherwise."""
        opened = await self.open_rules(bus, [rule])
        plain = opened[0]
        if bus.kms_key is None:
            return plain
        payload = {"Of": rule.arn, "EventPattern": plain.event_pattern}
        payload["Description"] = plain.description
        [text] = await self._keys().seal(self.scope(bus), [json.dumps(payload)])
        self.cache.put(text, payload)  # this gateway matches with it without opening it
        return replace(plain, event_pattern=None, description=None, sealed=text)

    async def seal_targets(
        self, bus: EventBus, rule_arn: str, targets: Sequence[Target]
    ) -> list[Target]:
        """The targets as the store keeps them on ``bus``: their input settings sealed
        (one data key for them all) under the bus's key when it has one."""
        plain = await self.open_targets(bus, rule_arn, targets)
        if bus.kms_key is None:
            return plain
        sealing = [t for t in plain if any(m in t.spec for m in _TARGET_MEMBERS)]
        if not sealing:
            return plain
        payloads = [
            {
                "Of": _target_of(rule_arn, t.id),
                **{m: t.spec[m] for m in _TARGET_MEMBERS if m in t.spec},
            }
            for t in sealing
        ]
        sealed = await self._keys().seal(self.scope(bus), [json.dumps(p) for p in payloads])
        for text, payload in zip(sealed, payloads, strict=True):
            self.cache.put(text, payload)
        texts = dict(zip([t.id for t in sealing], sealed, strict=True))
        out = []
        for target in plain:
            if target.id not in texts:
                out.append(target)
                continue
            spec = {k: v for k, v in target.spec.items() if k not in _TARGET_MEMBERS}
            out.append(Target(target.id, target.arn, {**spec, _SEALED: texts[target.id]}))
        return out

    async def _open(
        self,
        bus: EventBus,
        items: Sequence[tuple[str, str]],
        *,
        cached: bool,
        known: dict[str, dict[str, Any]] | None = None,
    ) -> list[dict[str, Any]]:
        """Each (sealed text, what it belongs to) opened: from ``known`` (what this call's
        caller opened already), from the cache when ``cached`` and it holds it, else through
        the key (one call for all)."""
        found: dict[str, dict[str, Any]] = {}
        wanted = []
        for text, _ in items:
            hit = (known or {}).get(text)
            if hit is None and cached:
                hit = self.cache.get(text)
            if hit is not None:
                found[text] = hit
            elif text not in wanted:
                wanted.append(text)
        if wanted:
            scope = replace(self.scope(bus), key=None)
            for text, opened in zip(wanted, await self._keys().open(scope, wanted), strict=True):
                try:
                    data = json.loads(opened)
                except ValueError as exc:
                    raise KeyUnusable("A sealed rule or target is not readable.") from exc
                if not isinstance(data, dict):
                    raise KeyUnusable("A sealed rule or target is not readable.")
                found[text] = data
                self.cache.put(text, data)
        out = []
        for text, owner in items:
            data = found[text]
            if data.get("Of") != owner:
                raise KeyUnusable("A sealed rule or target does not belong where it is kept.")
            out.append(data)
        return out

    async def open_for_matching(
        self, bus: EventBus, rules: Sequence[Rule], by_rule: dict[str, list[Target]]
    ) -> tuple[list[Rule], dict[str, list[Target]]]:
        """The rules and their targets (by the rule's ARN) in clear for PutEvents: from the
        cache, the rest opened in one call to the key."""
        items = [(rule.sealed, rule.arn) for rule in rules if rule.sealed is not None]
        items += [
            (target.sealed, _target_of(arn, target.id))
            for arn, targets in by_rule.items()
            for target in targets
            if target.sealed is not None
        ]
        if not items:
            return list(rules), by_rule
        opened = await self._open(bus, items, cached=True)
        known = {text: data for (text, _), data in zip(items, opened, strict=True)}
        return (
            await self.open_rules(bus, rules, known=known),
            await self.open_targets_of(bus, by_rule, known=known),
        )

    async def open_rules(
        self,
        bus: EventBus,
        rules: Sequence[Rule],
        *,
        cached: bool = False,
        known: dict[str, dict[str, Any]] | None = None,
    ) -> list[Rule]:
        """The rules with their pattern and description in clear (``KeyUnusable`` when a
        key they are under refuses)."""
        sealed = [rule for rule in rules if rule.sealed is not None]
        if not sealed:
            return list(rules)
        items = [(rule.sealed or "", rule.arn) for rule in sealed]
        texts = await self._open(bus, items, cached=cached, known=known)
        opened = dict(zip([r.name for r in sealed], texts, strict=True))
        return [
            rule
            if rule.sealed is None
            else replace(
                rule,
                event_pattern=opened[rule.name].get("EventPattern"),
                description=opened[rule.name].get("Description"),
                sealed=None,
            )
            for rule in rules
        ]

    async def open_targets(
        self, bus: EventBus, rule_arn: str, targets: Sequence[Target], *, cached: bool = False
    ) -> list[Target]:
        """The targets with their input settings in clear."""
        return (await self.open_targets_of(bus, {rule_arn: list(targets)}, cached=cached))[rule_arn]

    async def open_targets_of(
        self,
        bus: EventBus,
        by_rule: dict[str, list[Target]],
        *,
        cached: bool = False,
        known: dict[str, dict[str, Any]] | None = None,
    ) -> dict[str, list[Target]]:
        """``by_rule`` (targets by their rule's ARN) in clear, in one call to the key."""
        items = [
            (target.sealed or "", _target_of(arn, target.id))
            for arn, targets in by_rule.items()
            for target in targets
            if target.sealed is not None
        ]
        if not items:
            return by_rule
        opened = iter(await self._open(bus, items, cached=cached, known=known))
        out: dict[str, list[Target]] = {}
        for arn, targets in by_rule.items():
            out[arn] = []
            for target in targets:
                if target.sealed is None:
                    out[arn].append(target)
                    continue
                members = {k: v for k, v in next(opened).items() if k in _TARGET_MEMBERS}
                spec = {k: v for k, v in target.spec.items() if k != _SEALED}
                out[arn].append(Target(target.id, target.arn, {**spec, **members}))
        return out

    def rule_needs_reseal(self, rule: Rule, key_arn: str | None) -> bool:
        """Whether a rule is not as a bus under ``key_arn`` (None: EventBridge's own key)
        keeps it."""
        return self._needs(rule.sealed, key_arn, sealable=True)

    def target_needs_reseal(self, target: Target, key_arn: str | None) -> bool:
        sealable = any(m in target.spec for m in _TARGET_MEMBERS)
        return self._needs(target.sealed, key_arn, sealable=sealable)

    def _needs(self, sealed: str | None, key_arn: str | None, *, sealable: bool) -> bool:
        if sealed is None:
            return key_arn is not None and sealable
        return key_arn is None or self._keys().key_of(sealed) != key_arn
