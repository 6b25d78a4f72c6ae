"""ELBv2's TLS listener calls (decision 0210): ModifyListener, DescribeSSLPolicies and the
SNI certificates' Add/Remove/DescribeListenerCertificates; the TLS parameters CreateListener
shares with ModifyListener (:func:`tls_request`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from andromede.elbapi import rules, trust_stores
from andromede.elbapi.wire import page, refuse_unhandled, write_listener
from andromede.iamapi.errors import QueryError
from andromede.iamapi.protocol import Call
from andromede.loadbalancing.listener_tls import ListenerChange, TlsRequest
from andromede.loadbalancing.service import LoadBalancingService
from andromede.loadbalancing.tls import SSL_POLICIES

__all__ = ["TLS_PARAMETERS", "handlers", "tls_request"]

Handler = Callable[[Call], Awaitable[None]]
TLS_PARAMETERS = r"Certificates\.member\.\d+\.CertificateArn|SslPolicy|AlpnPolicy(\.member\.\d+)?"


def tls_request(call: Call) -> TlsRequest:
    certificates = call.members("Certificates", "CertificateArn")
    alpn = call.members("AlpnPolicy")
    return TlsRequest(
        certificates=tuple(certificates) if certificates else None,
        ssl_policy=call.get("SslPolicy") or None,
        alpn_policies=tuple(alpn) if alpn or call.get("AlpnPolicy") is not None else None,
    )


def _one_certificate(call: Call) -> list[str]:
    arns = call.members("Certificates", "CertificateArn")
    if not arns:
        raise QueryError("ValidationError", "A certificate must be specified")
    return arns


def handlers(service: LoadBalancingService) -> dict[str, tuple[Handler, bool, str | None]]:
    """The calls: (handler, mutating, the parameter naming the resource)."""

    async def modify_listener(call: Call) -> None:
        if rules.is_http(call):  # decision 0216: an ALB's listener
            refuse_unhandled(
                call,
                rf"ListenerArn|Protocol|Port|{rules.ACTION_PARAMETERS}|{TLS_PARAMETERS}"
                rf"|{trust_stores.MUTUAL_PARAMETERS}",
            )
            port = call.get("Port")
            changed = await service.modify_http_listener(
                call.tenant_id,
                call.required("ListenerArn"),
                port=call.integer("Port", minimum=1, maximum=65535, default=0) if port else None,
                protocol=call.get("Protocol") or None,
                action=rules.parse_action(call, "DefaultActions")
                if call.get("DefaultActions.member.1.Type")
                else None,
                tls=tls_request(call),
                mutual=await trust_stores.mutual_request(call, service),
            )
            owner = await service.load_balancer(call.tenant_id, changed.lb_id)
            call.result.open("Listeners")
            call.result.open("member")
            await rules.write_http_listener(call.result, service, owner, changed)
            call.result.close("member")
            call.result.close("Listeners")
            return
        refuse_unhandled(
            call,
            r"ListenerArn|Protocol|Port|DefaultActions\.member\.1\.(Type|TargetGroupArn|Order"
            rf"|ForwardConfig\.TargetGroups\.member\.1\.(TargetGroupArn|Weight))|{TLS_PARAMETERS}",
        )
        kind = call.get("DefaultActions.member.1.Type")
        if kind is not None and kind != "forward":
            raise QueryError(
                "InvalidConfigurationRequest",
                f"Action type '{kind[:32]}' must be 'forward' for a Network Load Balancer",
            )
        arn = call.required("ListenerArn")
        port = call.get("Port")
        listener = await service.modify_listener(
            call.tenant_id,
            arn,
            ListenerChange(
                port=call.integer("Port", minimum=1, maximum=65535, default=0) if port else None,
                protocol=call.get("Protocol") or None,
                tg_arn=call.get("DefaultActions.member.1.TargetGroupArn")
                or call.get(
                    "DefaultActions.member.1.ForwardConfig.TargetGroups.member.1.TargetGroupArn"
                ),
                tls=tls_request(call),
            ),
        )
        lb = await service.load_balancer(call.tenant_id, listener.lb_id)
        group = await service.target_group(call.tenant_id, listener.tg_id)
        call.result.open("Listeners")
        call.result.open("member")
        write_listener(call.result, service, lb, listener, service.tg_arn(group))
        call.result.close("member")
        call.result.close("Listeners")

    async def describe_ssl_policies(call: Call) -> None:
        refuse_unhandled(call, r"Names\.member\.\d+|Marker|PageSize|LoadBalancerType")
        names = call.members("Names")
        kind = call.get("LoadBalancerType")
        if kind not in (None, "network", "application"):
            raise QueryError("ValidationError", f"Load balancer type '{kind[:16]}' is not valid")
        for name in names:
            if name not in SSL_POLICIES:
                raise QueryError("SSLPolicyNotFound", f"SSL policy '{name[:128]}' not found")
        chosen, marker = page(
            call,
            [SSL_POLICIES[n] for n in sorted(names or SSL_POLICIES)],
            lambda policy: policy.name,
        )
        xml = call.result
        xml.open("SslPolicies")
        for policy in chosen:
            xml.open("member")
            xml.open("SslProtocols")
            for protocol in policy.protocols:
                xml.element("member", protocol)
            xml.close("SslProtocols")
            xml.open("Ciphers")
            for priority, cipher in enumerate(policy.ciphers, start=1):
                xml.open("member")
                xml.element("Name", cipher)
                xml.element("Priority", priority)
                xml.close("member")
            xml.close("Ciphers")
            xml.element("Name", policy.name)
            xml.open("SupportedLoadBalancerTypes")
            for supported in ("application", "network"):
                xml.element("member", supported)
            xml.close("SupportedLoadBalancerTypes")
            xml.close("member")
        xml.close("SslPolicies")
        if marker is not None:
            xml.element("NextMarker", marker)

    def write_certificates(call: Call, arns: list[str], default: str | None) -> None:
        call.result.open("Certificates")
        for arn in arns:
            call.result.open("member")
            call.result.element("CertificateArn", arn)
            call.result.element("IsDefault", "true" if arn == default else "false")
            call.result.close("member")
        call.result.close("Certificates")

    async def add_certificates(call: Call) -> None:
        refuse_unhandled(call, r"ListenerArn|Certificates\.member\.\d+\.(CertificateArn|IsDefault)")
        added = _one_certificate(call)
        await service.add_listener_certificates(call.tenant_id, call.required("ListenerArn"), added)
        write_certificates(call, added, None)

    async def remove_certificates(call: Call) -> None:
        refuse_unhandled(call, r"ListenerArn|Certificates\.member\.\d+\.(CertificateArn|IsDefault)")
        await service.remove_listener_certificates(
            call.tenant_id, call.required("ListenerArn"), _one_certificate(call)
        )

    async def describe_certificates(call: Call) -> None:
        refuse_unhandled(call, r"ListenerArn|Marker|PageSize")
        held = await service.listener_certificates(call.tenant_id, call.required("ListenerArn"))
        # Ordered by ARN for the pages; the default is the one flagged.
        chosen, marker = page(call, sorted(held), lambda arn: arn)
        write_certificates(call, chosen, held[0] if held else None)
        if marker is not None:
            call.result.element("NextMarker", marker)

    return {
        "ModifyListener": (modify_listener, True, "ListenerArn"),
        "DescribeSSLPolicies": (describe_ssl_policies, False, None),
        "AddListenerCertificates": (add_certificates, True, "ListenerArn"),
        "RemoveListenerCertificates": (remove_certificates, True, "ListenerArn"),
        "DescribeListenerCertificates": (describe_certificates, False, "ListenerArn"),
    }
