"""Application Load Balancers' API (decision 0216) through the ``elasticloadbalancing``
Query app over botocore's ``elbv2`` model: CreateLoadBalancer of type application, HTTP
target groups, HTTP listeners and their default actions, the rule calls, AWS's refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.elbapp import ElbWorld, elb_world, refused


async def _alb(world: ElbWorld) -> tuple[str, str]:
    group = await world.ec2.root.call(
        "CreateSecurityGroup", GroupName="alb", Description="alb", VpcId=world.vpc_id
    )
    lb = await world.load_balancer(
        "shop", Type="application", Subnets=world.subnets[:1], SecurityGroups=[group["GroupId"]]
    )
    return lb["LoadBalancerArn"], group["GroupId"]


async def _http_group(world: ElbWorld, name: str, **params: Any) -> str:
    group = await world.target_group(name, Protocol="HTTP", Port=8080, **params)
    return str(group["TargetGroupArn"])


async def test_application_load_balancer_groups_and_attributes(tmp_path: Path) -> None:
    async with elb_world(tmp_path) as world:
        arn, group_id = await _alb(world)
        assert ":loadbalancer/app/shop/" in arn
        shown = (await world.client.call("DescribeLoadBalancers", LoadBalancerArns=[arn]))[
            "LoadBalancers"
        ][0]
        assert (shown["Type"], shown["Scheme"], shown["SecurityGroups"]) == (
            "application", "internal", [group_id],
        )  # fmt: skip
        invalid = "InvalidConfigurationRequest"
        for params in (
            {"Scheme": "internet-facing", "SecurityGroups": [group_id]},
            {"Subnets": world.subnets, "SecurityGroups": [group_id]},  # two of one zone
        ):
            await refused(
                world.client, "CreateLoadBalancer", invalid,
                **{"Name": "other", "Type": "application", "Scheme": "internal",
                   "Subnets": world.subnets[:1], **params},
            )  # fmt: skip
        attributes = dict(
            (a["Key"], a["Value"])
            for a in (
                await world.client.call("DescribeLoadBalancerAttributes", LoadBalancerArn=arn)
            )["Attributes"]
        )
        assert attributes["idle_timeout.timeout_seconds"] == "60"
        assert attributes["routing.http.xff_header_processing.mode"] == "append"
        assert "dns_record.client_routing_policy" not in attributes  # an NLB's
        await world.client.call(
            "ModifyLoadBalancerAttributes", LoadBalancerArn=arn,
            Attributes=[{"Key": "idle_timeout.timeout_seconds", "Value": "120"}],
        )  # fmt: skip
        for key, value, code in (
            ("idle_timeout.timeout_seconds", "0", "ValidationError"),
            ("routing.http.xff_header_processing.mode", "rewrite", "ValidationError"),
            ("waf.fail_open.enabled", "true", "InvalidConfigurationRequest"),
            ("dns_record.client_routing_policy", "any_availability_zone", "ValidationError"),
        ):
            await refused(
                world.client, "ModifyLoadBalancerAttributes", code, LoadBalancerArn=arn,
                Attributes=[{"Key": key, "Value": value}],
            )  # fmt: skip
        group = await world.target_group("api", Protocol="HTTP", Port=8080)
        assert (group["HealthCheckProtocol"], group["HealthCheckTimeoutSeconds"]) == ("HTTP", 5)
        assert (group["HealthCheckPath"], group["Matcher"]["HttpCode"]) == ("/", "200")
        assert group["ProtocolVersion"] == "HTTP1"
        await refused(
            world.client, "CreateTargetGroup", "InvalidConfigurationRequest", Name="grpc",
            Protocol="HTTP", Port=80, VpcId=world.vpc_id, ProtocolVersion="GRPC",
        )  # fmt: skip
        keys = [
            a["Key"]
            for a in (
                await world.client.call(
                    "DescribeTargetGroupAttributes", TargetGroupArn=group["TargetGroupArn"]
                )
            )["Attributes"]
        ]
        assert "slow_start.duration_seconds" in keys and "preserve_client_ip.enabled" not in keys
        # Terraform's aws_lb_target_group sends the lb_cookie stickiness off: taken.
        await world.client.call(
            "ModifyTargetGroupAttributes", TargetGroupArn=group["TargetGroupArn"],
            Attributes=[{"Key": "stickiness.enabled", "Value": "false"},
                        {"Key": "stickiness.type", "Value": "lb_cookie"}],
        )  # fmt: skip


async def test_http_listeners_and_their_default_actions(tmp_path: Path) -> None:
    async with elb_world(tmp_path) as world:
        arn, _ = await _alb(world)
        api = await _http_group(world, "api")
        web = await _http_group(world, "web")
        tcp = (await world.target_group("tcp"))["TargetGroupArn"]
        created = await world.client.call(
            "CreateListener", LoadBalancerArn=arn, Protocol="HTTP", Port=80,
            DefaultActions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": [
                {"TargetGroupArn": api, "Weight": 3}, {"TargetGroupArn": web, "Weight": 1}]}}],
        )  # fmt: skip
        listener = created["Listeners"][0]
        assert ":listener/app/shop/" in listener["ListenerArn"]
        weights = [
            (g["TargetGroupArn"], g["Weight"])
            for g in listener["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
        ]
        assert weights == [(api, 3), (web, 1)]
        fixed = await world.client.call(
            "CreateListener", LoadBalancerArn=arn, Protocol="HTTP", Port=8081,
            DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {
                "StatusCode": "503", "ContentType": "text/plain", "MessageBody": "down"}}],
        )  # fmt: skip
        assert fixed["Listeners"][0]["DefaultActions"][0]["FixedResponseConfig"] == {
            "StatusCode": "503", "ContentType": "text/plain", "MessageBody": "down",
        }  # fmt: skip
        redirect = await world.client.call(
            "CreateListener", LoadBalancerArn=arn, Protocol="HTTP", Port=8082,
            DefaultActions=[{"Type": "redirect", "RedirectConfig": {
                "Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}],
        )  # fmt: skip
        config = redirect["Listeners"][0]["DefaultActions"][0]["RedirectConfig"]
        assert (config["Host"], config["Path"], config["Query"]) == (
            "#{host}",
            "/#{path}",
            "#{query}",
        )
        groups = await world.client.call("DescribeTargetGroups", TargetGroupArns=[api])
        assert groups["TargetGroups"][0]["LoadBalancerArns"] == [arn]
        for code, params in (
            ("IncompatibleProtocols",
             {"DefaultActions": [{"Type": "forward", "TargetGroupArn": tcp}]}),
            ("DuplicateListener",
             {"DefaultActions": [{"Type": "forward", "TargetGroupArn": api}]}),
            ("InvalidLoadBalancerAction", {"DefaultActions": [
                {"Type": "redirect", "RedirectConfig": {"StatusCode": "HTTP_302"}}]}),
            ("ValidationError", {"DefaultActions": [
                {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "302"}}]}),
            ("ValidationError", {"Protocol": "HTTPS", "DefaultActions": [
                {"Type": "forward", "TargetGroupArn": api}]}),  # no certificate
        ):  # fmt: skip
            await refused(
                world.client, "CreateListener", code,
                **{"LoadBalancerArn": arn, "Protocol": "HTTP", "Port": 80, **params},
            )  # fmt: skip
        await refused(world.client, "DeleteTargetGroup", "ResourceInUse", TargetGroupArn=web)
        modified = await world.client.call(
            "ModifyListener", ListenerArn=listener["ListenerArn"], Port=8080,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": api}],
        )  # fmt: skip
        assert modified["Listeners"][0]["Port"] == 8080
        await world.client.call("DeleteTargetGroup", TargetGroupArn=web)  # let go
        listed = await world.client.call("DescribeListeners", LoadBalancerArn=arn)
        assert [item["Port"] for item in listed["Listeners"]] == [8080, 8081, 8082]
        # An NLB keeps refusing HTTP listeners and ALB-only groups.
        nlb = (await world.load_balancer("net"))["LoadBalancerArn"]
        await refused(
            world.client, "CreateListener", "InvalidConfigurationRequest", LoadBalancerArn=nlb,
            Protocol="TCP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": api}],
        )  # fmt: skip


async def test_rules_priorities_conditions_and_limits(tmp_path: Path) -> None:
    async with elb_world(tmp_path) as world:
        arn, _ = await _alb(world)
        api = await _http_group(world, "api")
        web = await _http_group(world, "web")
        listener = (
            await world.client.call(
                "CreateListener",
                LoadBalancerArn=arn,
                Protocol="HTTP",
                Port=80,
                DefaultActions=[{"Type": "forward", "TargetGroupArn": web}],
            )
        )["Listeners"][0]["ListenerArn"]

        async def rule(
            priority: int, conditions: list[dict[str, Any]], **extra: Any
        ) -> dict[str, Any]:
            answer = await world.client.call(
                "CreateRule", ListenerArn=listener, Priority=priority, Conditions=conditions,
                Actions=[{"Type": "forward", "TargetGroupArn": api}], **extra,
            )  # fmt: skip
            return dict(answer["Rules"][0])

        first = await rule(10, [{"Field": "path-pattern", "Values": ["/api/*"]}])
        assert (first["Priority"], first["IsDefault"]) == ("10", False)
        assert ":listener-rule/app/shop/" in first["RuleArn"]
        second = await rule(
            5,
            [
                {"Field": "host-header", "HostHeaderConfig": {"Values": ["*.example.com"]}},
                {"Field": "http-header", "HttpHeaderConfig": {
                    "HttpHeaderName": "X-Env", "Values": ["beta"]}},
                {"Field": "query-string", "QueryStringConfig": {"Values": [
                    {"Key": "v", "Value": "2"}, {"Value": "debug"}]}},
                {"Field": "source-ip", "SourceIpConfig": {"Values": ["10.0.0.0/8"]}},
            ],
        )  # fmt: skip
        rules = (await world.client.call("DescribeRules", ListenerArn=listener))["Rules"]
        assert [r["Priority"] for r in rules] == ["5", "10", "default"]
        default = rules[-1]
        assert default["IsDefault"] and default["Conditions"] == []
        query = rules[0]["Conditions"][2]["QueryStringConfig"]["Values"]
        assert query == [{"Key": "v", "Value": "2"}, {"Value": "debug"}]
        assert rules[0]["Conditions"][1]["HttpHeaderConfig"]["HttpHeaderName"] == "X-Env"
        error = await refused(
            world.client, "CreateRule", "PriorityInUse", ListenerArn=listener, Priority=10,
            Conditions=[{"Field": "path-pattern", "Values": ["/x"]}],
            Actions=[{"Type": "forward", "TargetGroupArn": api}],
        )  # fmt: skip
        assert error.message == "Priority '10' is currently in use"
        for conditions in (
            [{"Field": "path-pattern", "Values": ["/a", "/b", "/c", "/d"]}],
            [{"Field": "path-pattern", "Values": ["/a", "/b", "/c"]},
             {"Field": "host-header", "Values": ["a.com", "b.com", "c.com"]}],
            [{"Field": "http-request-method", "Values": ["GET"]}],  # only in its config
            [],
        ):  # fmt: skip
            await refused(
                world.client, "CreateRule", "ValidationError", ListenerArn=listener, Priority=20,
                Conditions=conditions, Actions=[{"Type": "forward", "TargetGroupArn": api}],
            )  # fmt: skip
        await refused(
            world.client, "CreateRule", "ValidationError", ListenerArn=listener, Priority=50001,
            Conditions=[{"Field": "path-pattern", "Values": ["/x"]}],
            Actions=[{"Type": "forward", "TargetGroupArn": api}],
        )  # fmt: skip
        # Swap the two rules' priorities in one call.
        swapped = await world.client.call(
            "SetRulePriorities",
            RulePriorities=[{"RuleArn": first["RuleArn"], "Priority": 5},
                            {"RuleArn": second["RuleArn"], "Priority": 10}],
        )  # fmt: skip
        assert sorted(r["Priority"] for r in swapped["Rules"]) == ["10", "5"]
        await refused(
            world.client, "SetRulePriorities", "OperationNotPermitted",
            RulePriorities=[{"RuleArn": default["RuleArn"], "Priority": 3}],
        )  # fmt: skip
        await refused(
            world.client, "DeleteRule", "OperationNotPermitted", RuleArn=default["RuleArn"]
        )
        modified = await world.client.call(
            "ModifyRule", RuleArn=first["RuleArn"],
            Conditions=[{"Field": "http-request-method",
                         "HttpRequestMethodConfig": {"Values": ["POST"]}}],
            Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
        )  # fmt: skip
        changed = modified["Rules"][0]
        assert changed["Actions"][0]["Type"] == "fixed-response"
        assert changed["Conditions"][0]["HttpRequestMethodConfig"]["Values"] == ["POST"]
        # The default rule's actions are the listener's.
        await world.client.call(
            "ModifyRule", RuleArn=default["RuleArn"],
            Actions=[{"Type": "forward", "TargetGroupArn": api}],
        )  # fmt: skip
        shown = await world.client.call("DescribeListeners", ListenerArns=[listener])
        assert shown["Listeners"][0]["DefaultActions"][0]["TargetGroupArn"] == api
        await world.client.call("AddTags", ResourceArns=[second["RuleArn"]],
                                Tags=[{"Key": "team", "Value": "shop"}])  # fmt: skip
        described = await world.client.call("DescribeTags", ResourceArns=[second["RuleArn"]])
        assert described["TagDescriptions"][0]["Tags"] == [{"Key": "team", "Value": "shop"}]
        await world.client.call("DeleteRule", RuleArn=second["RuleArn"])
        await refused(world.client, "DescribeRules", "RuleNotFound", RuleArns=[second["RuleArn"]])
        await world.client.call("DeleteLoadBalancer", LoadBalancerArn=arn)
        await world.client.call("DeleteTargetGroup", TargetGroupArn=api)  # its rules went too


async def test_too_many_rules_and_listeners_are_the_settings(tmp_path: Path) -> None:
    from andromede.loadbalancing.core import LbLimits

    async with elb_world(tmp_path, limits=LbLimits(max_rules=2, max_listeners=1)) as world:
        arn, _ = await _alb(world)
        api = await _http_group(world, "api")
        listener = (
            await world.client.call(
                "CreateListener",
                LoadBalancerArn=arn,
                Protocol="HTTP",
                Port=80,
                DefaultActions=[{"Type": "forward", "TargetGroupArn": api}],
            )
        )["Listeners"][0]["ListenerArn"]
        for priority in (1, 2, 3):
            params = {
                "ListenerArn": listener, "Priority": priority,
                "Conditions": [{"Field": "path-pattern", "Values": [f"/{priority}"]}],
                "Actions": [{"Type": "forward", "TargetGroupArn": api}],
            }  # fmt: skip
            if priority < 3:
                await world.client.call("CreateRule", **params)
            else:
                await refused(world.client, "CreateRule", "TooManyRules", **params)
        # The listeners' insert, shared with the NLBs': its duplicate in the HTTP words.
        forward = [{"Type": "forward", "TargetGroupArn": api}]
        duplicate = await refused(
            world.client, "CreateListener", "DuplicateListener", LoadBalancerArn=arn,
            Protocol="HTTP", Port=80, DefaultActions=forward,
        )  # fmt: skip
        assert duplicate.message == (
            f"A listener already exists on port 80 of load balancer '{arn}'"
        )
        await refused(
            world.client, "CreateListener", "TooManyListeners", LoadBalancerArn=arn,
            Protocol="HTTP", Port=81, DefaultActions=forward,
        )  # fmt: skip


async def test_https_listeners_present_iam_certificates(tmp_path: Path) -> None:
    from andromede.iam.errors import DeleteConflict
    from support.tls_certificates import TestCa

    async with elb_world(tmp_path) as world:
        arn, _ = await _alb(world)
        api = await _http_group(world, "api")
        issued = TestCa().issue("www.example.test")
        certificate = (
            await world.ec2.identity.upload_server_certificate(
                world.tenant_id, "www", issued.body, issued.key
            )
        ).arn
        created = await world.client.call(
            "CreateListener", LoadBalancerArn=arn, Protocol="HTTPS", Port=443,
            Certificates=[{"CertificateArn": certificate}],
            DefaultActions=[{"Type": "forward", "TargetGroupArn": api}],
        )  # fmt: skip
        listener = created["Listeners"][0]
        assert listener["Certificates"] == [{"CertificateArn": certificate}]
        assert listener["SslPolicy"] == "ELBSecurityPolicy-2016-08"
        for code, extra in (
            ("InvalidConfigurationRequest", {"AlpnPolicy": ["HTTP2Preferred"]}),
            ("SSLPolicyNotFound", {"SslPolicy": "ELBSecurityPolicy-Nope"}),
        ):
            await refused(
                world.client, "CreateListener", code,
                **{"LoadBalancerArn": arn, "Protocol": "HTTPS", "Port": 8443,
                   "Certificates": [{"CertificateArn": certificate}],
                   "DefaultActions": [{"Type": "forward", "TargetGroupArn": api}], **extra},
            )  # fmt: skip
        await refused(
            world.client, "CreateListener", "InvalidConfigurationRequest", LoadBalancerArn=arn,
            Protocol="HTTP", Port=8080, Certificates=[{"CertificateArn": certificate}],
            DefaultActions=[{"Type": "forward", "TargetGroupArn": api}],
        )  # fmt: skip
        modified = await world.client.call(
            "ModifyListener", ListenerArn=listener["ListenerArn"],
            SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
        )  # fmt: skip
        assert modified["Listeners"][0]["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
        # IAM's certificate in use by the HTTPS listener.
        users = await world.service.certificate_users(world.tenant_id, certificate)
        assert users == [listener["ListenerArn"]]
        try:
            await world.ec2.identity.delete_server_certificate(world.tenant_id, "www")
        except DeleteConflict:
            pass
        else:
            raise AssertionError("a certificate an HTTPS listener presents was deleted")
        (view,) = await world.service.forwarding_views()
        assert view.tls is not None and view.http is not None
        assert (view.tls.certificates, view.http.protocol) == ((certificate,), "HTTPS")
