"""Network Load Balancers with boto3 against a real ``andromede serve`` (hypervisor = memory),
decision 0191: an internal NLB in a subnet of a VPC made through EC2, waited for with boto3's
``load_balancer_available`` waiter, a TCP target group of ip targets, a listener forwarding to
it; DescribeTargetHealth, draining on deregistration, an HTTP health check (decision 0198),
tags and attributes; (session 49) the load balancer's security groups, replaced by
SetSecurityGroups, and ``AWS/NetworkELB``'s ``HealthyHostCount`` read with GetMetricStatistics
(the memory hypervisor probes nothing: the targets stay initial, a count of 0); ELBv2's refusals
(internet-facing, a listener's port taken, a group in use) in its own codes; everything
deleted, the node's address given back to the subnet; (decision 0201) an Auto Scaling group's
traffic source's states advanced by the serving process's upkeep; (decision 0210) a TLS
listener presenting an IAM server certificate uploaded with boto3, which IAM then refuses to
delete, and DescribeSSLPolicies."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from support.server import REGION, ServerProcess, running_server
from support.tls_certificates import TestCa

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {
        "ANDROMEDE_WORKERS": "1",
        "ANDROMEDE_HYPERVISOR": "memory",
        "ANDROMEDE_ELB_PROVISIONING_SECONDS": "1",
        "ANDROMEDE_ELB_UPKEEP_INTERVAL": "0.5",
    }
    with running_server(tmp_path_factory.mktemp("elb") / "data", extra_env=env) as started:
        yield started


def _client(server: ServerProcess, service: str) -> Any:
    access_key, secret_key = server.credentials()
    session = boto3.session.Session(
        aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=REGION
    )
    return session.client(
        service, endpoint_url=server.endpoint, config=Config(retries={"max_attempts": 1})
    )


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_boto3_internal_nlb_with_a_target_group_and_a_listener(server: ServerProcess) -> None:
    ec2 = _client(server, "ec2")
    elb = _client(server, "elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.30.1.0/24")["Subnet"]["SubnetId"]
    groups = [
        ec2.create_security_group(GroupName=f"nlb-{i}", Description="nlb", VpcId=vpc)["GroupId"]
        for i in range(2)
    ]
    with pytest.raises(ClientError) as refused:
        elb.create_load_balancer(Name="web", Type="network", Subnets=[subnet])
    assert _code(refused) == "InvalidConfigurationRequest"
    assert "Internet-facing" in str(refused.value)
    lb = elb.create_load_balancer(
        Name="web",
        Type="network",
        Scheme="internal",
        SubnetMappings=[{"SubnetId": subnet, "PrivateIPv4Address": "10.30.1.100"}],
        Tags=[{"Key": "team", "Value": "web"}],
        SecurityGroups=groups[:1],
    )["LoadBalancers"][0]
    lb_arn = lb["LoadBalancerArn"]
    assert lb["SecurityGroups"] == groups[:1]
    replaced = elb.set_security_groups(
        LoadBalancerArn=lb_arn,
        SecurityGroups=groups,
        EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic="off",
    )
    assert replaced["SecurityGroupIds"] == groups
    with pytest.raises(ClientError) as refused:
        elb.set_security_groups(LoadBalancerArn=lb_arn, SecurityGroups=[])
    assert _code(refused) == "InvalidConfigurationRequest"
    assert lb["State"]["Code"] == "provisioning"
    elb.get_waiter("load_balancer_available").wait(
        LoadBalancerArns=[lb_arn], WaiterConfig={"Delay": 1, "MaxAttempts": 20}
    )
    shown = elb.describe_load_balancers(Names=["web"])["LoadBalancers"][0]
    assert shown["State"]["Code"] == "active"
    assert shown["AvailabilityZones"][0]["LoadBalancerAddresses"][0]["PrivateIPv4Address"] == (
        "10.30.1.100"
    )
    interfaces = ec2.describe_network_interfaces()["NetworkInterfaces"]
    assert any(i["PrivateIpAddress"] == "10.30.1.100" for i in interfaces)

    group = elb.create_target_group(
        Name="web",
        Protocol="TCP",
        Port=8080,
        VpcId=vpc,
        TargetType="ip",
        HealthCheckIntervalSeconds=10,
        HealthyThresholdCount=3,
    )["TargetGroups"][0]
    tg_arn = group["TargetGroupArn"]
    elb.register_targets(
        TargetGroupArn=tg_arn, Targets=[{"Id": "10.30.1.10"}, {"Id": "10.30.1.11"}]
    )
    listener = elb.create_listener(
        LoadBalancerArn=lb_arn,
        Protocol="TCP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}],
    )["Listeners"][0]
    with pytest.raises(ClientError) as refused:
        elb.create_listener(
            LoadBalancerArn=lb_arn,
            Protocol="TCP",
            Port=80,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}],
        )
    assert _code(refused) == "DuplicateListener"
    # Session 50: a TCP_UDP group (checked over TCP) behind a TCP_UDP listener; a UDP health
    # check refused.
    both = elb.create_target_group(Name="dns", Protocol="TCP_UDP", Port=53, VpcId=vpc)
    both_arn = both["TargetGroups"][0]["TargetGroupArn"]
    assert both["TargetGroups"][0]["HealthCheckProtocol"] == "TCP"
    with pytest.raises(ClientError) as refused:
        elb.modify_target_group(TargetGroupArn=both_arn, HealthCheckProtocol="UDP")
    assert _code(refused) == "InvalidConfigurationRequest"
    dns = elb.create_listener(
        LoadBalancerArn=lb_arn,
        Protocol="TCP_UDP",
        Port=53,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": both_arn}],
    )["Listeners"][0]
    assert dns["Protocol"] == "TCP_UDP"
    elb.delete_listener(ListenerArn=dns["ListenerArn"])
    elb.delete_target_group(TargetGroupArn=both_arn)
    health = elb.describe_target_health(TargetGroupArn=tg_arn)["TargetHealthDescriptions"]
    assert {(h["Target"]["Id"], h["TargetHealth"]["State"]) for h in health} == {
        ("10.30.1.10", "initial"),
        ("10.30.1.11", "initial"),
    }
    assert {h["TargetHealth"]["Reason"] for h in health} == {"Elb.RegistrationInProgress"}
    elb.modify_target_group_attributes(
        TargetGroupArn=tg_arn,
        Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "30"}],
    )
    elb.deregister_targets(TargetGroupArn=tg_arn, Targets=[{"Id": "10.30.1.11"}])
    health = elb.describe_target_health(TargetGroupArn=tg_arn, Targets=[{"Id": "10.30.1.11"}])
    assert health["TargetHealthDescriptions"][0]["TargetHealth"]["State"] == "draining"
    # Decision 0198: an HTTP health check, its path and matcher.
    http = elb.modify_target_group(
        TargetGroupArn=tg_arn,
        HealthCheckProtocol="HTTP",
        HealthCheckPath="/healthz",
        Matcher={"HttpCode": "200-299"},
    )["TargetGroups"][0]
    assert (http["HealthCheckProtocol"], http["HealthCheckPath"]) == ("HTTP", "/healthz")
    assert http["Matcher"] == {"HttpCode": "200-299"}
    # Session 49: HTTPS checks too, keeping the path and matcher set.
    https = elb.modify_target_group(TargetGroupArn=tg_arn, HealthCheckProtocol="HTTPS")
    assert https["TargetGroups"][0]["HealthCheckPath"] == "/healthz"
    tags = elb.describe_tags(ResourceArns=[lb_arn, tg_arn])["TagDescriptions"]
    assert tags[0]["Tags"] == [{"Key": "team", "Value": "web"}] and tags[1]["Tags"] == []
    listed = elb.describe_listeners(LoadBalancerArn=lb_arn)["Listeners"]
    assert [x["ListenerArn"] for x in listed] == [listener["ListenerArn"]]
    with pytest.raises(ClientError) as refused:
        elb.delete_target_group(TargetGroupArn=tg_arn)
    assert _code(refused) == "ResourceInUse"

    # AWS/NetworkELB: the upkeep writes the minute's host counts once a listener exists.
    cloudwatch = _client(server, "cloudwatch")
    dimensions = [
        {"Name": "LoadBalancer", "Value": lb_arn.split(":loadbalancer/", 1)[1]},
        {"Name": "TargetGroup", "Value": tg_arn.split(":", 5)[5]},
    ]
    points: list[Any] = []
    for _ in range(40):
        now = datetime.now(UTC)
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/NetworkELB",
            MetricName="HealthyHostCount",
            Dimensions=dimensions,
            StartTime=now - timedelta(minutes=5),
            EndTime=now + timedelta(minutes=1),
            Period=60,
            Statistics=["Maximum"],
        )["Datapoints"]
        if points:
            break
        time.sleep(0.25)
    assert points and {p["Maximum"] for p in points} == {0.0}
    assert shown_groups(elb, lb_arn) == groups

    elb.delete_load_balancer(LoadBalancerArn=lb_arn)
    elb.delete_target_group(TargetGroupArn=tg_arn)
    with pytest.raises(ClientError) as refused:
        elb.describe_load_balancers(LoadBalancerArns=[lb_arn])
    assert _code(refused) == "LoadBalancerNotFound"
    interfaces = ec2.describe_network_interfaces()["NetworkInterfaces"]
    assert not any(i["PrivateIpAddress"] == "10.30.1.100" for i in interfaces)


def shown_groups(elb: Any, lb_arn: str) -> list[str]:
    found = elb.describe_load_balancers(LoadBalancerArns=[lb_arn])["LoadBalancers"][0]
    return list(found["SecurityGroups"])


def test_boto3_auto_scaling_traffic_source_states(server: ServerProcess) -> None:
    """Decision 0201 through the serving process's upkeep: an empty group's traffic source
    goes Adding → Added (no instance to register), is shown by the target group API too,
    and once detached is Removing until the upkeep's next round, then gone (the states with
    instances, health and draining: tests/unit/elbapi/test_autoscaling_traffic_sources.py)."""
    ec2, elb = _client(server, "ec2"), _client(server, "elbv2")
    scaling = _client(server, "autoscaling")
    vpc = ec2.create_vpc(CidrBlock="10.31.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.31.1.0/24")["Subnet"]["SubnetId"]
    ec2.create_launch_template(
        LaunchTemplateName="asg", LaunchTemplateData={"ImageId": "ami-00000000000000001"}
    )
    tg_arn = elb.create_target_group(Name="asg", Protocol="TCP", Port=80, VpcId=vpc)[
        "TargetGroups"][0]["TargetGroupArn"]  # fmt: skip
    scaling.create_auto_scaling_group(
        AutoScalingGroupName="asg",
        LaunchTemplate={"LaunchTemplateName": "asg"},
        MinSize=0,
        MaxSize=1,
        VPCZoneIdentifier=subnet,
    )
    scaling.attach_traffic_sources(
        AutoScalingGroupName="asg", TrafficSources=[{"Identifier": tg_arn, "Type": "elbv2"}]
    )

    def states() -> list[tuple[str, str]]:
        found = scaling.describe_traffic_sources(AutoScalingGroupName="asg")["TrafficSources"]
        return [(s["Identifier"], s["State"]) for s in found]

    # The upkeep (every 0.5 s here) may have run between the two calls: Added already.
    assert states() in ([(tg_arn, "Adding")], [(tg_arn, "Added")])
    for _ in range(40):
        if states() != [(tg_arn, "Adding")]:
            break
        time.sleep(0.1)
    assert states() == [(tg_arn, "Added")]
    shown = scaling.describe_load_balancer_target_groups(AutoScalingGroupName="asg")
    assert [g["State"] for g in shown["LoadBalancerTargetGroups"]] == ["Added"]
    with pytest.raises(ClientError) as refused:
        scaling.attach_traffic_sources(
            AutoScalingGroupName="asg", TrafficSources=[{"Identifier": "classic", "Type": "elb"}]
        )
    assert _code(refused) == "ValidationError"
    scaling.detach_traffic_sources(
        AutoScalingGroupName="asg", TrafficSources=[{"Identifier": tg_arn}]
    )
    assert states() in ([(tg_arn, "Removing")], [])  # likewise: gone already
    for _ in range(40):
        if not states():
            break
        time.sleep(0.1)
    assert states() == []
    scaling.delete_auto_scaling_group(AutoScalingGroupName="asg", ForceDelete=True)
    elb.delete_target_group(TargetGroupArn=tg_arn)


def test_boto3_tls_listener_with_an_iam_server_certificate(server: ServerProcess) -> None:
    """Decision 0210 through the real wiring: the listener finds the certificate IAM keeps
    (sealed under the account's keys), IAM's DeleteServerCertificate is DeleteConflict while
    the listener presents it and succeeds once it is gone."""
    ec2, elb, iam = (_client(server, s) for s in ("ec2", "elbv2", "iam"))
    issued = TestCa().issue("www.tls.example")
    arn = iam.upload_server_certificate(
        ServerCertificateName="tls-www", CertificateBody=issued.body, PrivateKey=issued.key
    )["ServerCertificateMetadata"]["Arn"]
    vpc = ec2.create_vpc(CidrBlock="10.32.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.32.1.0/24")["Subnet"]["SubnetId"]
    lb_arn = elb.create_load_balancer(
        Name="tls", Type="network", Scheme="internal", Subnets=[subnet]
    )["LoadBalancers"][0]["LoadBalancerArn"]
    tg_arn = elb.create_target_group(Name="tls", Protocol="TLS", Port=443, VpcId=vpc)[
        "TargetGroups"][0]["TargetGroupArn"]  # fmt: skip
    listener = elb.create_listener(
        LoadBalancerArn=lb_arn,
        Protocol="TLS",
        Port=443,
        Certificates=[{"CertificateArn": arn}],
        SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}],
    )["Listeners"][0]
    assert listener["Certificates"] == [{"CertificateArn": arn}]
    policies = elb.describe_ssl_policies(Names=["ELBSecurityPolicy-TLS13-1-2-2021-06"])
    assert "TLSv1.3" in policies["SslPolicies"][0]["SslProtocols"]
    with pytest.raises(ClientError) as refused:
        iam.delete_server_certificate(ServerCertificateName="tls-www")
    assert _code(refused) == "DeleteConflict"
    elb.delete_listener(ListenerArn=listener["ListenerArn"])
    iam.delete_server_certificate(ServerCertificateName="tls-www")
    elb.delete_load_balancer(LoadBalancerArn=lb_arn)
    elb.delete_target_group(TargetGroupArn=tg_arn)


def test_boto3_application_load_balancer_listener_and_rules(server: ServerProcess) -> None:
    """Decision 0216 through the real wiring (the same server): an internal ALB with its
    security group, an HTTP group, an HTTP listener redirecting by default, rules forwarding
    by path and answering by header, their priorities swapped, AWS's refusals, the upkeep
    handing the listener to the memory hypervisor without failing."""
    ec2, elb = _client(server, "ec2"), _client(server, "elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.33.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.33.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="alb", Description="alb", VpcId=vpc)["GroupId"]
    lb = elb.create_load_balancer(
        Name="shop", Type="application", Scheme="internal", Subnets=[subnet],
        SecurityGroups=[group],
    )["LoadBalancers"][0]  # fmt: skip
    assert (lb["Type"], ":loadbalancer/app/shop/" in lb["LoadBalancerArn"]) == ("application", True)
    tg_arn = elb.create_target_group(
        Name="shop-api", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip",
        HealthCheckPath="/health", Matcher={"HttpCode": "200,302"},
    )["TargetGroups"][0]["TargetGroupArn"]  # fmt: skip
    elb.register_targets(TargetGroupArn=tg_arn, Targets=[{"Id": "10.33.1.20"}])
    listener = elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
        DefaultActions=[{"Type": "redirect", "RedirectConfig": {
            "Protocol": "HTTP", "Port": "8080", "StatusCode": "HTTP_302"}}],
    )["Listeners"][0]["ListenerArn"]  # fmt: skip
    api = elb.create_rule(
        ListenerArn=listener, Priority=10,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/api/*"]}}],
        Actions=[{"Type": "forward", "TargetGroupArn": tg_arn}],
    )["Rules"][0]["RuleArn"]  # fmt: skip
    beta = elb.create_rule(
        ListenerArn=listener, Priority=20,
        Conditions=[{"Field": "http-header", "HttpHeaderConfig": {
            "HttpHeaderName": "X-Beta", "Values": ["on"]}}],
        Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "503"}}],
    )["Rules"][0]["RuleArn"]  # fmt: skip
    with pytest.raises(ClientError) as refused:
        elb.create_rule(
            ListenerArn=listener, Priority=10,
            Conditions=[{"Field": "path-pattern", "Values": ["/x"]}],
            Actions=[{"Type": "forward", "TargetGroupArn": tg_arn}],
        )  # fmt: skip
    assert _code(refused) == "PriorityInUse"
    elb.set_rule_priorities(
        RulePriorities=[{"RuleArn": api, "Priority": 20}, {"RuleArn": beta, "Priority": 10}]
    )
    rules = elb.describe_rules(ListenerArn=listener)["Rules"]
    assert [(r["RuleArn"], r["Priority"]) for r in rules[:2]] == [(beta, "10"), (api, "20")]
    assert rules[2]["IsDefault"] is True
    # Decision 0231: the group's lb_cookie stickiness, handed to the hosts with the listener.
    sticky = elb.modify_target_group_attributes(
        TargetGroupArn=tg_arn, Attributes=[
            {"Key": "stickiness.enabled", "Value": "true"},
            {"Key": "stickiness.lb_cookie.duration_seconds", "Value": "600"}],
    )["Attributes"]  # fmt: skip
    assert {a["Key"]: a["Value"] for a in sticky}["stickiness.type"] == "lb_cookie"
    time.sleep(1.5)  # upkeep rounds hand the listener to the (memory) hosts
    with pytest.raises(ClientError) as refused:
        elb.delete_target_group(TargetGroupArn=tg_arn)
    assert _code(refused) == "ResourceInUse"
    elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    elb.delete_target_group(TargetGroupArn=tg_arn)
