"""Elastic Load Balancing's calls (decision 0191) on the shared endpoint (service
``elasticloadbalancing`` in the credential scope, API version 2015-12-01): Query protocol over
the IAM machinery (``iamapi.app.QueryApp``): SigV4, the ``elasticloadbalancing:<Action>``
check on the resource's ARN (``*`` for creations and Describe calls, as AWS's authorisation
reference has most of them), the audit record of each mutating call, the error envelope.

Served here: Create/Describe/DeleteLoadBalancer (network; application: decision 0216),
Create/Describe/DeleteListener, Add/Remove/DescribeTags, Describe/ModifyLoadBalancerAttributes,
SetSecurityGroups (session 49); TLS listeners' calls in ``elbapi.listeners`` (decision 0210);
the target groups' calls in ``elbapi.target_groups``; ALB listeners' and rules' calls in
``elbapi.rules`` (decision 0216); trust stores and listeners' mutual TLS in
``elbapi.trust_stores`` (decision 0256). A parameter of a feature not here (internet-facing, other
types and protocols, rules…) is refused, never dropped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Final

from andromede.elbapi import listeners, rules, target_groups, trust_stores
from andromede.elbapi.wire import (
    NAMESPACE,
    attributes,
    guarded,
    page,
    refuse_unhandled,
    tags,
    write_attributes,
    write_listener,
    write_load_balancer,
)
from andromede.iamapi.errors import QueryError
from andromede.iamapi.protocol import Action, Call, ServiceSpec
from andromede.loadbalancing.application import ALB_ATTRIBUTES
from andromede.loadbalancing.model import LB_ATTRIBUTES, listener_keys
from andromede.loadbalancing.service import LbSpec, LoadBalancingService

__all__ = ["ACTIONS", "elb_spec", "refuse_unhandled"]

ACTIONS: Final = (
    "AddListenerCertificates",
    "AddTags",
    "AddTrustStoreRevocations",
    "CreateListener",
    "CreateLoadBalancer",
    "CreateRule",
    "CreateTargetGroup",
    "CreateTrustStore",
    "DeleteListener",
    "DeleteLoadBalancer",
    "DeleteRule",
    "DeleteTargetGroup",
    "DeleteTrustStore",
    "DeregisterTargets",
    "DescribeListenerAttributes",
    "DescribeListenerCertificates",
    "DescribeListeners",
    "DescribeLoadBalancerAttributes",
    "DescribeLoadBalancers",
    "DescribeRules",
    "DescribeSSLPolicies",
    "DescribeTags",
    "DescribeTargetGroupAttributes",
    "DescribeTargetGroups",
    "DescribeTargetHealth",
    "DescribeTrustStoreRevocations",
    "DescribeTrustStores",
    "GetTrustStoreCaCertificatesBundle",
    "GetTrustStoreRevocationContent",
    "ModifyListener",
    "ModifyListenerAttributes",
    "ModifyLoadBalancerAttributes",
    "ModifyRule",
    "ModifyTargetGroup",
    "ModifyTargetGroupAttributes",
    "ModifyTrustStore",
    "RegisterTargets",
    "RemoveListenerCertificates",
    "RemoveTags",
    "RemoveTrustStoreRevocations",
    "SetRulePriorities",
    "SetSecurityGroups",
)
Handler = Callable[[Call], Awaitable[None]]


def _mappings(call: Call) -> tuple[tuple[str, str | None], ...]:
    subnets = call.members("Subnets")
    mapped = []
    index = 1
    while (subnet := call.get(f"SubnetMappings.member.{index}.SubnetId")) is not None:
        mapped.append((subnet, call.get(f"SubnetMappings.member.{index}.PrivateIPv4Address")))
        index += 1
    if subnets and mapped:
        raise QueryError("ValidationError", "You can specify subnets or subnet mappings, not both")
    return tuple(mapped) or tuple((s, None) for s in subnets)


def elb_spec(service: LoadBalancingService, dns_domain: str) -> ServiceSpec:
    """The ``elasticloadbalancing`` Query service over ``service``; DNS names under
    ``dns_domain``."""

    async def create_load_balancer(call: Call) -> None:
        refuse_unhandled(
            call,
            r"Name|Subnets|Subnets\.member\.\d+|SubnetMappings\.member\.\d+\.(SubnetId|PrivateIPv4Address)"
            r"|Scheme|Type|IpAddressType|Tags\.member\.\d+\.(Key|Value)"
            r"|SecurityGroups|SecurityGroups\.member\.\d+",
        )
        if (call.get("IpAddressType") or "ipv4") != "ipv4":
            raise QueryError(
                "InvalidConfigurationRequest", "Only the ipv4 address type is supported yet"
            )
        lb = await service.create_load_balancer(
            call.tenant_id,
            LbSpec(
                name=call.required("Name"),
                scheme=call.get("Scheme") or "internet-facing",
                lb_type=call.get("Type") or "application",
                mappings=_mappings(call),
                tags=tags(call),
                security_groups=tuple(call.members("SecurityGroups")),
            ),
        )
        call.result.open("LoadBalancers")
        call.result.open("member")
        write_load_balancer(call.result, service, lb, dns_domain)
        call.result.close("member")
        call.result.close("LoadBalancers")

    async def describe_load_balancers(call: Call) -> None:
        found = await service.load_balancers(
            call.tenant_id, call.members("LoadBalancerArns"), call.members("Names")
        )
        chosen, marker = page(call, found, lambda lb: lb.name)
        xml = call.result
        xml.open("LoadBalancers")
        for lb in chosen:
            xml.open("member")
            write_load_balancer(xml, service, lb, dns_domain)
            xml.close("member")
        xml.close("LoadBalancers")
        if marker is not None:
            xml.element("NextMarker", marker)

    async def delete_load_balancer(call: Call) -> None:
        await service.delete_load_balancer(call.tenant_id, call.required("LoadBalancerArn"))

    async def lb_attributes(call: Call) -> None:
        arn = call.required("LoadBalancerArn")
        if call.action == "ModifyLoadBalancerAttributes":
            lb = await service.modify_load_balancer_attributes(
                call.tenant_id, arn, attributes(call)
            )
        else:
            lb_id = await service.id_of(call.tenant_id, "loadbalancer", arn)
            lb = await service.load_balancer(call.tenant_id, lb_id)
        known = ALB_ATTRIBUTES if lb.lb_type == "application" else LB_ATTRIBUTES
        write_attributes(call.result, [(k, lb.attribute(k)) for k in known])

    async def set_security_groups(call: Call) -> None:
        refuse_unhandled(
            call,
            r"LoadBalancerArn|SecurityGroups|SecurityGroups\.member\.\d+"
            r"|EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic",
        )
        lb = await service.set_security_groups(
            call.tenant_id,
            call.required("LoadBalancerArn"),
            call.members("SecurityGroups"),
            call.get("EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic"),
        )
        call.result.open("SecurityGroupIds")
        for group_id in lb.security_groups:
            call.result.element("member", group_id)
        call.result.close("SecurityGroupIds")
        call.result.element(
            "EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic", lb.enforce_private_link
        )

    async def create_listener(call: Call) -> None:
        if rules.is_http(call):  # decision 0216: an ALB's listener
            await create_http_listener(call)
            return
        refuse_unhandled(
            call,
            r"LoadBalancerArn|Protocol|Port|DefaultActions\.member\.1\.(Type|TargetGroupArn|Order"
            r"|ForwardConfig\.TargetGroups\.member\.1\.(TargetGroupArn|Weight))"
            r"|Tags\.member\.\d+\.(Key|Value)"
            rf"|{listeners.TLS_PARAMETERS}",
        )
        kind = call.required("DefaultActions.member.1.Type")
        if kind != "forward":
            raise QueryError(
                "InvalidConfigurationRequest",
                f"Action type '{kind[:32]}' must be 'forward' for a Network Load Balancer",
            )
        tg_arn = call.get("DefaultActions.member.1.TargetGroupArn") or call.get(
            "DefaultActions.member.1.ForwardConfig.TargetGroups.member.1.TargetGroupArn"
        )
        if not tg_arn:
            raise QueryError("ValidationError", "A forward action must name a target group")
        call.required("Port")
        lb, listener = await service.create_listener(
            call.tenant_id,
            call.required("LoadBalancerArn"),
            call.required("Protocol"),
            call.integer("Port", minimum=1, maximum=65535, default=0),
            tg_arn,
            tags(call),
            listeners.tls_request(call),
        )
        call.result.open("Listeners")
        call.result.open("member")
        write_listener(call.result, service, lb, listener, tg_arn)
        call.result.close("member")
        call.result.close("Listeners")

    async def create_http_listener(call: Call) -> None:
        refuse_unhandled(
            call,
            rf"LoadBalancerArn|Protocol|Port|{rules.ACTION_PARAMETERS}"
            r"|Tags\.member\.\d+\.(Key|Value)"
            rf"|{listeners.TLS_PARAMETERS}|{trust_stores.MUTUAL_PARAMETERS}",
        )
        call.required("Port")
        lb, listener = await service.create_http_listener(
            call.tenant_id,
            call.required("LoadBalancerArn"),
            call.required("Protocol"),
            call.integer("Port", minimum=1, maximum=65535, default=0),
            rules.parse_action(call, "DefaultActions"),
            tags(call),
            listeners.tls_request(call),
            await trust_stores.mutual_request(call, service),
        )
        call.result.open("Listeners")
        call.result.open("member")
        await rules.write_http_listener(call.result, service, lb, listener)
        call.result.close("member")
        call.result.close("Listeners")

    async def describe_listeners(call: Call) -> None:
        lb_arn = call.get("LoadBalancerArn")
        arns = call.members("ListenerArns")
        if not lb_arn and not arns:
            raise QueryError(
                "ValidationError", "You must specify either listener ARNs or a load balancer ARN"
            )
        lb_id = await service.id_of(call.tenant_id, "loadbalancer", lb_arn) if lb_arn else None
        if lb_id is not None:
            await service.load_balancer(call.tenant_id, lb_id)  # LoadBalancerNotFound
        found = await service.listeners(call.tenant_id, lb_id=lb_id, arns=arns)
        chosen, marker = page(call, found, lambda item: f"{item.lb_id}/{item.port:05d}")
        xml = call.result
        xml.open("Listeners")
        for listener in chosen:
            lb = await service.load_balancer(call.tenant_id, listener.lb_id)
            xml.open("member")
            if listener.default_action is not None:
                await rules.write_http_listener(xml, service, lb, listener)
            else:
                group = await service.target_group(call.tenant_id, listener.tg_id)
                write_listener(xml, service, lb, listener, service.tg_arn(group))
            xml.close("member")
        xml.close("Listeners")
        if marker is not None:
            xml.element("NextMarker", marker)

    async def delete_listener(call: Call) -> None:
        await service.delete_listener(call.tenant_id, call.required("ListenerArn"))

    async def listener_attributes(call: Call) -> None:
        arn = call.required("ListenerArn")
        if call.action == "ModifyListenerAttributes":
            listener = await service.modify_listener_attributes(
                call.tenant_id, arn, attributes(call)
            )
        else:
            listener = await service.listener(call.tenant_id, arn)
        keys = listener_keys(listener.protocol)
        write_attributes(call.result, [(k, listener.attribute(k)) for k in keys])

    async def add_tags(call: Call) -> None:
        added = tags(call)
        if not added:
            raise QueryError("ValidationError", "At least one tag must be specified")
        for arn in _arns(call):
            await service.change_tags(call.tenant_id, arn, add=added)

    async def remove_tags(call: Call) -> None:
        keys = call.members("TagKeys")
        if not keys:
            raise QueryError("ValidationError", "At least one tag key must be specified")
        for arn in _arns(call):
            await service.change_tags(call.tenant_id, arn, remove=keys)

    async def describe_tags(call: Call) -> None:
        xml = call.result
        xml.open("TagDescriptions")
        for arn in _arns(call):
            held = await service.tags_of(call.tenant_id, arn)
            xml.open("member")
            xml.element("ResourceArn", arn)
            xml.open("Tags")
            for key, value in held:
                xml.open("member")
                xml.element("Key", key)
                xml.element("Value", value)
                xml.close("member")
            xml.close("Tags")
            xml.close("member")
        xml.close("TagDescriptions")

    def _arns(call: Call) -> Sequence[str]:
        arns = call.members("ResourceArns")
        if not arns:
            raise QueryError("ValidationError", "At least one resource ARN must be specified")
        if len(arns) > 20:
            raise QueryError("ValidationError", "At most 20 resource ARNs may be specified")
        return arns

    handlers: dict[str, tuple[Handler, bool, str | None]] = {
        "CreateLoadBalancer": (create_load_balancer, True, None),
        "DescribeLoadBalancers": (describe_load_balancers, False, None),
        "DeleteLoadBalancer": (delete_load_balancer, True, "LoadBalancerArn"),
        "DescribeLoadBalancerAttributes": (lb_attributes, False, "LoadBalancerArn"),
        "ModifyLoadBalancerAttributes": (lb_attributes, True, "LoadBalancerArn"),
        "SetSecurityGroups": (set_security_groups, True, "LoadBalancerArn"),
        "CreateListener": (create_listener, True, "LoadBalancerArn"),
        "DescribeListeners": (describe_listeners, False, None),
        "DeleteListener": (delete_listener, True, "ListenerArn"),
        "DescribeListenerAttributes": (listener_attributes, False, "ListenerArn"),
        "ModifyListenerAttributes": (listener_attributes, True, "ListenerArn"),
        "AddTags": (add_tags, True, "ResourceArns.member.1"),
        "RemoveTags": (remove_tags, True, "ResourceArns.member.1"),
        "DescribeTags": (describe_tags, False, None),
        **target_groups.handlers(service),
        **listeners.handlers(service),
        **rules.handlers(service),
        **trust_stores.handlers(service),
    }

    def resource_of(parameter: str) -> Callable[[Call], Awaitable[str]]:
        async def resource(call: Call) -> str:
            return call.get(parameter) or "*"

        return resource

    return ServiceSpec(
        name="elasticloadbalancing",
        namespace=NAMESPACE,
        version="2015-12-01",
        actions={
            name: Action(
                handler=guarded(handler),
                mutating=mutating,
                resource=None if parameter is None else resource_of(parameter),
            )
            for name, (handler, mutating, parameter) in handlers.items()
        },
    )
