"""The console's load balancer and target group pages (decisions 0111, 0191): each read and
change ELBv2's own call as the signed-in user, so ELBv2's checks and errors answer, in its
code and words, and every form needs the session's CSRF token."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from andromede.compute.service import RunRequest
from support.console import ConsoleHarness, csrf_of, logged_events, running_compute, sign_in_root
from unit.console.test_console_server_certificates import _pair

_TG_ROW = re.compile(r'<tr class="target-group" id="target-group-([\w-]+)">')
_LB_ROW = re.compile(r'<tr class="load-balancer" id="load-balancer-([\w-]+)">')
_TARGET_ROW = re.compile(r'<tr class="target" id="target-(i-[0-9a-f]+)-(\d+)">')


def _row(page: httpx.Response, row_id: str) -> str:
    start = page.text.index(f'id="{row_id}"')
    return page.text[start : page.text.index("</tr>", start)]


def _form(page: httpx.Response, form_id: str) -> str:
    return page.text.split(f'id="{form_id}"', 1)[1].split("</form>", 1)[0]


async def _instance(console: ConsoleHarness, tmp_path: Path, tenant: str) -> str:
    compute = running_compute(console)
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"\0" * 4096)
    image = await compute.import_image_file(disk, name="debian-12", owner_id=None)
    [instance] = await compute.run_instances(
        tenant, RunRequest(image.image_id, "t3.nano", instance_tags=(("Name", "web-1"),))
    )
    await compute.settle()
    return instance.instance_id


async def _target_group(client: httpx.AsyncClient, vpc_id: str, **fields: str) -> httpx.Response:
    listing = await client.get("/target-groups")
    form = {"csrf": csrf_of(listing), "name": "web", "port": "80", "vpc_id": vpc_id,
            "target_type": "instance", **fields}  # fmt: skip
    return await client.post("/target-groups", data=form)


async def test_a_target_group_created_its_targets_registered_and_deleted(
    console: ConsoleHarness, tmp_path: Path
) -> None:
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        vpc_id = (await compute.default_network(tenant)).vpc.vpc_id
        instances = await client.get("/instances")
        assert 'href="/console/target-groups"' in instances.text
        empty = await client.get("/target-groups")
        assert empty.status_code == 200 and "No target groups." in empty.text
        assert f'<option value="{vpc_id}">' in _form(empty, "create-target-group-form")

        # ELBv2's own range check, in its code and words; the form kept as typed.
        refused = await _target_group(client, vpc_id, interval="4", healthy_threshold="3")
        assert refused.status_code == 400 and "(ValidationError)" in refused.text
        assert 'name="interval" type="number" size="4" value="4"' in refused.text
        # No CSRF token: refused, nothing sent.
        forged = await client.post("/target-groups", data={"name": "web", "port": "80"})
        assert forged.status_code == 403

        made = await _target_group(
            client, vpc_id, interval="10", healthy_threshold="3", unhealthy_threshold="2"
        )
        assert made.status_code == 303, made.text
        assert made.headers["location"] == "/console/target-groups/web"
        listing = await client.get("/target-groups")
        assert _TG_ROW.findall(listing.text) == ["web"]
        row = _row(listing, "target-group-web")
        assert '<td class="port">80</td>' in row and "10 s · 3 / 2" in row
        assert '<td class="target-type">instance</td>' in row
        duplicate = await _target_group(client, vpc_id, port="81")
        assert duplicate.status_code == 400 and "(DuplicateTargetGroupName)" in duplicate.text

        # Its VPC's instance registered on a port; DescribeTargetHealth's state and reason.
        instance_id = await _instance(console, tmp_path, tenant)
        page = await client.get("/target-groups/web")
        assert "No targets." in page.text
        register = _form(page, "register-target-form")
        assert f'<option value="{instance_id}">{instance_id} (web-1)' in register
        token = csrf_of(page)
        sent = await client.post(
            "/target-groups/web/register",
            data={"csrf": token, "target_id": instance_id, "port": "8080"},
        )
        assert sent.status_code == 303, sent.text
        page = await client.get("/target-groups/web")
        assert _TARGET_ROW.findall(page.text) == [(instance_id, "8080")]
        target = _row(page, f"target-{instance_id}-8080")
        assert '<td class="state">unused</td>' in target
        assert "Target.NotInUse: " in target
        unknown = await client.post(
            "/target-groups/web/register", data={"csrf": token, "target_id": "i-0000", "port": ""}
        )
        assert unknown.status_code == 400 and "(InvalidTarget)" in unknown.text
        gone = await client.post(
            "/target-groups/web/deregister",
            data={"csrf": token, "target_id": instance_id, "port": "8080"},
        )
        assert gone.status_code == 303
        assert _TARGET_ROW.findall((await client.get("/target-groups/web")).text) == []

        # An ip group's page takes an address in place of an instance.
        ip_group = await _target_group(client, vpc_id, name="db", port="5432", target_type="ip")
        assert ip_group.status_code == 303, ip_group.text
        page = await client.get("/target-groups/db")
        assert 'name="target_id" required' in _form(page, "register-target-form")
        sent = await client.post(
            "/target-groups/db/register", data={"csrf": token, "target_id": "10.0.0.9", "port": ""}
        )
        assert sent.status_code == 303, sent.text
        page = await client.get("/target-groups/db")
        assert 'id="target-10.0.0.9-5432"' in page.text and "<code>10.0.0.9</code>" in page.text

        # Deleted once the box is ticked.
        unticked = await client.post("/target-groups/web/delete", data={"csrf": token})
        assert unticked.status_code == 400 and _TG_ROW.findall(
            (await client.get("/target-groups")).text
        ) == ["db", "web"]
        deleted = await client.post(
            "/target-groups/web/delete", data={"csrf": token, "confirm": "yes"}
        )
        assert (
            deleted.status_code == 303 and deleted.headers["location"] == "/console/target-groups"
        )
        assert _TG_ROW.findall((await client.get("/target-groups")).text) == ["db"]
        missing = await client.get("/target-groups/web")
        assert missing.status_code == 400 and "(TargetGroupNotFound)" in missing.text
        actions = {e.action.rsplit(":", 1)[-1] for e in await logged_events(console, tenant)}
        assert {"CreateTargetGroup", "RegisterTargets", "DeleteTargetGroup"} <= actions


async def test_a_load_balancer_created_with_a_listener_then_deleted(
    console: ConsoleHarness,
) -> None:
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        default = await compute.default_network(tenant)
        assert default.subnet is not None
        vpc_id, subnet_id = default.vpc.vpc_id, default.subnet.subnet_id
        buckets = await client.get("/buckets")
        assert 'id="menu-load-balancers"' in buckets.text
        empty = await client.get("/load-balancers")
        assert empty.status_code == 200 and "No load balancers." in empty.text
        create = _form(empty, "create-load-balancer-form")
        assert f'name="subnet_{subnet_id}"' in create
        token = csrf_of(empty)
        assert (await _target_group(client, vpc_id)).status_code == 303

        # No subnet ticked: ELBv2's refusal, in its words.
        bare = await client.post("/load-balancers", data={"csrf": token, "name": "front"})
        assert bare.status_code == 400 and "(ValidationError)" in bare.text
        made = await client.post(
            "/load-balancers",
            data={"csrf": token, "name": "front", f"subnet_{subnet_id}": "yes",
                  "tag_key_1": "team", "tag_value_1": "web <ops>"},
        )  # fmt: skip
        assert made.status_code == 303, made.text
        assert made.headers["location"] == "/console/load-balancers/front"
        listing = await client.get("/load-balancers")
        assert _LB_ROW.findall(listing.text) == ["front"]
        row = _row(listing, "load-balancer-front")
        assert '<td class="scheme">internal</td>' in row and "front-" in row
        assert f'href="/console/vpcs#vpc-{vpc_id}"' in row
        assert f'href="/console/vpcs#subnet-{subnet_id}"' in row
        assert re.search(r'<td class="state">(provisioning|active)</td>', row)

        page = await client.get("/load-balancers/front")
        assert "No listeners." in page.text and "team=web &lt;ops&gt;" in page.text
        assert '<dd class="deletion-protection">disabled</dd>' in page.text
        listener_form = _form(page, "create-listener-form")
        assert "web (TCP 80)" in listener_form
        tg_arn = re.search(r'<option value="([^"]+)">web', listener_form)
        assert tg_arn is not None
        for _ in range(2):  # the second: the port is taken, ELBv2's DuplicateListener
            added = await client.post(
                "/load-balancers/front/listeners",
                data={"csrf": token, "port": "443", "target_group_arn": tg_arn.group(1)},
            )
        assert added.status_code == 400 and "(DuplicateListener)" in added.text
        page = await client.get("/load-balancers/front")
        listener = _row(page, "listener-443")
        assert 'href="/console/target-groups/web"' in listener
        arn = re.search(r'name="listener_arn" value="([^"]+)"', listener)
        assert arn is not None
        # The target group in use by the listener: ELBv2 refuses its deletion.
        in_use = await client.post(
            "/target-groups/web/delete", data={"csrf": token, "confirm": "yes"}
        )
        assert in_use.status_code == 400 and "(ResourceInUse)" in in_use.text
        dropped = await client.post(
            "/load-balancers/front/listeners/delete",
            data={"csrf": token, "listener_arn": arn.group(1)},
        )
        assert dropped.status_code == 303
        assert "No listeners." in (await client.get("/load-balancers/front")).text

        unticked = await client.post("/load-balancers/front/delete", data={"csrf": token})
        assert unticked.status_code == 400
        forged = await client.post("/load-balancers/front/delete", data={"confirm": "yes"})
        assert forged.status_code == 403
        deleted = await client.post(
            "/load-balancers/front/delete", data={"csrf": token, "confirm": "yes"}
        )
        assert deleted.status_code == 303
        assert deleted.headers["location"] == "/console/load-balancers"
        assert "No load balancers." in (await client.get("/load-balancers")).text
        actions = {e.action.rsplit(":", 1)[-1] for e in await logged_events(console, tenant)}
        assert {"CreateLoadBalancer", "CreateListener", "DeleteLoadBalancer"} <= actions


async def test_security_groups_and_http_health_checks(console: ConsoleHarness) -> None:
    """Session 49 (decisions 0191 addendum, 0198): an NLB made with a security group shows
    it and SetSecurityGroups changes the set; one made without is refused it in ELBv2's
    words (in French for a French reader); an HTTP health check's path and codes are sent
    and shown."""
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        default = await compute.default_network(tenant)
        assert default.subnet is not None
        vpc_id, subnet_id = default.vpc.vpc_id, default.subnet.subnet_id
        page = await client.get("/load-balancers")
        token = csrf_of(page)
        sg = re.search(r'name="sg_(sg-[0-9a-f]+)"', _form(page, "create-load-balancer-form"))
        assert sg is not None
        sg_id = sg.group(1)
        lb = {"csrf": token, f"subnet_{subnet_id}": "yes"}
        assert (await client.post("/load-balancers", data={**lb, "name": "bare"})).is_redirect
        guarded = await client.post(
            "/load-balancers", data={**lb, "name": "guarded", f"sg_{sg_id}": "yes"}
        )
        assert guarded.status_code == 303, guarded.text
        shown = await client.get("/load-balancers/guarded")
        assert f'<a href="/console/security-groups/{sg_id}"><code>{sg_id}</code></a>' in shown.text
        assert f'name="sg_{sg_id}" value="yes" checked' in shown.text
        kept = await client.post(
            "/load-balancers/guarded/security-groups", data={"csrf": token, f"sg_{sg_id}": "yes"}
        )
        assert kept.status_code == 303
        refused = await client.post(
            "/load-balancers/bare/security-groups",
            data={"csrf": token, f"sg_{sg_id}": "yes"},
            headers={"accept-language": "fr"},
        )
        assert refused.status_code == 400
        assert "(InvalidConfigurationRequest)" in refused.text and 'lang="fr"' in refused.text
        assert "created without any security groups" in refused.text
        forged = await client.post("/load-balancers/guarded/security-groups", data={})
        assert forged.status_code == 403

        http = await _target_group(
            client, vpc_id, name="api", check_protocol="HTTP", check_path="/health",
            matcher="200-299",
        )  # fmt: skip
        assert http.status_code == 303, http.text
        bad = await _target_group(client, vpc_id, name="bad", check_protocol="HTTP", matcher="x")
        assert bad.status_code == 400 and "(ValidationError)" in bad.text
        assert 'name="matcher" maxlength="64" placeholder="200-399" value="x"' in bad.text
        listing = await client.get("/target-groups")
        check = _row(listing, "target-group-api").split('class="health-check">', 1)[1]
        assert check.startswith("HTTP <code>/health</code> (200-299)")
        group = await client.get("/target-groups/api")
        assert "HTTP <code>/health</code> (200-299)" in group.text
        # Session 49: HTTPS checks offered and shown with their path.
        assert '<option value="HTTPS">HTTPS</option>' in listing.text
        https = await _target_group(client, vpc_id, name="tls", check_protocol="HTTPS")
        assert https.status_code == 303, https.text
        tls = await client.get("/target-groups/tls")
        assert "HTTPS <code>/</code> (200-399)" in tls.text


async def test_udp_and_tcp_udp_listeners_and_groups(console: ConsoleHarness) -> None:
    """Session 50 (decision 0191's UDP and TCP_UDP): both offered in the target group and
    listener forms; a UDP health check refused by ELBv2, a UDP group checked over TCP; a UDP
    listener to a TCP group refused in ELBv2's words, a TCP_UDP one to a TCP_UDP group made."""
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        default = await compute.default_network(tenant)
        assert default.subnet is not None
        vpc_id, subnet_id = default.vpc.vpc_id, default.subnet.subnet_id
        listing = await client.get("/target-groups")
        create = _form(listing, "create-target-group-form")
        for kind in ("TCP", "UDP", "TCP_UDP"):
            assert f'<option value="{kind}">{kind}</option>' in create.split('name="port"')[0]
        assert '<option value="UDP">' not in create.split('name="check_protocol"')[1]
        udp_check = await _target_group(
            client, vpc_id, name="dns", protocol="UDP", port="53", check_protocol="UDP"
        )
        assert udp_check.status_code == 400
        assert "(InvalidConfigurationRequest)" in udp_check.text
        assert '<option value="UDP" selected>UDP</option>' in udp_check.text
        for name, protocol in (("dns", "UDP"), ("both", "TCP_UDP"), ("web", "TCP")):
            made = await _target_group(client, vpc_id, name=name, protocol=protocol, port="53")
            assert made.status_code == 303, made.text
        listing = await client.get("/target-groups")
        row = _row(listing, "target-group-dns")
        assert "<td>UDP</td>" in row and 'class="health-check">TCP' in row

        token = csrf_of(listing)
        made = await client.post(
            "/load-balancers", data={"csrf": token, "name": "edge", f"subnet_{subnet_id}": "yes"}
        )
        assert made.status_code == 303, made.text
        page = await client.get("/load-balancers/edge")
        form = _form(page, "create-listener-form")
        assert '<option value="TCP_UDP">TCP_UDP</option>' in form
        assert "dns (UDP 53)" in form and "both (TCP_UDP 53)" in form
        groups = dict(re.findall(r'<option value="([^"]+)">(\w+) \(', form))
        arns = {name: arn for arn, name in groups.items()}
        listener = {"csrf": token, "protocol": "UDP", "port": "53", "target_group_arn": arns["web"]}
        mismatched = await client.post("/load-balancers/edge/listeners", data=listener)
        assert mismatched.status_code == 400 and "(InvalidConfigurationRequest)" in mismatched.text
        assert '<option value="UDP" selected>UDP</option>' in mismatched.text
        both = {**listener, "protocol": "TCP_UDP", "target_group_arn": arns["both"]}
        assert (await client.post("/load-balancers/edge/listeners", data=both)).status_code == 303
        page = await client.get("/load-balancers/edge")
        assert "<td>TCP_UDP</td>" in _row(page, "listener-53")


async def test_a_tls_listener_and_its_sni_certificates(console: ConsoleHarness) -> None:
    """Session 52 (decision 0210): a TLS listener made with a certificate chosen among the
    account's IAM server certificates, a security policy DescribeSSLPolicies lists and an ALPN
    policy; one without a certificate refused in ELBv2's words, the form as typed; a further
    (SNI) certificate added and removed."""
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        default = await compute.default_network(tenant)
        assert default.subnet is not None
        vpc_id, subnet_id = default.vpc.vpc_id, default.subnet.subnet_id
        listing = await client.get("/iam/server-certificates")
        token = csrf_of(listing)
        for name in ("www", "api"):
            body, key = _pair(days=200)
            uploaded = await client.post(
                "/iam/server-certificates",
                data={"csrf": token, "name": name, "body": body, "private_key": key},
            )
            assert uploaded.status_code == 303, uploaded.text
        made = await _target_group(client, vpc_id, name="web", port="443")
        assert made.status_code == 303
        made = await client.post(
            "/load-balancers", data={"csrf": token, "name": "tls", f"subnet_{subnet_id}": "yes"}
        )
        assert made.status_code == 303
        page = await client.get("/load-balancers/tls")
        form = _form(page, "create-listener-form")
        assert '<option value="TLS">TLS</option>' in form
        chosen = re.findall(r'<option value="(arn:[^"]+:server-certificate/[^"]+)">(\w+)<', form)
        certificates = {name: arn for arn, name in chosen}
        assert set(certificates) == {"www", "api"}
        assert '<option value="ELBSecurityPolicy-TLS13-1-2-2021-06">' in form
        assert '<option value="HTTP2Optional">' in form
        [group_arn] = re.findall(r'<option value="(arn:[^"]+:targetgroup/[^"]+)">', form)
        listener = {"csrf": token, "protocol": "TLS", "port": "443", "target_group_arn": group_arn,
                    "ssl_policy": "ELBSecurityPolicy-TLS13-1-2-2021-06", "alpn": "HTTP2Optional",
                    "certificate_arn": ""}  # fmt: skip
        refused = await client.post("/load-balancers/tls/listeners", data=listener)
        assert refused.status_code == 400, refused.text
        typed = _form(refused, "create-listener-form")
        assert '<option value="HTTP2Optional" selected>' in typed
        made = await client.post(
            "/load-balancers/tls/listeners",
            data={**listener, "certificate_arn": certificates["www"]},
        )
        assert made.status_code == 303, made.text
        page = await client.get("/load-balancers/tls")
        row = _row(page, "listener-443")
        assert '<dd class="certificate">www</dd>' in row
        assert '<dd class="ssl-policy">ELBSecurityPolicy-TLS13-1-2-2021-06</dd>' in row
        assert '<dd class="alpn-policy">HTTP2Optional</dd>' in row
        listener_arn = re.findall(r'name="listener_arn" value="([^"]+)"', row)[0]

        added = await client.post(
            "/load-balancers/tls/listener-certificates",
            data={"csrf": token, "listener_arn": listener_arn,
                  "certificate_arn": certificates["api"]},
        )  # fmt: skip
        assert added.status_code == 303, added.text
        row = _row(await client.get("/load-balancers/tls"), "listener-443")
        sni = row.split('class="sni-certificates">', 1)[1].split("</dd>", 1)[0]
        assert 'class="inline sni-certificate"' in sni and "api" in sni
        removed = await client.post(
            "/load-balancers/tls/listener-certificates/remove",
            data={"csrf": token, "listener_arn": listener_arn,
                  "certificate_arn": certificates["api"]},
        )  # fmt: skip
        assert removed.status_code == 303
        row = _row(await client.get("/load-balancers/tls"), "listener-443")
        assert 'class="inline sni-certificate"' not in row
        forged = await client.post(
            "/load-balancers/tls/listener-certificates",
            data={"listener_arn": listener_arn, "certificate_arn": certificates["api"]},
        )
        assert forged.status_code == 403
