"""An instance's monitoring on its console page (decision 0111, session 47: instances'
monitoring): its state, detailed monitoring switched as the user (EC2's MonitorInstances /
UnmonitorInstances, CSRF-checked, EC2's refusal shown), and the charts of its ``AWS/EC2``
CPUUtilization, NetworkIn and NetworkOut over 3 hours — the memory host's figures gathered
into CloudWatch as a real server gathers them —, at 5-minute periods, 1-minute ones once
detailed, each linked to its Metrics chart; French."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import httpx

from andromede.compute.driver_memory import MEMORY_STATS
from andromede.instance_metrics import InstanceMetrics
from andromede.metrics.sink import BufferedSink
from support.console import ConsoleHarness, csrf_of, log_in, running_compute
from unit.console.test_console_alarms import _alert, _metrics
from unit.console.test_console_compute import _INSTANCE_ROW, _image, _launch, _root


def _chart_values(page: httpx.Response, metric: str) -> list[str]:
    table = page.text.split(f'id="datapoints-{metric}"', 1)[1].split("</details>", 1)[0]
    return re.findall(r'<td class="value">([^<]+)</td>', table)


async def test_monitoring_switched_and_charted(console: ConsoleHarness, tmp_path: Path) -> None:
    image_id = await _image(console, tmp_path)
    compute = running_compute(console)
    sink = BufferedSink(_metrics(console))
    gathering = InstanceMetrics(compute, sink)
    async with console.client() as client:
        await _root(console, client)
        assert (await _launch(client, image_id, "web-1")).status_code == 303
        await compute.settle()
        [instance_id] = _INSTANCE_ROW.findall((await client.get("/instances")).text)
        assert await gathering.run_once() > 0
        await sink.flush()
        basic = await client.get(f"/instances/{instance_id}")
        token = csrf_of(basic)
        forged = await client.post(
            f"/instances/{instance_id}/monitoring", data={"csrf": "forged", "enabled": "yes"}
        )
        enabled = await client.post(
            f"/instances/{instance_id}/monitoring", data={"csrf": token, "enabled": "yes"}
        )
        assert await gathering.run_once() > 0
        await sink.flush()
        detailed = await client.get(f"/instances/{instance_id}")
        french = await client.get(f"/instances/{instance_id}", headers={"accept-language": "fr"})
        [record] = await compute.describe_instances(console.admin_tenant_id, [instance_id])
        monitored = record.monitoring
        disabled = await client.post(
            f"/instances/{instance_id}/monitoring", data={"csrf": token, "enabled": "no"}
        )
        again = await client.get(f"/instances/{instance_id}")
    other = await console.identity.create_tenant("other")
    await console.user_with_password(other.tenant.id, "root")
    async with console.client() as client:
        assert (await log_in(client, "other", "root")).status_code == 303
        page = await client.get("/instances")
        foreign = await client.post(
            f"/instances/{instance_id}/monitoring", data={"csrf": csrf_of(page), "enabled": "yes"}
        )
    # A user EC2 allows and CloudWatch does not: the instance, and CloudWatch's refusal.
    await console.user_with_password(console.admin_tenant_id, "ops")
    ec2_only = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:*",
                                                        "Resource": "*"}]}  # fmt: skip
    await console.identity.put_user_policy(
        console.admin_tenant_id, "ops", "ec2", json.dumps(ec2_only)
    )
    async with console.client() as client:
        assert (await log_in(client, "admin", "ops")).status_code == 303
        no_metrics = await client.get(f"/instances/{instance_id}")

    # Basic monitoring: 5-minute periods, the memory host's quarter of a vCPU and its bytes.
    assert basic.status_code == 200
    assert 'id="monitoring-state">Basic (5-minute periods)</td>' in basic.text
    assert 'id="toggle-monitoring">Enable detailed monitoring</button>' in basic.text
    assert "Last 3 hours, 300-second periods." in basic.text
    for metric in ("CPUUtilization", "NetworkIn", "NetworkOut"):
        assert f'<svg id="chart-{metric}"' in basic.text
    assert _chart_values(basic, "CPUUtilization") == ["25"]
    assert _chart_values(basic, "NetworkIn") == [str(MEMORY_STATS.network_in_bytes)]
    assert _chart_values(basic, "NetworkOut") == [str(MEMORY_STATS.network_out_bytes)]
    assert "CPUUtilization · Average (Percent)" in basic.text
    link = re.search(r'<a href="([^"]+)" id="chart-link-NetworkIn">', basic.text)
    assert link is not None
    assert unescape(link.group(1)) == (
        "/console/metrics/graph?namespace=AWS%2FEC2&name=NetworkIn"
        f"&dimension=InstanceId%3D{instance_id}&stat=Sum&range=3h&period=300"
    )
    assert (
        f'href="/console/metrics?namespace=AWS%2FEC2&amp;dimension=InstanceId%3D{instance_id}"'
        in basic.text
    )
    # Switched on as the user (CSRF-checked): EC2 records it, the charts go to 1 minute.
    assert forged.status_code == 403
    assert enabled.status_code == 303
    assert enabled.headers["location"] == f"/console/instances/{instance_id}"
    assert monitored is True
    assert 'id="monitoring-state">Detailed (1-minute periods)</td>' in detailed.text
    assert "Last 3 hours, 60-second periods." in detailed.text
    assert 'id="toggle-monitoring">Disable detailed monitoring</button>' in detailed.text
    # The 1-minute rows hold the gathering since it was switched on.
    assert _chart_values(detailed, "CPUUtilization") == ["25"]
    assert "Surveillance" in french.text and "Détaillée (périodes d\u2019une minute)" in french.text
    assert disabled.status_code == 303
    assert 'id="monitoring-state">Basic' in again.text
    # Another account's instance: EC2's refusal on the page, nothing switched.
    assert foreign.status_code == 400
    assert "(InvalidInstanceID.NotFound)" in _alert(foreign)
    assert no_metrics.status_code == 200 and 'id="monitoring-state">Basic' in no_metrics.text
    charts_error = no_metrics.text.split('id="charts-error">', 1)[1].split("</p>", 1)[0]
    assert "(AccessDenied)" in charts_error and '<svg id="chart-' not in no_metrics.text
