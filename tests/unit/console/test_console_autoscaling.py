"""The console's Auto Scaling pages (decision 0111, session 49; decisions 0156, 0197, 0198):
the groups listed with their health check type, a group's page with its predictive scaling
policies and their forecast; a group made, resized, deleted and an instance's health set from
the pages' forms — each Auto Scaling's own call as the signed-in user, its refusals in its
words; a group's mixed instances policy made, shown and changed (session 51)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from andromede.compute.cpu_options import CpuOptionsRequest
from andromede.compute.model import SpotOptions
from andromede.compute.service import RunRequest
from andromede.console.wire_autoscaling import AutoScalingWire
from andromede.metrics.model import Aggregate, Series
from andromede.metrics.service import MetricsService
from andromede.metrics.store import Point
from support.console import ConsoleHarness, csrf_of, log_in, running_compute, sign_in_root

_SCOPE = {"client": ("127.0.0.1", 1), "server": ("127.0.0.1", 9001), "scheme": "http"}
_PREDICTIVE = "PredictiveScalingConfiguration.MetricSpecifications.member.1"


async def _as_root(
    console: ConsoleHarness, client: httpx.AsyncClient, action: str, params: dict[str, str]
) -> None:
    """An Auto Scaling call as the client's signed-in user, as the console's are made."""
    running = console.application._running
    assert running is not None
    wire = running.console.console.autoscaling
    assert isinstance(wire, AutoScalingWire)
    principal = await console.identity.resolve_console_session(client.cookies["andromede_console"])
    await wire.call(_SCOPE, principal, action, params)


async def _cpu_history(console: ConsoleHarness, tenant: str, *, percent: float, days: int) -> None:
    """The group's CPU as the platform writes it (``AWS/EC2`` by AutoScalingGroupName), every
    sampling interval over the last ``days``."""
    running = console.application._running
    assert running is not None
    metrics = running.apis["monitoring"]._metrics  # type: ignore[attr-defined]
    assert isinstance(metrics, MetricsService)
    step = int(console.application.settings.instance_metrics_interval)
    series = Series.of(tenant, "AWS/EC2", "CPUUtilization", [("AutoScalingGroupName", "web")])
    end = int(time.time()) // step * step
    await metrics.put_platform(
        [
            Point(series, step, at, "Percent", Aggregate.of_values([(percent, 1.0)]))
            for at in range(end - days * 86400, end, step)
        ]
    )


async def test_groups_health_check_type_and_predictive_policies(
    console: ConsoleHarness, tmp_path: Path
) -> None:
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        empty = await client.get("/auto-scaling-groups")
        assert empty.status_code == 200 and "No Auto Scaling groups." in empty.text
        assert 'id="menu-auto-scaling"' in empty.text
        disk = tmp_path / "disk.raw"
        disk.write_bytes(b"\0" * 4096)
        image = await compute.import_image_file(disk, name="debian-12", owner_id=None)
        template, _ = await compute.create_launch_template(
            tenant, name="web", created_by="test",
            parameters=(("ImageId", image.image_id), ("InstanceType", "t3.nano")),
        )  # fmt: skip
        await _as_root(console, client, "CreateAutoScalingGroup", {
            "AutoScalingGroupName": "web", "MinSize": "0", "MaxSize": "3",
            "LaunchTemplate.LaunchTemplateId": template.template_id,
            "LaunchTemplate.Version": "$Latest",
            "HealthCheckType": "ELB", "HealthCheckGracePeriod": "120",
        })  # fmt: skip
        await _as_root(console, client, "PutScalingPolicy", {
            "AutoScalingGroupName": "web", "PolicyName": "daily",
            "PolicyType": "PredictiveScaling",
            f"{_PREDICTIVE}.TargetValue": "50",
            f"{_PREDICTIVE}.PredefinedMetricPairSpecification.PredefinedMetricType":
                "ASGCPUUtilization",
        })  # fmt: skip
        listed = await client.get("/auto-scaling-groups")
        row = listed.text.split('id="group-web"', 1)[1].split("</tr>", 1)[0]
        assert 'href="/console/auto-scaling-groups/web"' in row
        assert '<td class="health-check-type">ELB</td>' in row

        page = await client.get("/auto-scaling-groups/web", headers={"accept-language": "fr"})
        assert page.status_code == 200
        assert '<dd class="health-check-type">ELB — une instance que ses groupes' in page.text
        assert '<dd class="grace-period">120</dd>' in page.text
        policy = page.text.split('id="policy-daily"', 1)[1].split("</section>", 1)[0]
        assert "ForecastOnly · ASGCPUUtilization · cible 50" in policy
        # A group with no metrics yet: no forecast, as AWS answers (under 24 hours).
        assert "Pas encore de prévision" in policy and 'class="forecast"' not in policy

        # Two days of the group's CPU at 40 %: the next hours' table, 40 % a target of 50 %.
        await _cpu_history(console, tenant, percent=40.0, days=2)
        page = await client.get("/auto-scaling-groups/web")
        policy = page.text.split('id="policy-daily"', 1)[1].split("</section>", 1)[0]
        assert "Forecast for the next 12 hours (UTC)" in policy
        assert policy.count('class="forecast-hour"') == 12
        assert '<td class="load">40.0</td><td class="capacity">1.0</td>' in policy

        missing = await client.get("/auto-scaling-groups/nope")
        assert missing.status_code == 404 and "No Auto Scaling group named nope." in missing.text


async def test_a_user_without_policies_reads_the_refusal(console: ConsoleHarness) -> None:
    async with console.client() as client:
        await console.user_with_password(console.admin_tenant_id, "nobody")
        assert (await log_in(client, "admin", "nobody")).status_code == 303
        groups = await client.get("/auto-scaling-groups")
        assert groups.status_code == 403 and "(AccessDenied)" in groups.text
        group = await client.get("/auto-scaling-groups/web")
        assert group.status_code == 403 and "(AccessDenied)" in group.text


async def _group_read(console: ConsoleHarness, client: httpx.AsyncClient, name: str) -> list[str]:
    """The group as Auto Scaling answers it: its min, max, desired and subnets ([] if gone)."""
    running = console.application._running
    assert running is not None
    wire = running.console.console.autoscaling
    assert isinstance(wire, AutoScalingWire)
    principal = await console.identity.resolve_console_session(client.cookies["andromede_console"])
    root = await wire.call(
        _SCOPE, principal, "DescribeAutoScalingGroups", {"AutoScalingGroupNames.member.1": name}
    )
    item = root.find(".//AutoScalingGroups/member")
    if item is None:
        return []
    return [item.findtext(k) or "" for k in ("MinSize", "MaxSize", "DesiredCapacity")] + [
        item.findtext("VPCZoneIdentifier") or ""
    ]


async def test_a_group_made_resized_and_deleted(console: ConsoleHarness, tmp_path: Path) -> None:
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        none_yet = await client.get("/auto-scaling-groups")
        assert 'id="create-group-form"' not in none_yet.text
        assert 'href="/console/launch-templates"' in none_yet.text
        disk = tmp_path / "disk.raw"
        disk.write_bytes(b"\0" * 4096)
        image = await compute.import_image_file(disk, name="debian-12", owner_id=None)
        template, _ = await compute.create_launch_template(
            tenant, name="web", created_by="test",
            parameters=(("ImageId", image.image_id), ("InstanceType", "t3.nano")),
        )  # fmt: skip
        vpc = await compute.create_vpc(tenant, "10.7.0.0/16")
        subnet = await compute.create_subnet(tenant, vpc.vpc_id, "10.7.1.0/24")
        page = await client.get("/auto-scaling-groups")
        assert f'<option value="{template.template_id}">web ({template.template_id})' in page.text
        assert f'name="subnet_{subnet.subnet_id}"' in page.text
        token = csrf_of(page)
        form = {
            "csrf": token, "name": "web", "template": template.template_id,
            "version": "$Latest", "min_size": "0", "max_size": "2", "desired": "0",
            f"subnet_{subnet.subnet_id}": "yes",
        }  # fmt: skip

        # Without the session's CSRF token: refused, nothing made.
        forged = await client.post("/auto-scaling-groups", data={**form, "csrf": "forged"})
        assert forged.status_code == 403
        assert await _group_read(console, client, "web") == []

        # A minimum over the maximum: Auto Scaling's refusal, in French, the form as typed.
        bad = await client.post(
            "/auto-scaling-groups", data={**form, "min_size": "3"},
            headers={"accept-language": "fr"},
        )  # fmt: skip
        assert bad.status_code == 400 and "(ValidationError)" in bad.text
        assert "Créer un groupe Auto Scaling" in bad.text
        assert 'name="min_size" size="4" required value="3"' in bad.text
        assert f'name="subnet_{subnet.subnet_id}" value="yes" checked' in bad.text
        assert await _group_read(console, client, "web") == []

        made = await client.post("/auto-scaling-groups", data=form)
        assert made.status_code == 303
        assert made.headers["location"] == "/console/auto-scaling-groups/web"
        assert await _group_read(console, client, "web") == ["0", "2", "0", subnet.subnet_id]

        # The sizes changed; a maximum under the minimum refused, as typed.
        group = await client.get("/auto-scaling-groups/web")
        assert 'id="sizes-form"' in group.text and 'value="2"' in group.text
        # (Desired 0 throughout: nothing launched, so the deletion below is immediate.)
        sizes = {"csrf": token, "min_size": "0", "max_size": "4", "desired": ""}
        resized = await client.post("/auto-scaling-groups/web/sizes", data=sizes)
        assert resized.status_code == 303
        assert (await _group_read(console, client, "web"))[:3] == ["0", "4", "0"]
        refused = await client.post(
            "/auto-scaling-groups/web/sizes", data={**sizes, "min_size": "5"}
        )
        assert refused.status_code == 400 and "(ValidationError)" in refused.text
        assert 'name="min_size" size="4" value="5"' in refused.text
        assert (await _group_read(console, client, "web"))[:3] == ["0", "4", "0"]

        # Deleted: only once the box is ticked, ForceDelete sent when asked.
        unticked = await client.post("/auto-scaling-groups/web/delete", data={"csrf": token})
        assert unticked.status_code == 400 and await _group_read(console, client, "web")
        gone = await client.post(
            "/auto-scaling-groups/web/delete",
            data={"csrf": token, "confirm": "yes", "force": "yes"},
        )
        assert gone.status_code == 303
        assert gone.headers["location"] == "/console/auto-scaling-groups"
        assert await _group_read(console, client, "web") == []
        listed = await client.get("/auto-scaling-groups")
        assert 'id="group-web"' not in listed.text


async def test_an_instance_health_set_from_its_row(console: ConsoleHarness, tmp_path: Path) -> None:
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        disk = tmp_path / "disk.raw"
        disk.write_bytes(b"\0" * 4096)
        image = await compute.import_image_file(disk, name="debian-12", owner_id=None)
        template, _ = await compute.create_launch_template(
            tenant, name="web", created_by="test",
            parameters=(("ImageId", image.image_id), ("InstanceType", "t3.nano")),
        )  # fmt: skip
        await _as_root(console, client, "CreateAutoScalingGroup", {
            "AutoScalingGroupName": "web", "MinSize": "0", "MaxSize": "2",
            "LaunchTemplate.LaunchTemplateId": template.template_id,
        })  # fmt: skip
        empty = await client.get("/auto-scaling-groups/web")
        assert "No instances in the group." in empty.text
        [instance] = await compute.run_instances(tenant, RunRequest(image.image_id, "t3.nano"))
        # A Spot Instance of one core and one thread beside it (decisions 0209 and 0214).
        spot = RunRequest(
            image.image_id, "t3.nano", spot=SpotOptions(),
            cpu_options=CpuOptionsRequest(core_count=1, threads_per_core=1),
        )  # fmt: skip
        [spotted] = await compute.run_instances(tenant, spot)
        await compute.settle()
        await _as_root(console, client, "AttachInstances", {
            "AutoScalingGroupName": "web", "InstanceIds.member.1": instance.instance_id,
            "InstanceIds.member.2": spotted.instance_id,
        })  # fmt: skip
        page = await client.get("/auto-scaling-groups/web")
        assert '<th scope="col">Purchase option</th>' in page.text
        row = page.text.split(f'id="instance-{instance.instance_id}"', 1)[1].split("</tr>", 1)[0]
        assert '<td class="health">Healthy</td>' in row
        assert '<td class="market">On-Demand</td>' in row
        row = page.text.split(f'id="instance-{spotted.instance_id}"', 1)[1].split("</tr>", 1)[0]
        assert '<td class="market">Spot</td>' in row
        french = await client.get("/auto-scaling-groups/web", headers={"Accept-Language": "fr"})
        assert '<td class="market">À la demande</td>' in french.text
        detail = await client.get(f"/instances/{spotted.instance_id}")
        assert '<td id="market">Spot</td>' in detail.text
        assert '<td id="cpu-options">1 \u00d7 1 (cores \u00d7 threads per core)</td>' in detail.text
        detail = await client.get(f"/instances/{instance.instance_id}")
        assert '<td id="cpu-options">1 \u00d7 2 (cores \u00d7 threads per core)</td>' in detail.text
        token = csrf_of(page)
        form = {"csrf": token, "instance_id": instance.instance_id, "health": "Unhealthy"}
        forged = await client.post("/auto-scaling-groups/web/health", data={**form, "csrf": "x"})
        assert forged.status_code == 403
        marked = await client.post("/auto-scaling-groups/web/health", data=form)
        assert marked.status_code == 303
        assert marked.headers["location"] == "/console/auto-scaling-groups/web"
        page = await client.get("/auto-scaling-groups/web")
        row = page.text.split(f'id="instance-{instance.instance_id}"', 1)[1].split("</tr>", 1)[0]
        assert '<td class="health">Unhealthy</td>' in row
        # A status Auto Scaling does not know: its refusal, in its words.
        bad = await client.post("/auto-scaling-groups/web/health", data={**form, "health": "Sick"})
        assert bad.status_code == 400 and "(ValidationError)" in bad.text


async def _policy_read(console: ConsoleHarness, client: httpx.AsyncClient, name: str) -> Any:
    """The group's mixed instances policy as Auto Scaling answers it, in the wire's row."""
    running = console.application._running
    assert running is not None
    wire = running.console.console.autoscaling
    assert isinstance(wire, AutoScalingWire)
    principal = await console.identity.resolve_console_session(client.cookies["andromede_console"])
    [group] = await wire.groups(_SCOPE, principal, [name])
    return group


async def test_a_mixed_instances_policy_made_shown_and_changed(
    console: ConsoleHarness, tmp_path: Path
) -> None:
    """Session 51 (decision 0209): a group made with a mixed instances policy from the create
    form's rows, its policy shown on its page, changed from its form, a plain group given one
    and then dropped, and Auto Scaling's refusal (a weight on some overrides only) shown with
    the rows as typed."""
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        disk = tmp_path / "disk.raw"
        disk.write_bytes(b"\0" * 4096)
        image = await compute.import_image_file(disk, name="debian-12", owner_id=None)
        template, _ = await compute.create_launch_template(
            tenant, name="web", created_by="test",
            parameters=(("ImageId", image.image_id), ("InstanceType", "t3.nano")),
        )  # fmt: skip
        page = await client.get("/auto-scaling-groups")
        assert 'id="create-mixed"' in page.text and 'name="override_type_3"' in page.text
        token = csrf_of(page)
        form = {
            "csrf": token, "name": "fleet", "template": template.template_id,
            "version": "$Latest", "min_size": "0", "max_size": "4", "desired": "0",
            "override_type_1": "t3.nano", "override_weight_1": "1",
            "override_type_2": "t3.micro", "override_weight_2": "2",
            "on_demand_base": "1", "on_demand_percentage": "25",
            "on_demand_strategy": "prioritized", "spot_strategy": "capacity-optimized",
            "capacity_rebalance": "yes",
        }  # fmt: skip
        made = await client.post("/auto-scaling-groups", data=form)
        assert made.status_code == 303, made.text
        group = await _policy_read(console, client, "fleet")
        assert group.mixed.overrides == (("t3.nano", "1"), ("t3.micro", "2"))
        assert (group.mixed.on_demand_base, group.mixed.on_demand_percentage) == ("1", "25")
        assert group.mixed.spot_strategy == "capacity-optimized" and group.capacity_rebalance
        assert group.template_id == template.template_id

        listed = await client.get("/auto-scaling-groups")
        assert '<td class="instance-types">t3.nano, t3.micro</td>' in listed.text
        shown = await client.get("/auto-scaling-groups/fleet")
        assert 'id="mixed-policy"' in shown.text
        assert '<td class="instance-type">t3.micro</td><td class="weight">2</td>' in shown.text
        assert '<dd class="on-demand-percentage">25</dd>' in shown.text
        assert '<dd class="spot-strategy">capacity-optimized</dd>' in shown.text
        assert '<dd class="capacity-rebalance">on</dd>' in shown.text
        assert 'name="override_type_2" size="14" aria-label="Instance type 2" value="t3.micro"' in (
            shown.text
        )  # the change form holds the policy, and two empty rows
        assert 'name="override_type_4"' in shown.text

        # Changed: one type, no weights, half On-Demand, Spot over three cheapest pools.
        change = {
            "csrf": token, "override_type_1": "t3.micro",
            "on_demand_base": "0", "on_demand_percentage": "50",
            "on_demand_strategy": "lowest-price", "spot_strategy": "lowest-price",
            "spot_pools": "3",
        }  # fmt: skip
        changed = await client.post("/auto-scaling-groups/fleet/mixed", data=change)
        assert changed.status_code == 303, changed.text
        group = await _policy_read(console, client, "fleet")
        assert group.mixed.overrides == (("t3.micro", ""),)
        assert (group.mixed.on_demand_percentage, group.mixed.spot_pools) == ("50", "3")
        assert group.mixed.on_demand_strategy == "lowest-price"
        assert not group.capacity_rebalance

        # A weight on one override only: Auto Scaling's refusal, the rows as typed.
        refused = await client.post(
            "/auto-scaling-groups/fleet/mixed",
            data={**change, "override_type_2": "t3.small", "override_weight_2": "2"},
        )
        assert refused.status_code == 400 and "(ValidationError)" in refused.text
        assert 'aria-label="Instance type 2" value="t3.small"' in refused.text
        assert (await _policy_read(console, client, "fleet")).mixed.overrides == (("t3.micro", ""),)

        # A plain group given a policy over its own template.
        plain = {k: v for k, v in form.items() if not k.startswith(("override", "on_", "spot"))}
        await client.post("/auto-scaling-groups", data={**plain, "name": "plain"})
        before = await client.get("/auto-scaling-groups/plain")
        assert 'id="no-mixed-policy"' in before.text
        assert "Use a mixed instances policy" in before.text
        given = await client.post(
            "/auto-scaling-groups/plain/mixed",
            data={"csrf": token, "override_type_1": "t3.nano", "spot_strategy": "lowest-price"},
        )
        assert given.status_code == 303, given.text
        group = await _policy_read(console, client, "plain")
        assert group.mixed.overrides == (("t3.nano", ""),)
        assert (group.template_id, group.template_version) == (template.template_id, "$Latest")

        # And dropped again, once the box is ticked: the group's launch template alone.
        after = await client.get("/auto-scaling-groups/plain")
        assert 'id="drop-mixed-form"' in after.text
        unticked = await client.post("/auto-scaling-groups/plain/plain", data={"csrf": token})
        assert unticked.status_code == 400
        assert (await _policy_read(console, client, "plain")).mixed is not None
        dropped = await client.post(
            "/auto-scaling-groups/plain/plain", data={"csrf": token, "confirm": "yes"}
        )
        assert dropped.status_code == 303, dropped.text
        group = await _policy_read(console, client, "plain")
        assert group.mixed is None
        assert (group.template_id, group.template_version) == (template.template_id, "$Latest")
