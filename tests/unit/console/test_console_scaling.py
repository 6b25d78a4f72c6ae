"""An Auto Scaling group's "Automatic scaling" page (decision 0111, session 50; decisions 0177,
0159): its scaling policies put and deleted from the page's forms — target tracking, simple
and step, a simple one linked to a CloudWatch alarm of the account —, its scheduled actions
put and deleted, its lifecycle hooks listed; each Auto Scaling's own call as the signed-in
user, its refusals in its words and the form as typed."""

from __future__ import annotations

from pathlib import Path

import httpx

from andromede.console import wire_alarms
from andromede.console.wire_autoscaling import AutoScalingWire
from andromede.console.wire_metrics import CloudWatchWire
from andromede.iam.model import Principal
from support.console import ConsoleHarness, csrf_of, log_in, running_compute, sign_in_root

_SCOPE = {"client": ("127.0.0.1", 1), "server": ("127.0.0.1", 9001), "scheme": "http"}
_PAGE = "/auto-scaling-groups/web/scaling"


async def _root(console: ConsoleHarness, client: httpx.AsyncClient) -> Principal:
    return await console.identity.resolve_console_session(client.cookies["andromede_console"])


async def _as_root(
    console: ConsoleHarness, client: httpx.AsyncClient, action: str, params: dict[str, str]
) -> None:
    running = console.application._running
    assert running is not None
    wire = running.console.console.autoscaling
    assert isinstance(wire, AutoScalingWire)
    await wire.call(_SCOPE, await _root(console, client), action, params)


def _metrics(console: ConsoleHarness) -> CloudWatchWire:
    running = console.application._running
    assert running is not None
    wire = running.console.console.metrics
    assert isinstance(wire, CloudWatchWire)
    return wire


async def _group(console: ConsoleHarness, client: httpx.AsyncClient, tmp_path: Path) -> None:
    compute = running_compute(console)
    tenant = await sign_in_root(console, client)
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"\0" * 4096)
    image = await compute.import_image_file(disk, name="debian-12", owner_id=None)
    template, _ = await compute.create_launch_template(
        tenant, name="web", created_by="test",
        parameters=(("ImageId", image.image_id), ("InstanceType", "t3.nano")),
    )  # fmt: skip
    await _as_root(console, client, "CreateAutoScalingGroup", {
        "AutoScalingGroupName": "web", "MinSize": "0", "MaxSize": "4",
        "LaunchTemplate.LaunchTemplateId": template.template_id,
    })  # fmt: skip


def _row(text: str, row_id: str) -> str:
    return text.split(f'id="{row_id}"', 1)[1].split("</tr>", 1)[0]


async def test_policies_put_linked_and_deleted(console: ConsoleHarness, tmp_path: Path) -> None:
    async with console.client() as client:
        await _group(console, client, tmp_path)
        group = await client.get("/auto-scaling-groups/web")
        assert 'href="/console/auto-scaling-groups/web/scaling"' in group.text
        page = await client.get(_PAGE)
        assert page.status_code == 200 and "No scaling policies." in page.text
        assert "No scheduled actions." in page.text and "No lifecycle hooks." in page.text
        # ALBRequestCountPerTarget needs a ResourceLabel Auto Scaling does not take: not offered.
        assert '<option value="ASGAverageCPUUtilization"' in page.text
        assert "ALBRequestCountPerTarget" not in page.text
        token = csrf_of(page)
        tracking = {"csrf": token, "policy": "cpu", "metric": "ASGAverageCPUUtilization",
                    "target": "50", "warmup": "60"}  # fmt: skip

        forged = await client.post(
            "/auto-scaling-groups/web/policies/target-tracking", data={**tracking, "csrf": "x"}
        )
        assert forged.status_code == 403
        # A target of 0: Auto Scaling's refusal, in French, the form as typed.
        bad = await client.post(
            "/auto-scaling-groups/web/policies/target-tracking",
            data={**tracking, "target": "0"}, headers={"accept-language": "fr"},
        )  # fmt: skip
        assert bad.status_code == 400 and "(ValidationError)" in bad.text
        assert "TargetValue must be greater than zero" in bad.text
        assert 'name="target" size="8" required value="0"' in bad.text
        assert "Aucune politique de mise à l" in bad.text

        made = await client.post("/auto-scaling-groups/web/policies/target-tracking", data=tracking)
        assert made.status_code == 303 and made.headers["location"] == f"/console{_PAGE}"
        page = await client.get(_PAGE)
        row = _row(page.text, "policy-cpu")
        assert "TargetTrackingScaling" in row and "ASGAverageCPUUtilization · target 50.0" in row
        assert row.count('href="/console/alarms/TargetTracking-web-Alarm') == 2

        # A simple policy called by an alarm of the account: the alarm's ALARM actions name it.
        await wire_alarms.put(_metrics(console), _SCOPE, await _root(console, client), {
            "AlarmName": "busy", "Namespace": "AWS/EC2", "MetricName": "CPUUtilization",
            "Dimensions": [{"Name": "AutoScalingGroupName", "Value": "web"}],
            "Statistic": "Average", "Period": 60, "EvaluationPeriods": 2, "Threshold": 80,
            "ComparisonOperator": "GreaterThanThreshold", "AlarmDescription": "kept",
        })  # fmt: skip
        page = await client.get(_PAGE)
        assert '<option value="busy">busy</option>' in page.text
        simple = {"csrf": token, "policy": "up", "alarm": "busy", "adjustment": "2",
                  "adjustment_type": "ChangeInCapacity", "cooldown": "120"}  # fmt: skip
        assert (
            await client.post("/auto-scaling-groups/web/policies/simple", data=simple)
        ).status_code == 303
        page = await client.get(_PAGE)
        row = _row(page.text, "policy-up")
        assert "ChangeInCapacity 2 · cooldown 120 s" in row
        assert 'href="/console/alarms/busy"' in row
        listed = await wire_alarms.describe(
            _metrics(console), _SCOPE, await _root(console, client), names=["busy"]
        )
        [alarm] = listed.alarms
        assert len(alarm.alarm_actions) == 1 and ":scalingPolicy:" in alarm.alarm_actions[0]
        assert alarm.alarm_actions[0].endswith(":policyName/up")
        assert alarm.description == "kept" and alarm.evaluation_periods == 2  # the rest kept
        # An alarm the account does not have (a forged choice): said, the form as typed.
        ghost = await client.post(
            "/auto-scaling-groups/web/policies/simple", data={**simple, "alarm": "ghost"}
        )
        assert ghost.status_code == 404 and "No CloudWatch alarm named ghost." in ghost.text

        # Step policies: overlapping steps refused as typed; two steps made.
        step = {"csrf": token, "policy": "steps", "adjustment_type": "ChangeInCapacity",
                "lower_1": "0", "upper_1": "10", "step_1": "1",
                "lower_2": "5", "step_2": "3"}  # fmt: skip
        refused = await client.post("/auto-scaling-groups/web/policies/step", data=step)
        assert refused.status_code == 400 and "(ValidationError)" in refused.text
        assert 'name="lower_2" size="6" value="5"' in refused.text
        step["lower_2"] = "10"
        assert (
            await client.post("/auto-scaling-groups/web/policies/step", data=step)
        ).status_code == 303
        page = await client.get(_PAGE)
        assert "ChangeInCapacity: [0.0, 10.0) 1; [10.0, +∞) 3" in _row(page.text, "policy-steps")

        # Deleted only once ticked.
        unticked = await client.post(
            "/auto-scaling-groups/web/policies/delete", data={"csrf": token, "policy": "up"}
        )
        assert unticked.status_code == 400 and 'id="policy-up"' in unticked.text
        gone = await client.post(
            "/auto-scaling-groups/web/policies/delete",
            data={"csrf": token, "confirm": "yes", "policy": "up"},
        )
        assert gone.status_code == 303
        page = await client.get(_PAGE)
        assert 'id="policy-up"' not in page.text and 'id="policy-steps"' in page.text


async def test_scheduled_actions_and_hooks(console: ConsoleHarness, tmp_path: Path) -> None:
    async with console.client() as client:
        await _group(console, client, tmp_path)
        await _as_root(console, client, "PutLifecycleHook", {
            "AutoScalingGroupName": "web", "LifecycleHookName": "drain",
            "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
            "HeartbeatTimeout": "300", "DefaultResult": "CONTINUE",
        })  # fmt: skip
        page = await client.get(_PAGE)
        hook = _row(page.text, "hook-drain")
        assert "autoscaling:EC2_INSTANCE_TERMINATING" in hook and ">CONTINUE<" in hook
        token = csrf_of(page)
        form = {"csrf": token, "action": "mornings", "recurrence": "0 8 * * 1-5",
                "min_size": "1", "max_size": "3", "desired": "2", "start": ""}  # fmt: skip
        unreadable = await client.post(
            "/auto-scaling-groups/web/scheduled-actions", data={**form, "start": "tomorrow"},
            headers={"accept-language": "fr"},
        )  # fmt: skip
        assert unreadable.status_code == 400 and "AAAA-MM-JJTHH:MM" in unreadable.text
        assert 'name="recurrence" size="16" value="0 8 * * 1-5"' in unreadable.text
        # A start in the past: Auto Scaling's refusal in its words.
        refused = await client.post(
            "/auto-scaling-groups/web/scheduled-actions", data={**form, "start": "2001-01-01T00:00"}
        )
        assert refused.status_code == 400 and "Given start time is in the past" in refused.text
        made = await client.post("/auto-scaling-groups/web/scheduled-actions", data=form)
        assert made.status_code == 303
        page = await client.get(_PAGE)
        row = _row(page.text, "schedule-mornings")
        assert '<td class="recurrence">0 8 * * 1-5</td>' in row
        assert '<td class="desired">2</td>' in row
        once = {"csrf": token, "action": "launch", "start": "2099-01-02T03:04", "max_size": "4"}
        assert (
            await client.post("/auto-scaling-groups/web/scheduled-actions", data=once)
        ).status_code == 303
        page = await client.get(_PAGE)
        assert '<td class="next-time">2099-01-02 03:04</td>' in _row(page.text, "schedule-launch")
        gone = await client.post(
            "/auto-scaling-groups/web/scheduled-actions/delete",
            data={"csrf": token, "confirm": "yes", "action": "mornings"},
        )
        assert gone.status_code == 303
        page = await client.get(_PAGE)
        assert 'id="schedule-mornings"' not in page.text and 'id="schedule-launch"' in page.text
        missing = await client.get("/auto-scaling-groups/nope/scaling")
        assert missing.status_code == 404 and "No Auto Scaling group named nope." in missing.text


async def test_a_user_without_policies_reads_the_refusal(console: ConsoleHarness) -> None:
    async with console.client() as client:
        await console.user_with_password(console.admin_tenant_id, "nobody")
        assert (await log_in(client, "admin", "nobody")).status_code == 303
        page = await client.get(_PAGE)
        assert page.status_code == 403 and "(AccessDenied)" in page.text
        token = csrf_of(page)
        put = await client.post(
            "/auto-scaling-groups/web/scheduled-actions",
            data={"csrf": token, "action": "nightly", "recurrence": "0 1 * * *"},
        )
        assert put.status_code == 403 and "(AccessDenied)" in put.text
