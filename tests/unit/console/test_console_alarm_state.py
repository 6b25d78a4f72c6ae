"""An alarm's state set by hand from its page (SetAlarmState, decision 0111, session 48), its
tags set from the create and edit form (``Tags``, then TagResource/UntagResource), and its
history in pages of ``console_page_size`` filtered by item type; CloudWatch's refusals shown
with its words, CSRF on the new form, French."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import httpx

from support.console import console_harness, csrf_of, log_in
from unit.console.test_console_alarms import _alarms, _alert, _form


def _history(page: httpx.Response) -> list[str]:
    return re.findall(r'<tr class="history"><td>[^<]*</td><td>(\w+)</td>', page.text)


def _next(page: httpx.Response) -> str:
    found = re.search(r'<a href="([^"]+)" id="history-next"', page.text)
    return unescape(found.group(1)).removeprefix("/console") if found else ""


async def test_state_set_tags_and_history_pages(tmp_path: Path) -> None:
    async with console_harness(tmp_path, console_page_size=2) as console:
        tenant = console.admin_tenant_id
        await console.user_with_password(tenant, "root")
        async with console.client() as client:
            assert (await log_in(client, "admin", "root")).status_code == 303
            new = await client.get(
                "/metrics/alarm", params={"namespace": "App", "name": "Errors", "stat": "Sum"}
            )
            created = await client.post(
                "/metrics/alarm",
                data=_form(new, alarm_name="errs", threshold="5", tags="team=web\nenv = prod"),
            )
            page = await client.get("/alarms/errs")
            token = csrf_of(page)
            forged = await client.post(
                "/alarms/errs/state", data={"csrf": "x", "state": "ALARM", "reason": "drill"}
            )
            wrong = await client.post(
                "/alarms/errs/state", data={"csrf": token, "state": "RED", "reason": "drill"}
            )
            missing = await client.post(
                "/alarms/nothing/state", data={"csrf": token, "state": "OK", "reason": "x"}
            )
            set_alarm = await client.post(
                "/alarms/errs/state", data={"csrf": token, "state": "ALARM", "reason": "drill"}
            )
            for state in ("OK", "ALARM"):
                await client.post(
                    "/alarms/errs/state", data={"csrf": token, "state": state, "reason": "again"}
                )
            after = await client.get("/alarms/errs")
            pages = [after]
            while _next(pages[-1]) and len(pages) < 6:
                pages.append(await client.get(_next(pages[-1])))
            states_only = await client.get("/alarms/errs", params={"history_type": "StateUpdate"})
            config_only = await client.get(
                "/alarms/errs", params={"history_type": "ConfigurationUpdate"}
            )
            odd = await client.get("/alarms/errs", params={"history_type": "Nonsense"})
            bad_token = await client.get("/alarms/errs", params={"history_token": "nonsense"})
            edit = await client.get("/metrics/alarm", params={"edit": "errs"})
            fields = _form(edit)
            textarea = re.search(r'<textarea name="tags"[^>]*>([^<]*)</textarea>', edit.text)
            saved = await client.post(
                "/metrics/alarm", data={**fields, "tags": "team=ops\nowner=me\n\n"}
            )
            french = await client.get("/alarms/errs", headers={"accept-language": "fr"})
        [alarm], _ = await _alarms(console).describe(tenant, names=["errs"])
        tags = await _alarms(console).retag(tenant, "errs", [], [])
        # A user allowed the alarm calls but not the tag calls: the alarm shown, its tags
        # refused in their row; the edit offers no tags and its save changes none.
        await console.user_with_password(tenant, "carol")
        actions = ["cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmHistory",
                   "cloudwatch:GetMetricStatistics", "cloudwatch:PutMetricAlarm"]  # fmt: skip
        allowed = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
        }
        await console.identity.put_user_policy(tenant, "carol", "cw", json.dumps(allowed))
        async with console.client() as client:
            assert (await log_in(client, "admin", "carol")).status_code == 303
            untagged_page = await client.get("/alarms/errs")
            untagged_edit = await client.get("/metrics/alarm", params={"edit": "errs"})
            untagged_save = await client.post(
                "/metrics/alarm", data={**_form(untagged_edit), "threshold": "6"}
            )
        untagged = await _alarms(console).retag(tenant, "errs", [], [])

    assert created.status_code == 303, _alert(created)
    assert 'id="alarm-tags"><code>env=prod</code> <code>team=web</code>' in page.text or (
        'id="alarm-tags"><code>team=web</code> <code>env=prod</code>' in page.text
    ), page.text
    assert forged.status_code == 403
    assert wrong.status_code == 400 and "(InvalidParameterValue)" in _alert(wrong)
    assert missing.status_code == 404 and "(ResourceNotFound)" in _alert(missing)
    assert set_alarm.status_code == 303
    assert set_alarm.headers["location"] == "/console/alarms/errs"
    # The state set by hand, then twice more; the history in pages of 2, newest first.
    assert alarm.state == "ALARM" and alarm.state_reason == "again"
    assert 'class="state state-alarm">In alarm</strong>' in after.text
    assert 'id="alarm-reason">again</p>' in after.text
    listed = [kind for one in pages for kind in _history(one)]
    assert [len(_history(one)) for one in pages] == [2, 2]
    assert listed == ["StateUpdate"] * 3 + ["ConfigurationUpdate"]
    assert _history(states_only) == ["StateUpdate"] * 2
    assert "history_type=StateUpdate" in _next(states_only)
    assert '<option value="StateUpdate" selected>' in states_only.text
    assert _history(config_only) == ["ConfigurationUpdate"] and not _next(config_only)
    assert len(_history(odd)) == 2  # an unknown type is no filter
    assert bad_token.status_code == 400 and "(InvalidNextToken)" in _alert(bad_token)
    # Tags: pre-filled in the edit, made the form's on save (changed, added, removed).
    assert textarea is not None and sorted(unescape(textarea.group(1)).splitlines()) == [
        "env=prod", "team=web",
    ]  # fmt: skip
    assert saved.status_code == 303, _alert(saved)
    assert sorted(tags) == [("owner", "me"), ("team", "ops")]
    assert alarm.threshold == 5.0
    assert "Passer l\u2019\u00e9tat \u00e0" in french.text
    assert "Historique plus ancien" in french.text
    assert "Balises" in french.text
    assert untagged_page.status_code == 200
    tags_row = untagged_page.text.split('id="alarm-tags">', 1)[1].split("</td>", 1)[0]
    assert "(AccessDenied)" in tags_row
    assert untagged_edit.status_code == 200 and 'name="tags"' not in untagged_edit.text
    assert untagged_save.status_code == 303, _alert(untagged_save)
    assert sorted(untagged) == [("owner", "me"), ("team", "ops")]
