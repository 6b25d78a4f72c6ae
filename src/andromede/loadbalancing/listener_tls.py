"""TLS listeners' part of the load balancing service (decision 0210): the certificates, the
security policy and the ALPN policy of a listener checked as ELBv2 checks them, ModifyListener
(its port too: the listener's row renamed), and the SNI certificates' calls
(Add/Remove/DescribeListenerCertificates).

A certificate is an IAM server certificate of the account, named by its ARN (the
:class:`~andromede.loadbalancing.certificates.Certificates` port answers whether it is one);
the listener keeps the ARNs, the default first. IAM asks :meth:`certificate_users` before
deleting a certificate, so one in use is IAM's ``DeleteConflict``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from andromede.loadbalancing.certificates import CertificateMaterial
from andromede.loadbalancing.documents import listener_document, listener_from, load_balancer_from
from andromede.loadbalancing.errors import (
    ConcurrentChange,
    Duplicate,
    InvalidConfiguration,
    LbValidationError,
    NotFound,
    NotPermitted,
    TooMany,
)
from andromede.loadbalancing.model import LISTENER_GROUPS, Listener, LoadBalancer, listener_arn
from andromede.loadbalancing.store import Stored
from andromede.loadbalancing.target_groups import TargetGroupsMixin
from andromede.loadbalancing.tls import ALPN_POLICIES, DEFAULT_SSL_POLICY, SSL_POLICIES
from andromede.loadbalancing.trust_store_service import TrustStoresMixin

__all__ = ["NO_TLS", "ListenerChange", "ListenerTlsMixin", "TlsRequest"]

_ATTEMPTS: Final = 8  # as the core's conditional writes
# The protocols a listener's protocol may be changed to and from (UDP's and TCP_UDP's flows
# are another transport: ELBv2 refuses those changes on an NLB too).
_CHANGEABLE = ("TCP", "TLS")


@dataclass(frozen=True, slots=True)
class TlsRequest:
    """A call's TLS parameters, None where the call did not give them."""

    certificates: tuple[str, ...] | None = None
    ssl_policy: str | None = None
    alpn_policies: tuple[str, ...] | None = None


NO_TLS: Final = TlsRequest()


@dataclass(frozen=True, slots=True)
class ListenerChange:
    """ModifyListener's parameters, None where not given."""

    port: int | None = None
    protocol: str | None = None
    tg_arn: str | None = None
    tls: TlsRequest = field(default_factory=TlsRequest)


class ListenerTlsMixin(TargetGroupsMixin, TrustStoresMixin):
    async def checked_tls(
        self, tenant_id: str, protocol: str, request: TlsRequest, held: Listener | None = None
    ) -> tuple[tuple[str, ...], str, str]:
        """The listener's (certificates, security policy, ALPN policy) once ``request`` is
        applied to ``held`` (a new listener when None), refused as ELBv2 refuses them."""
        if protocol == "HTTPS" and request.alpn_policies:
            # Decision 0216: an ALB's HTTPS listener has no ALPN policy (an NLB's TLS one has).
            raise InvalidConfiguration("AlpnPolicy can only be specified for TLS listeners")
        if protocol not in ("TLS", "HTTPS"):
            given = [
                name
                for name, value in (
                    ("Certificates", request.certificates),
                    ("SslPolicy", request.ssl_policy),
                    ("AlpnPolicy", request.alpn_policies),
                )
                if value
            ]
            if given:
                raise InvalidConfiguration(
                    f"{given[0]} can only be specified for TLS and HTTPS listeners, not {protocol}"
                )
            return (), "", ""
        certificates = held.certificates if held is not None else ()
        if request.certificates is not None:
            if len(request.certificates) != 1:
                raise LbValidationError("Exactly one default certificate must be specified")
            default = request.certificates[0]
            certificates = (default, *(a for a in certificates[1:] if a != default))
            await self._check_certificate(tenant_id, request.certificates[0])
        if not certificates:
            raise LbValidationError(f"A certificate must be specified for {protocol} listeners")
        policy = request.ssl_policy or (held.ssl_policy if held else "") or DEFAULT_SSL_POLICY
        if policy not in SSL_POLICIES:
            raise NotFound("SSLPolicyNotFound", f"SSL policy '{policy[:128]}' not found")
        alpn = (held.alpn_policy if held else "") or "None"
        if protocol == "HTTPS":
            return certificates, policy, ""
        if request.alpn_policies is not None:
            if len(request.alpn_policies) > 1:
                raise LbValidationError("At most one ALPN policy can be specified")
            alpn = request.alpn_policies[0] if request.alpn_policies else "None"
            if alpn not in ALPN_POLICIES:
                raise LbValidationError(
                    f"ALPN policy '{alpn[:32]}' is not valid; valid policies are "
                    + ", ".join(ALPN_POLICIES)
                )
        return certificates, policy, alpn

    async def _check_certificate(self, tenant_id: str, arn: str) -> None:
        if self.certificates is None or not await self.certificates.exists(tenant_id, arn):
            raise NotFound("CertificateNotFound", f"Certificate '{arn[:512]}' not found")

    async def _listener_row(self, tenant_id: str, arn: str) -> tuple[str, Listener]:
        listener_id = await self.id_of(tenant_id, "listener", arn)
        stored = await self.held(tenant_id, "listener", listener_id)
        return listener_id, listener_from(tenant_id, listener_id, stored.document)

    async def _owner(self, tenant_id: str, listener: Listener) -> LoadBalancer:
        stored = await self.held(tenant_id, "loadbalancer", listener.lb_id)
        return load_balancer_from(tenant_id, listener.lb_id, stored.name, stored.document)

    async def modify_listener(self, tenant_id: str, arn: str, change: ListenerChange) -> Listener:
        listener_id, held = await self._listener_row(tenant_id, arn)
        protocol = change.protocol or held.protocol
        if protocol != held.protocol and not {protocol, held.protocol} <= set(_CHANGEABLE):
            raise InvalidConfiguration(
                f"A {held.protocol} listener cannot be changed to {protocol[:16]} here"
            )
        group = await self.target_group(
            tenant_id,
            await self.id_of(tenant_id, "targetgroup", change.tg_arn)
            if change.tg_arn
            else held.tg_id,
        )
        if group.protocol not in LISTENER_GROUPS[protocol]:
            raise InvalidConfiguration(
                f"Listener protocol '{protocol}' is not compatible with target group "
                f"protocol '{group.protocol}'"
            )
        if (
            group.lb_id not in ("", held.lb_id)
            or group.vpc_id != (await self._owner(tenant_id, held)).vpc_id
        ):
            raise TooMany(
                "TargetGroupAssociationLimit",
                f"The target group '{self.tg_arn(group)}' is associated with another load "
                "balancer or VPC; a Network Load Balancer's target group serves one",
            )
        certificates, policy, alpn = await self.checked_tls(tenant_id, protocol, change.tls, held)

        def apply(stored: Stored) -> dict[str, Any]:
            now = listener_from(tenant_id, listener_id, stored.document)
            return listener_document(
                replace(
                    now,
                    protocol=protocol,
                    tg_id=group.tg_id,
                    certificates=certificates,
                    ssl_policy=policy,
                    alpn_policy=alpn,
                )
            )

        if change.port is not None and change.port != held.port:
            await self._move(tenant_id, listener_id, change.port, apply)
        else:
            await self.mutate(tenant_id, "listener", listener_id, apply)
        if group.tg_id != held.tg_id:
            await self.use_group(tenant_id, group.tg_id, held.lb_id)
            others = await self.store.list(tenant_id, "listener")
            if not any(
                listener_from(tenant_id, o.resource_id, o.document).tg_id == held.tg_id
                for o in others
            ):
                await self.use_group(tenant_id, held.tg_id, "")
        _, changed = await self._listener_row(tenant_id, arn)
        return changed

    async def _move(
        self,
        tenant_id: str,
        listener_id: str,
        port: int,
        apply: Callable[[Stored], dict[str, Any]],
    ) -> None:
        """The listener on ``port`` (its row's name is its load balancer and port: renamed,
        ``DuplicateListener`` when another listener has the port), again on a lost race."""
        for _ in range(_ATTEMPTS):
            stored = await self.held(tenant_id, "listener", listener_id)
            document = {**apply(stored), "port": port}
            outcome = await self.store.rename(stored, f"{stored.parent}/{port}", document)
            if outcome == "duplicate":
                raise Duplicate(
                    "DuplicateListener",
                    f"A listener already exists on port {port} of this load balancer",
                )
            if outcome == "ok":
                return
        raise ConcurrentChange(f"listener {listener_id} changed concurrently; retry")

    # -- certificates for SNI ---------------------------------------------------------------

    async def listener_certificates(self, tenant_id: str, arn: str) -> tuple[str, ...]:
        """The listener's certificates, the default first."""
        _, listener = await self._listener_row(tenant_id, arn)
        return listener.certificates

    async def add_listener_certificates(
        self, tenant_id: str, arn: str, certificates: Sequence[str]
    ) -> tuple[str, ...]:
        listener_id, held = await self._listener_row(tenant_id, arn)
        if held.protocol not in ("TLS", "HTTPS"):
            raise InvalidConfiguration(
                f"Certificates can only be added to TLS and HTTPS listeners, not {held.protocol}"
            )
        for certificate in certificates:
            await self._check_certificate(tenant_id, certificate)

        def apply(stored: Stored) -> dict[str, Any]:
            now = listener_from(tenant_id, listener_id, stored.document)
            merged = now.certificates + tuple(
                dict.fromkeys(a for a in certificates if a not in now.certificates)
            )
            if len(merged) > self.limits.max_certificates:
                raise TooMany(
                    "TooManyCertificates",
                    f"A listener can have at most {self.limits.max_certificates} certificates",
                )
            return listener_document(replace(now, certificates=merged))

        await self.mutate(tenant_id, "listener", listener_id, apply)
        return tuple(certificates)

    async def remove_listener_certificates(
        self, tenant_id: str, arn: str, certificates: Sequence[str]
    ) -> None:
        listener_id, _ = await self._listener_row(tenant_id, arn)

        def apply(stored: Stored) -> dict[str, Any]:
            now = listener_from(tenant_id, listener_id, stored.document)
            if now.certificates and now.certificates[0] in certificates:
                raise NotPermitted(
                    "The default certificate cannot be removed from a listener; replace it "
                    "with ModifyListener"
                )
            kept = tuple(a for a in now.certificates if a not in certificates)
            return listener_document(replace(now, certificates=kept))

        await self.mutate(tenant_id, "listener", listener_id, apply)

    async def certificate_material(self, tenant_id: str, arn: str) -> CertificateMaterial:
        """A listener's certificate with its opened key, for the routers' TLS terminators."""
        if self.certificates is None:
            raise NotFound("CertificateNotFound", f"Certificate '{arn[:512]}' not found")
        return await self.certificates.material(tenant_id, arn)

    async def certificate_users(self, tenant_id: str, certificate_arn: str) -> list[str]:
        """The ARNs of the account's listeners that present ``certificate_arn``."""
        users = []
        for row in await self.store.list(tenant_id, "listener"):
            listener = listener_from(tenant_id, row.resource_id, row.document)
            if certificate_arn in listener.certificates:
                lb = await self._owner(tenant_id, listener)
                users.append(
                    listener_arn(
                        self.region,
                        tenant_id,
                        lb.name,
                        lb.lb_id,
                        listener.listener_id,
                        lb.arn_kind,
                    )
                )
        return users
