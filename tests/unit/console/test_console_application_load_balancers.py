"""The console's Application Load Balancer pages (decision 0216's console addendum): the type
chosen at creation, HTTP target groups, HTTP and HTTPS listeners with a forward, fixed
response or redirect default action, and a listener's rules page — each read and change
ELBv2's own call as the signed-in user, its refusals in ELBv2's code and words with the form
as typed, every form needing the session's CSRF token."""

from __future__ import annotations

import re

import httpx

from support.console import ConsoleHarness, csrf_of, logged_events, running_compute, sign_in_root
from unit.console.test_console_load_balancers import _form, _row, _target_group
from unit.console.test_console_server_certificates import _pair

_RULE_ROW = re.compile(r'<tr class="rule" id="rule-(\w+)">')


async def _alb(client: httpx.AsyncClient, console: ConsoleHarness, tenant: str) -> dict[str, str]:
    """An ALB ``front`` with a security group and an HTTP group ``web``: their ids."""
    default = await running_compute(console).default_network(tenant)
    assert default.subnet is not None
    vpc_id, subnet_id = default.vpc.vpc_id, default.subnet.subnet_id
    page = await client.get("/load-balancers")
    token = csrf_of(page)
    sg = re.search(r'name="sg_(sg-[0-9a-f]+)"', _form(page, "create-load-balancer-form"))
    assert sg is not None
    made = await client.post(
        "/load-balancers",
        data={"csrf": token, "name": "front", "type": "application",
              f"subnet_{subnet_id}": "yes", f"sg_{sg.group(1)}": "yes"},
    )  # fmt: skip
    assert made.status_code == 303, made.text
    group = await _target_group(
        client, vpc_id, protocol="HTTP", check_protocol="HTTP", check_path="/health",
        matcher="200-299",
    )  # fmt: skip
    assert group.status_code == 303, group.text
    return {"csrf": token, "vpc_id": vpc_id, "subnet_id": subnet_id, "sg_id": sg.group(1)}


async def test_an_alb_its_http_group_and_listeners_with_each_action(
    console: ConsoleHarness,
) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        default = await running_compute(console).default_network(tenant)
        assert default.subnet is not None
        page = await client.get("/load-balancers")
        create = _form(page, "create-load-balancer-form")
        assert '<option value="application">application</option>' in create
        token = csrf_of(page)
        # An ALB without a subnet: ELBv2's refusal, the type kept as chosen.
        bare = await client.post(
            "/load-balancers", data={"csrf": token, "name": "bare", "type": "application"}
        )
        assert bare.status_code == 400, bare.text
        assert "At least one subnet must be specified" in bare.text
        assert '<option value="application" selected>' in bare.text

        await _alb(client, console, tenant)
        listing = await client.get("/load-balancers")
        assert '<td class="type">application</td>' in _row(listing, "load-balancer-front")
        groups = await client.get("/target-groups")
        assert '<option value="HTTP">HTTP</option>' in groups.text.split('name="port"')[0]
        assert '<option value="HTTPS">HTTPS</option>' in groups.text.split('name="port"')[0]
        row = _row(groups, "target-group-web")
        assert "<td>HTTP</td>" in row and "HTTP <code>/health</code> (200-299)" in row

        page = await client.get("/load-balancers/front")
        assert '<dd class="type">application</dd>' in page.text
        form = _form(page, "create-listener-form")
        assert '<option value="HTTPS">HTTPS</option>' in form
        assert '<option value="TCP">' not in form and 'name="alpn"' not in form
        assert '<option value="redirect">redirect</option>' in form
        [group_arn] = re.findall(r'<option value="(arn:[^"]+:targetgroup/[^"]+)">', form)
        forward = {"csrf": token, "protocol": "HTTP", "port": "80", "action_type": "forward",
                   "target_group_arn": group_arn}  # fmt: skip
        assert (await client.post("/load-balancers/front/listeners", data=forward)).is_redirect
        fixed = {"csrf": token, "protocol": "HTTP", "port": "8080",
                 "action_type": "fixed-response", "fixed_status": "600",
                 "fixed_content_type": "text/plain", "fixed_body": "gone <away>"}  # fmt: skip
        refused = await client.post("/load-balancers/front/listeners", data=fixed)
        assert refused.status_code == 400 and "(ValidationError)" in refused.text
        typed = _form(refused, "create-listener-form")
        assert 'name="fixed_status" size="4" placeholder="503" value="600"' in typed
        assert '<option value="fixed-response" selected>' in typed
        made = await client.post(
            "/load-balancers/front/listeners", data={**fixed, "fixed_status": "404"}
        )
        assert made.status_code == 303, made.text
        redirect = {"csrf": token, "protocol": "HTTP", "port": "8081", "action_type": "redirect",
                    "redirect_protocol": "HTTPS", "redirect_port": "443",
                    "redirect_status": "HTTP_301"}  # fmt: skip
        made = await client.post("/load-balancers/front/listeners", data=redirect)
        assert made.status_code == 303, made.text

        page = await client.get("/load-balancers/front")
        assert 'href="/console/target-groups/web">web</a>' in _row(page, "listener-80")
        assert "Fixed response 404 <code>text/plain</code>: <q>gone &lt;away&gt;</q>" in _row(
            page, "listener-8080"
        )
        moved = _row(page, "listener-8081")
        assert "Redirect (HTTP_301) to <code>https://#{host}:443/#{path}?#{query}</code>" in moved
        assert 'href="/console/load-balancers/front/listeners/80/rules"' in _row(
            page, "listener-80"
        )

        # An HTTPS listener: a certificate among the account's, ELBv2's default policy.
        body, key = _pair(days=200)
        uploaded = await client.post(
            "/iam/server-certificates",
            data={"csrf": token, "name": "www", "body": body, "private_key": key},
        )
        assert uploaded.status_code == 303, uploaded.text
        form = _form(await client.get("/load-balancers/front"), "create-listener-form")
        [cert_arn] = re.findall(r'<option value="(arn:[^"]+:server-certificate/[^"]+)">', form)
        https = {**forward, "protocol": "HTTPS", "port": "443"}
        missing = await client.post("/load-balancers/front/listeners", data=https)
        assert missing.status_code == 400, missing.text
        assert '<option value="HTTPS" selected>' in missing.text
        made = await client.post(
            "/load-balancers/front/listeners", data={**https, "certificate_arn": cert_arn}
        )
        assert made.status_code == 303, made.text
        row = _row(await client.get("/load-balancers/front"), "listener-443")
        assert "<td>HTTPS</td>" in row and '<dd class="certificate">www</dd>' in row
        assert '<dd class="ssl-policy">ELBSecurityPolicy-2016-08</dd>' in row
        assert "alpn-policy" not in row  # an ALB has none

        forged = await client.post("/load-balancers/front/listeners", data={**forward, "csrf": ""})
        assert forged.status_code == 403
        actions = {e.action.rsplit(":", 1)[-1] for e in await logged_events(console, tenant)}
        assert {"CreateLoadBalancer", "CreateTargetGroup", "CreateListener"} <= actions


async def test_a_listeners_rules_created_reprioritised_and_deleted(
    console: ConsoleHarness,
) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        ids = await _alb(client, console, tenant)
        token = ids["csrf"]
        page = await client.get("/load-balancers/front")
        [group_arn] = re.findall(
            r'<option value="(arn:[^"]+:targetgroup/[^"]+)">',
            _form(page, "create-listener-form"),
        )
        listener = {"csrf": token, "protocol": "HTTP", "port": "80",
                    "action_type": "fixed-response", "fixed_status": "503"}  # fmt: skip
        assert (await client.post("/load-balancers/front/listeners", data=listener)).is_redirect

        rules_url = "/load-balancers/front/listeners/80/rules"
        page = await client.get(rules_url)
        assert page.status_code == 200, page.text
        assert _RULE_ROW.findall(page.text) == ["default"]
        default = _row(page, "rule-default")
        assert "Every other request" in default and "Fixed response 503" in default
        assert "Delete rule" not in default
        create = _form(page, "create-rule-form")
        listener_arn = re.search(r'name="listener_arn" value="([^"]+)"', create)
        assert listener_arn is not None and ":listener/app/front/" in listener_arn.group(1)
        # Every field a browser sends (the empty ones too): within the form's bound.
        rule = {name: "" for name in re.findall(r'name="(\w+)"', create)}
        assert len(rule) == 21
        rule.update({"csrf": token, "listener_arn": listener_arn.group(1)})

        made = await client.post(
            rules_url,
            data={**rule, "priority": "10", "path_pattern": "/api/*, /v2/*",
                  "host_header": "api.example.com", "action_type": "forward",
                  "target_group_arn": group_arn},
        )  # fmt: skip
        assert made.status_code == 303, made.text
        assert made.headers["location"] == "/console/load-balancers/front/listeners/80/rules"
        made = await client.post(
            rules_url,
            data={**rule, "priority": "5", "http_request_method": "POST",
                  "query_string": "mode=beta, debug", "source_ip": "10.0.0.0/8",
                  "http_header_name": "X-Env", "http_header": "staging",
                  "action_type": "fixed-response", "fixed_status": "403",
                  "fixed_content_type": "application/json", "fixed_body": '{"no": 1}'},
        )  # fmt: skip
        assert made.status_code == 303, made.text
        made = await client.post(
            rules_url,
            data={**rule, "priority": "20", "path_pattern": "/old/*", "action_type": "redirect",
                  "redirect_path": "/new/#{path}", "redirect_status": "HTTP_302"},
        )  # fmt: skip
        assert made.status_code == 303, made.text

        # ELBv2's PriorityInUse, in its code and words; the form as typed.
        taken = await client.post(
            rules_url,
            data={**rule, "priority": "10", "path_pattern": "/x", "action_type": "forward",
                  "target_group_arn": group_arn},
        )  # fmt: skip
        assert taken.status_code == 400 and "(PriorityInUse)" in taken.text
        typed = _form(taken, "create-rule-form")
        assert 'name="path_pattern" size="32" placeholder="/api/*" value="/x"' in typed
        # No condition: ELBv2's refusal too, in French for a French reader.
        none = await client.post(
            rules_url,
            data={**rule, "priority": "30", "action_type": "forward",
                  "target_group_arn": group_arn},
            headers={"accept-language": "fr"},
        )  # fmt: skip
        assert none.status_code == 400 and 'lang="fr"' in none.text
        assert "(ValidationError)" in none.text
        assert "A rule must have at least one condition" in none.text
        assert "Créer la règle" in none.text and "Réponse fixe" in none.text

        page = await client.get(rules_url)
        assert _RULE_ROW.findall(page.text) == ["5", "10", "20", "default"]
        first = _row(page, "rule-5")
        assert "Method is POST" in first and "Query string has mode=beta, debug" in first
        assert "Source address in 10.0.0.0/8" in first and "Header X-Env is staging" in first
        assert "Fixed response 403 <code>application/json</code>" in first
        second = _row(page, "rule-10")
        assert "Path is /api/*, /v2/*" in second and "Host is api.example.com" in second
        assert 'Forward to <a href="/console/target-groups/web">web</a>' in second
        third = _row(page, "rule-20")
        assert "Redirect (HTTP_302) to <code>#{protocol}://#{host}:#{port}/new/#{path}" in third

        arns = dict(
            re.findall(r'id="rule-(\d+)">.*?name="rule_arn" value="([^"]+)"', page.text, re.S)
        )
        # SetRulePriorities: a priority in use refused, the typed one kept on its row.
        clash = await client.post(
            f"{rules_url}/priority", data={"csrf": token, "rule_arn": arns["20"], "priority": "5"}
        )
        assert clash.status_code == 400 and "(PriorityInUse)" in clash.text
        assert 'aria-label="Priority" value="5"' in _row(clash, "rule-20")
        moved = await client.post(
            f"{rules_url}/priority", data={"csrf": token, "rule_arn": arns["20"], "priority": "1"}
        )
        assert moved.status_code == 303, moved.text
        assert _RULE_ROW.findall((await client.get(rules_url)).text) == ["1", "5", "10", "default"]

        gone = await client.post(
            f"{rules_url}/delete", data={"csrf": token, "rule_arn": arns["10"]}
        )
        assert gone.status_code == 303
        assert _RULE_ROW.findall((await client.get(rules_url)).text) == ["1", "5", "default"]
        forged = await client.post(f"{rules_url}/delete", data={"rule_arn": arns["5"]})
        assert forged.status_code == 403
        nowhere = await client.get("/load-balancers/front/listeners/81/rules")
        assert nowhere.status_code == 404 and "No listener on this port." in nowhere.text
        actions = {e.action.rsplit(":", 1)[-1] for e in await logged_events(console, tenant)}
        assert {"CreateRule", "SetRulePriorities", "DeleteRule"} <= actions
