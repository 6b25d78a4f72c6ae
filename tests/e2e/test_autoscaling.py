"""EC2 Auto Scaling with boto3 and the aws CLI against a real ``andromede serve`` (hypervisor =
memory), decision 0156: a group over a launch template converges to its desired capacity
through the reconciler of the serving process, tags its instances ``aws:autoscaling:groupName``,
scales in, answers its activities, refuses a plain delete while it holds instances and goes
with ForceDelete; on the way (decision 0159) a scheduled action grows it, a launch lifecycle
hook holds the new instance until completed, and an instance refresh replaces both onto the
template's next version; (decision 0182) a protected instance outlives a scale-in, a
suspended Launch launches nothing, Standby and DetachInstances take an instance out;
(decision 0188) a notification configuration sends the launches and terminations to an SQS
queue subscribed to its SNS topic; (decision 0194) a warm pool is put, kept stopped, drawn on
by a scale-out and deleted; the aws CLI creates, describes and deletes a group; (decision
0197) a predictive scaling policy forecasts from a load put into CloudWatch."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from e2e.helpers import client_binary, run_cli
from support.launcher import run_command
from support.server import ANDROMEDE, REGION, ServerProcess, running_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {
        "ANDROMEDE_WORKERS": "1",
        "ANDROMEDE_HYPERVISOR": "memory",
        "ANDROMEDE_MEMORY_HYPERVISOR_VCPUS": "16",
        "ANDROMEDE_MEMORY_HYPERVISOR_MEMORY_MIB": "16384",
        "ANDROMEDE_AUTOSCALING_INTERVAL": "0.5",
    }
    with running_server(tmp_path_factory.mktemp("asg") / "data", extra_env=env) as started:
        yield started


def _client(server: ServerProcess, service: str) -> Any:
    access_key, secret_key = server.credentials()
    session = boto3.session.Session(
        aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=REGION
    )
    return session.client(
        service, endpoint_url=server.endpoint, config=Config(retries={"max_attempts": 1})
    )


def _until(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


def test_boto3_group_converges_scales_in_and_is_force_deleted(
    server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> None:
    disk = tmp_path_factory.mktemp("image") / "disk.raw"
    disk.write_bytes(os.urandom(64 * 1024))
    done = run_command(
        [str(ANDROMEDE), "admin", "image", "import", str(disk), "--name", "debian-test",
         "--public", "--json", "--data-dir", str(server.data_dir)],
        timeout=60, check=True,
        env={**os.environ, **server.extra_env},
    )  # fmt: skip
    image_id = str(json.loads(done.stdout)["image_id"])
    ec2 = _client(server, "ec2")
    scaling = _client(server, "autoscaling")
    template = ec2.create_launch_template(
        LaunchTemplateName="asg-web",
        LaunchTemplateData={"ImageId": image_id, "InstanceType": "t3.nano"},
    )["LaunchTemplate"]["LaunchTemplateId"]
    scaling.create_auto_scaling_group(
        AutoScalingGroupName="web",
        LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"},
        MinSize=1,
        MaxSize=4,
        DesiredCapacity=3,
        Tags=[{"Key": "team", "Value": "blue", "PropagateAtLaunch": True}],
    )

    def members() -> list[dict[str, Any]]:
        found = ec2.describe_instances(
            Filters=[
                {"Name": "tag:aws:autoscaling:groupName", "Values": ["web"]},
                {"Name": "instance-state-name", "Values": ["pending", "running"]},
            ]
        )
        return [i for r in found["Reservations"] for i in r["Instances"]]

    _until(lambda: len(members()) == 3, "three instances")
    assert all({"Key": "team", "Value": "blue"} in i["Tags"] for i in members())
    group = scaling.describe_auto_scaling_groups(AutoScalingGroupNames=["web"])[
        "AutoScalingGroups"
    ][0]
    assert len(group["Instances"]) == 3
    scaling.set_desired_capacity(AutoScalingGroupName="web", DesiredCapacity=1)
    _until(lambda: len(members()) == 1, "one instance")

    def terminations() -> int:
        found = scaling.describe_scaling_activities(AutoScalingGroupName="web")["Activities"]
        return sum(a["Description"].startswith("Terminating") for a in found)

    # The reconciler records each termination once compute has taken it: the instance may
    # leave the filter a moment before its activity is written.
    _until(lambda: terminations() == 2, "two terminations")
    activities = scaling.describe_scaling_activities(AutoScalingGroupName="web")["Activities"]
    assert sum(a["Description"].startswith("Launching") for a in activities) == 3
    assert sum(a["Description"].startswith("Terminating") for a in activities) == 2
    # SetInstanceHealth on the wire (decision 0198, session 49): an unmarked instance set
    # Healthy is left as it is (the marking and its replacement are the unit tests').
    [kept] = members()
    scaling.set_instance_health(InstanceId=kept["InstanceId"], HealthStatus="Healthy")
    _notifications(server, scaling, members)
    _hooks_schedules_and_refresh(ec2, scaling, template, image_id, members)
    _protection_suspension_standby_detach(ec2, scaling, members)
    with pytest.raises(ClientError) as raised:
        scaling.delete_auto_scaling_group(AutoScalingGroupName="web")
    assert raised.value.response["Error"]["Code"] == "ResourceInUse"
    scaling.delete_auto_scaling_group(AutoScalingGroupName="web", ForceDelete=True)
    _until(
        lambda: not scaling.describe_auto_scaling_groups()["AutoScalingGroups"],
        "the group to go",
    )
    assert members() == []
    _warm_pool(scaling, template)


def _warm_pool(scaling: Any, template: str) -> None:
    """Decision 0194: a warm pool put, kept stopped by the serving reconciler, drawn on by a
    scale-out, and deleted, through boto3."""
    scaling.create_auto_scaling_group(
        AutoScalingGroupName="pooled",
        LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"},
        MinSize=0,
        MaxSize=2,
        DesiredCapacity=0,
    )
    with pytest.raises(ClientError) as raised:
        scaling.put_warm_pool(AutoScalingGroupName="pooled", PoolState="Hibernated")
    assert raised.value.response["Error"]["Code"] == "ValidationError"
    scaling.put_warm_pool(AutoScalingGroupName="pooled", MinSize=1, PoolState="Stopped")

    def warmed() -> list[str]:
        found = scaling.describe_warm_pool(AutoScalingGroupName="pooled")["Instances"]
        return sorted(i["LifecycleState"] for i in found)

    _until(lambda: warmed() == ["Warmed:Stopped"] * 2, "two stopped instances in the pool")
    [group] = scaling.describe_auto_scaling_groups(AutoScalingGroupNames=["pooled"])[
        "AutoScalingGroups"
    ]
    assert group["WarmPoolSize"] == 2 and group["Instances"] == []
    assert group["WarmPoolConfiguration"]["PoolState"] == "Stopped"
    scaling.set_desired_capacity(AutoScalingGroupName="pooled", DesiredCapacity=1)

    def in_service() -> list[str]:
        [group] = scaling.describe_auto_scaling_groups(AutoScalingGroupNames=["pooled"])[
            "AutoScalingGroups"
        ]
        return [i["LifecycleState"] for i in group["Instances"]]

    _until(lambda: in_service() == ["InService"], "an instance from the pool in service")
    activities = scaling.describe_scaling_activities(AutoScalingGroupName="pooled")["Activities"]
    assert any("from warm pool" in a["Description"] for a in activities)
    assert not any(a["Description"].startswith("Launching a new EC2 instance: ")
                   for a in activities)  # fmt: skip
    scaling.delete_warm_pool(AutoScalingGroupName="pooled")
    _until(
        lambda: (
            "WarmPoolConfiguration" not in scaling.describe_warm_pool(AutoScalingGroupName="pooled")
        ),
        "the pool to go",
    )
    scaling.delete_auto_scaling_group(AutoScalingGroupName="pooled", ForceDelete=True)


def _notifications(
    server: ServerProcess, scaling: Any, members: Callable[[], list[dict[str, Any]]]
) -> None:
    """Decision 0188 on the group of one: a notification configuration to an SNS topic
    with an SQS queue subscribed; the queue gets the test notification, then AWS's
    message of the launch a scale-out does and of the termination the scale-in does."""
    sns, sqs = _client(server, "sns"), _client(server, "sqs")
    topic = sns.create_topic(Name="scaling-events")["TopicArn"]
    url = sqs.create_queue(QueueName="scaling-inbox")["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue["QueueArn"])
    launch, terminate = "autoscaling:EC2_INSTANCE_LAUNCH", "autoscaling:EC2_INSTANCE_TERMINATE"
    scaling.put_notification_configuration(
        AutoScalingGroupName="web", TopicARN=topic, NotificationTypes=[launch, terminate]
    )
    found = scaling.describe_notification_configurations(AutoScalingGroupNames=["web"])
    assert sorted(c["NotificationType"] for c in found["NotificationConfigurations"]) == [
        launch,
        terminate,
    ]
    inbox: list[dict[str, Any]] = []
    subjects: dict[str, str] = {}

    def received(event: str) -> bool:
        for got in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []):
            envelope = json.loads(got["Body"])
            assert envelope["TopicArn"] == topic
            inbox.append(json.loads(envelope["Message"]))
            subjects[inbox[-1]["Event"]] = envelope["Subject"]
            sqs.delete_message(QueueUrl=url, ReceiptHandle=got["ReceiptHandle"])
        return any(m["Event"] == event for m in inbox)

    _until(lambda: received("autoscaling:TEST_NOTIFICATION"), "the test notification")
    scaling.set_desired_capacity(AutoScalingGroupName="web", DesiredCapacity=2)
    _until(lambda: received(launch), "the launch notification")
    [launched] = [m for m in inbox if m["Event"] == launch]
    assert subjects[launch] == 'Auto Scaling: launch for group "web"'
    assert launched["AutoScalingGroupName"] == "web" and launched["Service"] == "AWS Auto Scaling"
    assert launched["Description"] == f"Launching a new EC2 instance: {launched['EC2InstanceId']}"
    assert launched["StatusCode"] == "Successful"
    activities = scaling.describe_scaling_activities(AutoScalingGroupName="web")["Activities"]
    assert launched["ActivityId"] in {a["ActivityId"] for a in activities}
    assert launched["EC2InstanceId"] in {i["InstanceId"] for i in members()}
    scaling.set_desired_capacity(AutoScalingGroupName="web", DesiredCapacity=1)
    _until(lambda: received(terminate), "the termination notification")
    [gone] = [m for m in inbox if m["Event"] == terminate]
    assert gone["Description"] == f"Terminating EC2 instance: {gone['EC2InstanceId']}"
    assert sum(m["Event"] == launch for m in inbox) == 1  # once per activity
    scaling.delete_notification_configuration(AutoScalingGroupName="web", TopicARN=topic)
    _until(lambda: len(members()) == 1, "one instance again")


def _hooks_schedules_and_refresh(
    ec2: Any,
    scaling: Any,
    template: str,
    image_id: str,
    members: Callable[[], list[dict[str, Any]]],
) -> None:
    """Decision 0159 on the group of one instance: a launch hook holds the instance a
    scheduled action adds in Pending:Wait until CompleteLifecycleAction; an instance refresh
    then moves both onto the template's second version."""
    scaling.put_lifecycle_hook(
        AutoScalingGroupName="web",
        LifecycleHookName="warm",
        LifecycleTransition="autoscaling:EC2_INSTANCE_LAUNCHING",
        HeartbeatTimeout=300,
    )
    [hook] = scaling.describe_lifecycle_hooks(AutoScalingGroupName="web")["LifecycleHooks"]
    assert (hook["LifecycleHookName"], hook["DefaultResult"]) == ("warm", "ABANDON")
    scaling.put_scheduled_update_group_action(
        AutoScalingGroupName="web",
        ScheduledActionName="grow",
        StartTime=datetime.now(UTC) + timedelta(seconds=2),
        DesiredCapacity=2,
    )
    [action] = scaling.describe_scheduled_actions(AutoScalingGroupName="web")[
        "ScheduledUpdateGroupActions"
    ]
    assert action["DesiredCapacity"] == 2

    def states() -> dict[str, str]:
        [group] = scaling.describe_auto_scaling_groups(AutoScalingGroupNames=["web"])[
            "AutoScalingGroups"
        ]
        return {i["InstanceId"]: i["LifecycleState"] for i in group["Instances"]}

    _until(lambda: "Pending:Wait" in states().values(), "the new instance to wait")
    assert scaling.describe_scheduled_actions()["ScheduledUpdateGroupActions"] == []
    [waiting] = [i for i, state in states().items() if state == "Pending:Wait"]
    scaling.complete_lifecycle_action(
        AutoScalingGroupName="web",
        LifecycleHookName="warm",
        InstanceId=waiting,
        LifecycleActionResult="CONTINUE",
    )
    _until(lambda: list(states().values()) == ["InService"] * 2, "two instances in service")
    scaling.delete_lifecycle_hook(AutoScalingGroupName="web", LifecycleHookName="warm")
    ec2.create_launch_template_version(
        LaunchTemplateId=template,
        LaunchTemplateData={"ImageId": image_id, "InstanceType": "t3.micro"},
    )
    refresh_id = scaling.start_instance_refresh(
        AutoScalingGroupName="web",
        Preferences={"MinHealthyPercentage": 50, "InstanceWarmup": 0},
    )["InstanceRefreshId"]

    def refreshed() -> bool:
        [refresh] = scaling.describe_instance_refreshes(AutoScalingGroupName="web")[
            "InstanceRefreshes"
        ]
        assert refresh["InstanceRefreshId"] == refresh_id
        return bool(refresh["Status"] == "Successful")

    _until(refreshed, "the instance refresh")
    assert sorted(i["InstanceType"] for i in members()) == ["t3.micro", "t3.micro"]


def _protection_suspension_standby_detach(
    ec2: Any, scaling: Any, members: Callable[[], list[dict[str, Any]]]
) -> None:
    """Decision 0182 on the group of two: the protected instance outlives a scale-in; with
    Launch suspended nothing is launched until it is resumed; an instance in Standby is out
    of the capacity; a detached one keeps running, no longer the group's."""
    kept, _ = sorted(i["InstanceId"] for i in members())
    scaling.set_instance_protection(
        AutoScalingGroupName="web", InstanceIds=[kept], ProtectedFromScaleIn=True
    )
    scaling.set_desired_capacity(AutoScalingGroupName="web", DesiredCapacity=1)
    _until(lambda: [i["InstanceId"] for i in members()] == [kept], "the unprotected to go")
    scaling.suspend_processes(AutoScalingGroupName="web", ScalingProcesses=["Launch"])

    def group() -> dict[str, Any]:
        return dict(
            scaling.describe_auto_scaling_groups(AutoScalingGroupNames=["web"])[
                "AutoScalingGroups"
            ][0]
        )

    assert [p["ProcessName"] for p in group()["SuspendedProcesses"]] == ["Launch"]
    scaling.set_desired_capacity(AutoScalingGroupName="web", DesiredCapacity=2)
    time.sleep(2.0)  # four reconciler rounds
    assert len(members()) == 1
    scaling.resume_processes(AutoScalingGroupName="web")
    _until(lambda: len(members()) == 2, "the launch once resumed")
    [fresh] = [i["InstanceId"] for i in members() if i["InstanceId"] != kept]
    _until(lambda: {i["State"]["Name"] for i in members()} == {"running"}, "both running")
    entered = scaling.enter_standby(
        AutoScalingGroupName="web", InstanceIds=[fresh], ShouldDecrementDesiredCapacity=True
    )["Activities"]
    assert entered[0]["Description"] == f"Moving EC2 instance to Standby: {fresh}"
    states = {i["InstanceId"]: i for i in group()["Instances"]}
    assert states[fresh]["LifecycleState"] == "Standby"
    assert states[kept]["ProtectedFromScaleIn"] is True
    assert group()["DesiredCapacity"] == 1
    scaling.exit_standby(AutoScalingGroupName="web", InstanceIds=[fresh])
    assert group()["DesiredCapacity"] == 2
    detached = scaling.detach_instances(
        AutoScalingGroupName="web", InstanceIds=[fresh], ShouldDecrementDesiredCapacity=True
    )["Activities"]
    assert "was detached in response to a user request" in detached[0]["Cause"]
    [alone] = [r for r in ec2.describe_instances(InstanceIds=[fresh])["Reservations"]]
    instance = alone["Instances"][0]
    assert instance["State"]["Name"] == "running"
    assert "aws:autoscaling:groupName" not in {t["Key"] for t in instance.get("Tags", [])}
    assert [i["InstanceId"] for i in members()] == [kept]
    ec2.terminate_instances(InstanceIds=[fresh])


def test_aws_cli_creates_describes_and_deletes_a_group(
    server: ServerProcess, tmp_path: Path
) -> None:
    binary = client_binary("aws", in_venv=True)
    home = tmp_path / "home"
    home.mkdir()
    config = tmp_path / "aws-config"
    config.write_text(f"[profile andromede]\nregion = {REGION}\noutput = json\n")
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(HOME=str(home), AWS_SHARED_CREDENTIALS_FILE=str(server.credentials_file),
               AWS_CONFIG_FILE=str(config), AWS_PROFILE="andromede", AWS_PAGER="")  # fmt: skip

    def aws(service: str, *args: str) -> Any:
        done = run_cli("aws", [str(binary), "--endpoint-url", server.endpoint, service, *args], env)
        return json.loads(done.stdout) if done.stdout.strip() else None

    template = aws("ec2", "create-launch-template", "--launch-template-name", "cli-asg",
                   "--launch-template-data", '{"ImageId": "ami-0123456789abcdef0"}')  # fmt: skip
    template_id = template["LaunchTemplate"]["LaunchTemplateId"]
    aws("autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", "cli",
        "--launch-template", f"LaunchTemplateId={template_id}",
        "--min-size", "0", "--max-size", "2")  # fmt: skip
    described = aws("autoscaling", "describe-auto-scaling-groups",
                    "--auto-scaling-group-names", "cli")  # fmt: skip
    [group] = described["AutoScalingGroups"]
    assert (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]) == (0, 2, 0)
    assert group["LaunchTemplate"]["LaunchTemplateId"] == template_id
    aws("autoscaling", "delete-auto-scaling-group", "--auto-scaling-group-name", "cli")
    # Every group of the account is listed, and the module's other tests share the account (a
    # force-deleted group of theirs may still be "Delete in progress"): this group is gone.
    described = aws("autoscaling", "describe-auto-scaling-groups")
    assert "cli" not in [g["AutoScalingGroupName"] for g in described["AutoScalingGroups"]]


def test_boto3_predictive_scaling_forecasts_from_cloudwatch(server: ServerProcess) -> None:
    """Decision 0197: a predictive policy over a custom load the account put into CloudWatch
    (30 hours of it, one sum an hour), its forecast 48 hours ahead through the serving
    process's metrics."""
    ec2, scaling = _client(server, "ec2"), _client(server, "autoscaling")
    cloudwatch = _client(server, "cloudwatch")
    template = ec2.create_launch_template(
        LaunchTemplateName="asg-predictive", LaunchTemplateData={"ImageId": "ami-0123456789abcdef0"}
    )["LaunchTemplate"]["LaunchTemplateId"]
    scaling.create_auto_scaling_group(
        AutoScalingGroupName="predicted", LaunchTemplate={"LaunchTemplateId": template},
        MinSize=0, MaxSize=5,
    )  # fmt: skip
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    cloudwatch.put_metric_data(
        Namespace="Shop",
        MetricData=[
            {"MetricName": "Orders", "Timestamp": hour - timedelta(hours=h), "Value": 250.0}
            for h in range(1, 31)
        ],
    )
    load = {"Id": "orders", "MetricStat": {
        "Metric": {"Namespace": "Shop", "MetricName": "Orders"}, "Stat": "Sum"}}  # fmt: skip
    scaling.put_scaling_policy(
        AutoScalingGroupName="predicted",
        PolicyName="orders",
        PolicyType="PredictiveScaling",
        PredictiveScalingConfiguration={
            "MetricSpecifications": [
                {
                    "TargetValue": 100,
                    "PredefinedScalingMetricSpecification": {
                        "PredefinedMetricType": "ASGAverageCPUUtilization"
                    },
                    "CustomizedLoadMetricSpecification": {"MetricDataQueries": [load]},
                }
            ],
        },
    )
    [policy] = scaling.describe_policies(AutoScalingGroupName="predicted")["ScalingPolicies"]
    assert policy["PredictiveScalingConfiguration"]["Mode"] == "ForecastOnly"
    found = scaling.get_predictive_scaling_forecast(
        AutoScalingGroupName="predicted",
        PolicyName="orders",
        StartTime=hour,
        EndTime=hour + timedelta(days=2),
    )
    assert found["LoadForecast"][0]["Values"] == [250.0] * 48
    assert found["CapacityForecast"]["Values"] == [3.0] * 48  # 250 / 100 up
    scaling.delete_auto_scaling_group(AutoScalingGroupName="predicted")


def _image(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory, ec2: Any) -> str:
    """The module's image (imported by the first test), imported when that one did not run."""
    found = ec2.describe_images(Filters=[{"Name": "name", "Values": ["debian-test"]}])["Images"]
    if found:
        return str(found[0]["ImageId"])
    disk = tmp_path_factory.mktemp("image-mixed") / "disk.raw"
    disk.write_bytes(os.urandom(64 * 1024))
    done = run_command(
        [str(ANDROMEDE), "admin", "image", "import", str(disk), "--name", "debian-test",
         "--public", "--json", "--data-dir", str(server.data_dir)],
        timeout=60, check=True,
        env={**os.environ, **server.extra_env},
    )  # fmt: skip
    return str(json.loads(done.stdout)["image_id"])


def test_boto3_mixed_instances_policy_launches_on_demand_and_spot(
    server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Decision 0209: the On-Demand base, then Spot through EC2's Spot path, as boto3 sees."""
    ec2 = _client(server, "ec2")
    scaling = _client(server, "autoscaling")
    template = ec2.create_launch_template(
        LaunchTemplateName="asg-mixed",
        LaunchTemplateData={"ImageId": _image(server, tmp_path_factory, ec2)},
    )["LaunchTemplate"]["LaunchTemplateId"]
    scaling.create_auto_scaling_group(
        AutoScalingGroupName="mixed",
        MixedInstancesPolicy={
            "LaunchTemplate": {
                "LaunchTemplateSpecification": {"LaunchTemplateId": template},
                "Overrides": [{"InstanceType": "t3.nano"}, {"InstanceType": "t3.micro"}],
            },
            "InstancesDistribution": {
                "OnDemandBaseCapacity": 1,
                "OnDemandPercentageAboveBaseCapacity": 0,
                "SpotAllocationStrategy": "price-capacity-optimized",
            },
        },
        MinSize=0,
        MaxSize=3,
        DesiredCapacity=2,
    )

    def members() -> list[dict[str, Any]]:
        found = ec2.describe_instances(
            Filters=[
                {"Name": "tag:aws:autoscaling:groupName", "Values": ["mixed"]},
                {"Name": "instance-state-name", "Values": ["pending", "running"]},
            ]
        )
        return [i for r in found["Reservations"] for i in r["Instances"]]

    _until(lambda: len(members()) == 2, "two instances")
    assert sorted(i.get("InstanceLifecycle", "on-demand") for i in members()) == [
        "on-demand",
        "spot",
    ]
    group = scaling.describe_auto_scaling_groups(AutoScalingGroupNames=["mixed"])[
        "AutoScalingGroups"
    ][0]
    assert group["MixedInstancesPolicy"]["InstancesDistribution"]["OnDemandBaseCapacity"] == 1
    with pytest.raises(ClientError) as refused:
        scaling.put_warm_pool(AutoScalingGroupName="mixed")
    assert refused.value.response["Error"]["Code"] == "ValidationError"
    scaling.delete_auto_scaling_group(AutoScalingGroupName="mixed", ForceDelete=True)
