"""The bucket settings page in process: each section's change made through the console, then
checked against what S3 itself answers (S3's own GET, called in process as the same user);
S3's refusals shown with their code and status; another tenant's bucket and a user without
the permissions answered as S3 answers them; forms without the session's token refused; the
page in French."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import xml.etree.ElementTree as ET
from html import unescape

import httpx

from andromede.console.wire import Answer, S3Wire, WireError
from support.console import ConsoleHarness, csrf, log_in

BUCKET = "reports"
SETTINGS = f"/buckets/{BUCKET}/settings"
_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


async def _root(console: ConsoleHarness, client: httpx.AsyncClient) -> str:
    """Signed in as the admin account's root, with the bucket; the session's CSRF token."""
    await console.user_with_password(console.admin_tenant_id, "root")
    assert (await log_in(client, "admin", "root")).status_code == 303
    token: str = await csrf(client)
    created = await client.post(
        "/buckets", data={"csrf": token, "name": BUCKET, "region": "eu-fr-1"}
    )
    assert created.status_code == 303, created.text
    return token


async def _s3(
    console: ConsoleHarness,
    client: httpx.AsyncClient,
    method: str,
    subresource: str,
    body: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> Answer | WireError:
    """S3's own answer to ``method /BUCKET?subresource``, as the client's signed-in user."""
    running = console.application._running
    assert running is not None
    principal = await console.identity.resolve_console_session(client.cookies["andromede_console"])
    sent = list(headers or [])
    if body:
        md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest())
        sent += [(b"content-length", str(len(body)).encode()), (b"content-md5", md5)]
    origin = {"scheme": "http", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 9000)}
    try:
        return await S3Wire(running.s3).request(
            origin, principal, method, f"/{BUCKET}", {subresource: ""}, headers=sent, body=body
        )
    except WireError as exc:
        return exc


async def _s3_xml(
    console: ConsoleHarness, client: httpx.AsyncClient, subresource: str
) -> ET.Element:
    answer = await _s3(console, client, "GET", subresource)
    assert isinstance(answer, Answer), answer
    return ET.fromstring(answer.body)  # noqa: S314 - the test's own server's answer


def _texts(root: ET.Element, name: str) -> list[str]:
    return [e.text or "" for e in root.iter(f"{_NS}{name}")]


def _code(answer: Answer | WireError) -> str:
    return answer.code if isinstance(answer, WireError) else "OK"


def _alert(page: httpx.Response) -> str:
    return unescape(page.text.split('role="alert">', 1)[1].split("</p>", 1)[0])


async def test_the_objects_page_links_to_the_settings(console: ConsoleHarness) -> None:
    async with console.client() as client:
        await _root(console, client)
        objects = await client.get(f"/buckets/{BUCKET}")
        page = await client.get(SETTINGS)
    assert f'href="/console{SETTINGS}"' in objects.text
    assert page.status_code == 200
    assert "Settings of reports" in page.text and 'href="/console/buckets/reports"' in page.text


async def test_the_page_needs_a_session(console: ConsoleHarness) -> None:
    async with console.client() as client:
        page = await client.get(SETTINGS)
        change = await client.post(f"{SETTINGS}/versioning", data={"versioning_status": "Enabled"})
    for reply in (page, change):
        assert reply.status_code == 303 and reply.headers["location"] == "/console/login"


async def test_versioning_enabled_then_suspended(console: ConsoleHarness) -> None:
    async with console.client() as client:
        token = await _root(console, client)
        before = await client.get(SETTINGS)
        enabled = await client.post(
            f"{SETTINGS}/versioning", data={"csrf": token, "versioning_status": "Enabled"}
        )
        s3_enabled = _texts(await _s3_xml(console, client, "versioning"), "Status")
        shown = await client.get(SETTINGS)
        suspended = await client.post(
            f"{SETTINGS}/versioning", data={"csrf": token, "versioning_status": "Suspended"}
        )
        s3_suspended = _texts(await _s3_xml(console, client, "versioning"), "Status")
        nonsense = await client.post(
            f"{SETTINGS}/versioning", data={"csrf": token, "versioning_status": "Off"}
        )
    assert "Versioning was never enabled." in before.text and 'id="suspend-versioning"' not in (
        before.text
    )
    assert enabled.status_code == 303
    assert enabled.headers["location"] == f"/console{SETTINGS}#versioning"
    assert s3_enabled == ["Enabled"]
    assert "Versioning is enabled." in shown.text and 'id="suspend-versioning"' in shown.text
    assert suspended.status_code == 303 and s3_suspended == ["Suspended"]
    # There is no way back to unversioned: S3 refuses anything but its two states.
    assert nonsense.status_code == 400 and "(MalformedXML)" in _alert(nonsense)
    assert "Versioning is suspended." in nonsense.text


async def test_requester_pays_turned_on_then_off(console: ConsoleHarness) -> None:
    async with console.client() as client:
        token = await _root(console, client)
        before = await client.get(SETTINGS)
        on = await client.post(
            f"{SETTINGS}/request-payment", data={"csrf": token, "payer": "Requester"}
        )
        s3_on = _texts(await _s3_xml(console, client, "requestPayment"), "Payer")
        shown = await client.get(SETTINGS)
        off = await client.post(
            f"{SETTINGS}/request-payment", data={"csrf": token, "payer": "BucketOwner"}
        )
        s3_off = _texts(await _s3_xml(console, client, "requestPayment"), "Payer")
        nonsense = await client.post(
            f"{SETTINGS}/request-payment", data={"csrf": token, "payer": "Nobody"}
        )
    assert "You pay for every request and download" in unescape(before.text)
    assert 'id="requester-pays"' in before.text and 'id="owner-pays"' not in before.text
    assert on.status_code == 303
    assert on.headers["location"] == f"/console{SETTINGS}#request-payment"
    assert s3_on == ["Requester"]
    assert "Other accounts pay for their requests" in shown.text
    assert 'id="owner-pays"' in shown.text
    assert off.status_code == 303 and s3_off == ["BucketOwner"]
    # S3 decides what a payer is: its refusal is shown, and nothing changed.
    assert nonsense.status_code == 400 and "(MalformedXML)" in _alert(nonsense)
    assert 'id="requester-pays"' in nonsense.text


async def test_object_lock_retention_and_s3s_refusal_to_suspend(console: ConsoleHarness) -> None:
    async with console.client() as client:
        token = await _root(console, client)
        # Not turned on by a retention change, nor without the box ticked, nor by S3 before
        # the bucket is versioned.
        retention_first = await client.post(
            f"{SETTINGS}/object-lock",
            data={"csrf": token, "lock_mode": "GOVERNANCE", "lock_period": "5"},
        )
        unticked = await client.post(f"{SETTINGS}/object-lock/enable", data={"csrf": token})
        unversioned = await client.post(
            f"{SETTINGS}/object-lock/enable", data={"csrf": token, "confirm": "yes"}
        )
        still_off = await _s3(console, client, "GET", "object-lock")

        await client.post(
            f"{SETTINGS}/versioning", data={"csrf": token, "versioning_status": "Enabled"}
        )
        turned_on = await client.post(
            f"{SETTINGS}/object-lock/enable", data={"csrf": token, "confirm": "yes"}
        )
        s3_on = await _s3_xml(console, client, "object-lock")
        governance = await client.post(
            f"{SETTINGS}/object-lock",
            data={
                "csrf": token,
                "lock_mode": "GOVERNANCE",
                "lock_period": "5",
                "lock_unit": "Days",
            },
        )
        s3_governance = await _s3_xml(console, client, "object-lock")
        shown = await client.get(SETTINGS)
        compliance = await client.post(
            f"{SETTINGS}/object-lock",
            data={
                "csrf": token,
                "lock_mode": "COMPLIANCE",
                "lock_period": "1",
                "lock_unit": "Years",
            },
        )
        s3_compliance = await _s3_xml(console, client, "object-lock")
        not_a_number = await client.post(
            f"{SETTINGS}/object-lock",
            data={"csrf": token, "lock_mode": "GOVERNANCE", "lock_period": "ten"},
        )
        zero = await client.post(
            f"{SETTINGS}/object-lock",
            data={"csrf": token, "lock_mode": "GOVERNANCE", "lock_period": "0"},
        )
        cleared = await client.post(f"{SETTINGS}/object-lock/clear", data={"csrf": token})
        s3_cleared = await _s3_xml(console, client, "object-lock")
        suspend = await client.post(
            f"{SETTINGS}/versioning", data={"csrf": token, "versioning_status": "Suspended"}
        )
        s3_versioning = _texts(await _s3_xml(console, client, "versioning"), "Status")

    assert retention_first.status_code == 409
    assert "Object Lock is not enabled on this bucket." in _alert(retention_first)
    assert unticked.status_code == 400 and "Tick the box" in _alert(unticked)
    assert unversioned.status_code == 409 and "(InvalidBucketState)" in _alert(unversioned)
    assert _code(still_off) == "ObjectLockConfigurationNotFoundError"

    assert turned_on.status_code == 303
    assert turned_on.headers["location"] == f"/console{SETTINGS}#object-lock"
    assert _texts(s3_on, "ObjectLockEnabled") == ["Enabled"] and not _texts(s3_on, "Mode")
    assert governance.status_code == 303
    assert (_texts(s3_governance, "Mode"), _texts(s3_governance, "Days")) == (["GOVERNANCE"], ["5"])
    assert "Object Lock is enabled. Default retention: GOVERNANCE, 5 days" in shown.text
    assert compliance.status_code == 303
    assert (_texts(s3_compliance, "Mode"), _texts(s3_compliance, "Years")) == (
        ["COMPLIANCE"],
        ["1"],
    )
    assert not_a_number.status_code == 400 and "whole number" in _alert(not_a_number)
    assert 'value="ten"' in not_a_number.text  # what was typed stays in the form
    assert zero.status_code == 400 and "(InvalidArgument)" in _alert(zero)  # S3's own refusal
    assert cleared.status_code == 303 and not _texts(s3_cleared, "Mode")
    assert _texts(s3_cleared, "ObjectLockEnabled") == ["Enabled"]
    # S3 keeps every version of a locked bucket: its refusal, with its status, on the page.
    assert suspend.status_code == 409 and "(InvalidBucketState)" in _alert(suspend)
    assert s3_versioning == ["Enabled"]


async def test_default_encryption(console: ConsoleHarness) -> None:
    async with console.client() as client:
        token = await _root(console, client)
        await client.post("/keys", data={"csrf": token, "description": "reports"})
        key_id = (await client.get("/keys")).text.split("<code>")[1].split("</code>")[0]
        before = await client.get(SETTINGS)
        kms = await client.post(
            f"{SETTINGS}/encryption",
            data={
                "csrf": token,
                "sse_algorithm": "aws:kms",
                "kms_key_id": key_id,
                "bucket_key": "true",
            },
        )
        s3_kms = await _s3_xml(console, client, "encryption")
        shown = await client.get(SETTINGS)
        dsse = await client.post(
            f"{SETTINGS}/encryption",
            data={"csrf": token, "sse_algorithm": "aws:kms:dsse", "kms_key_id": key_id},
        )
        s3_dsse = await _s3_xml(console, client, "encryption")
        unknown_key = await client.post(
            f"{SETTINGS}/encryption",
            data={"csrf": token, "sse_algorithm": "aws:kms", "kms_key_id": "alias/none-such"},
        )
        key_with_sse_s3 = await client.post(
            f"{SETTINGS}/encryption",
            data={"csrf": token, "sse_algorithm": "AES256", "kms_key_id": key_id},
        )
        s3_unchanged = await _s3_xml(console, client, "encryption")
        removed = await client.post(f"{SETTINGS}/encryption/delete", data={"csrf": token})
        s3_removed = await _s3_xml(console, client, "encryption")

    assert 'id="encryption-current">SSE-S3 (<code>AES256</code>)' in before.text
    assert "removing the default brings the bucket back to SSE-S3" in before.text
    assert kms.status_code == 303, _alert(kms)
    assert _texts(s3_kms, "SSEAlgorithm") == ["aws:kms"]
    assert _texts(s3_kms, "KMSMasterKeyID") == [key_id]
    assert _texts(s3_kms, "BucketKeyEnabled") == ["true"]
    assert f"SSE-KMS (<code>aws:kms</code>) · KMS key <code>{key_id}</code>" in shown.text
    assert "S3 Bucket Key on" in shown.text
    assert dsse.status_code == 303 and _texts(s3_dsse, "SSEAlgorithm") == ["aws:kms:dsse"]
    assert _texts(s3_dsse, "BucketKeyEnabled") == ["false"]
    assert unknown_key.status_code == 400 and "(KMS.NotFoundException)" in _alert(unknown_key)
    assert key_with_sse_s3.status_code == 400 and "(InvalidArgument)" in _alert(key_with_sse_s3)
    assert _texts(s3_unchanged, "SSEAlgorithm") == ["aws:kms:dsse"]
    assert removed.status_code == 303 and _texts(s3_removed, "SSEAlgorithm") == ["AES256"]


def _policy(*actions: str, padding: int = 0) -> str:
    statements = [
        {
            "Sid": f"ReadOnly{index}",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
            "Action": list(actions),
            "Resource": f"arn:aws:s3:::{BUCKET}/shared/<&>'{index}/*",
        }
        for index in range(1 + padding)
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


async def test_bucket_policy(console: ConsoleHarness) -> None:
    typed = _policy("s3:GetObject")
    malformed = typed.replace('"Allow"', '"Perhaps"')
    large = _policy("s3:GetObject", "s3:ListBucket", padding=95)
    assert 18 * 1024 < len(large) < 20 * 1024  # near S3's limit for a bucket policy
    async with console.client() as client:
        token = await _root(console, client)
        before = await client.get(SETTINGS)
        saved = await client.post(f"{SETTINGS}/policy", data={"csrf": token, "policy": typed})
        s3_saved = await _s3(console, client, "GET", "policy")
        shown = await client.get(SETTINGS)
        refused = await client.post(f"{SETTINGS}/policy", data={"csrf": token, "policy": malformed})
        s3_kept = await _s3(console, client, "GET", "policy")
        big = await client.post(f"{SETTINGS}/policy", data={"csrf": token, "policy": large})
        s3_big = await _s3(console, client, "GET", "policy")
        deleted = await client.post(f"{SETTINGS}/policy/delete", data={"csrf": token})
        s3_deleted = await _s3(console, client, "GET", "policy")

    assert "This bucket has no policy." in before.text
    assert saved.status_code == 303
    assert saved.headers["location"] == f"/console{SETTINGS}#policy"
    assert isinstance(s3_saved, Answer) and json.loads(s3_saved.body) == json.loads(typed)
    textarea = unescape(shown.text.split('id="policy-text"', 1)[1].split("</textarea>")[0])
    assert json.dumps(json.loads(typed), indent=2) in textarea  # pretty-printed, escaped
    assert "This bucket has no policy." not in shown.text and 'id="delete-policy"' in shown.text
    assert refused.status_code == 400 and "(MalformedPolicy)" in _alert(refused)
    kept = unescape(refused.text.split('id="policy-text"', 1)[1].split("</textarea>")[0])
    assert kept.endswith(malformed)  # the text as typed, not S3's copy
    assert isinstance(s3_kept, Answer) and json.loads(s3_kept.body) == json.loads(typed)
    assert big.status_code == 303, _alert(big)
    assert isinstance(s3_big, Answer) and json.loads(s3_big.body) == json.loads(large)
    assert deleted.status_code == 303 and _code(s3_deleted) == "NoSuchBucketPolicy"


async def test_tags_added_replaced_and_removed(console: ConsoleHarness) -> None:
    async with console.client() as client:
        token = await _root(console, client)
        for key, value in (("env", "prod"), ("team", "data + ops"), ("env", "dev")):
            added = await client.post(
                f"{SETTINGS}/tags", data={"csrf": token, "tag_key": key, "tag_value": value}
            )
            assert added.status_code == 303, _alert(added)
        s3_tags = await _s3_xml(console, client, "tagging")
        shown = await client.get(SETTINGS)
        invalid = await client.post(
            f"{SETTINGS}/tags", data={"csrf": token, "tag_key": "aws:owner", "tag_value": "me"}
        )
        removed = await client.post(
            f"{SETTINGS}/tags/delete", data={"csrf": token, "tag_key": "env"}
        )
        s3_one = await _s3_xml(console, client, "tagging")
        await client.post(f"{SETTINGS}/tags/delete", data={"csrf": token, "tag_key": "team"})
        s3_none = await _s3(console, client, "GET", "tagging")
        empty = await client.get(SETTINGS)

    assert list(zip(_texts(s3_tags, "Key"), _texts(s3_tags, "Value"), strict=True)) == [
        ("env", "dev"),
        ("team", "data + ops"),
    ]
    assert shown.text.count('class="tag"') == 2 and "data + ops" in shown.text
    assert invalid.status_code == 400 and "(InvalidTag)" in _alert(invalid)
    assert 'value="aws:owner"' in invalid.text
    assert removed.status_code == 303 and removed.headers["location"].endswith("#tags")
    assert _texts(s3_one, "Key") == ["team"]
    assert _code(s3_none) == "NoSuchTagSet" and "No tags." in empty.text


_EXISTING_RULES = (
    b'<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    b"<Rule><ID>tagged-logs</ID><Filter><And><Prefix>logs/</Prefix>"
    b"<Tag><Key>class</Key><Value>tmp</Value></Tag><ObjectSizeGreaterThan>1024</ObjectSizeGreaterThan>"
    b"</And></Filter><Status>Disabled</Status><Expiration><Days>7</Days></Expiration></Rule>"
    b"<Rule><ID>markers</ID><Filter><Prefix></Prefix></Filter><Status>Enabled</Status>"
    b"<Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>"
    b"<NoncurrentVersionExpiration><NoncurrentDays>30</NoncurrentDays>"
    b"<NewerNoncurrentVersions>2</NewerNoncurrentVersions></NoncurrentVersionExpiration></Rule>"
    b"</LifecycleConfiguration>"
)
_MINIMUM_SIZE = "x-amz-transition-default-minimum-object-size"


async def test_lifecycle_rules_added_and_removed_keep_the_others(console: ConsoleHarness) -> None:
    new_rule = {
        "rule_id": "tmp <uploads> & co",
        "rule_prefix": "tmp/<&>",
        "expiration_days": "10",
        "noncurrent_days": "",
        "abort_days": " 3 ",
    }
    async with console.client() as client:
        token = await _root(console, client)
        put = await _s3(
            console,
            client,
            "PUT",
            "lifecycle",
            _EXISTING_RULES,
            [(_MINIMUM_SIZE.encode(), b"varies_by_storage_class")],
        )
        assert isinstance(put, Answer), put
        original = await _s3(console, client, "GET", "lifecycle")
        added = await client.post(f"{SETTINGS}/lifecycle", data={"csrf": token, **new_rule})
        s3_added = await _s3(console, client, "GET", "lifecycle")
        shown = await client.get(SETTINGS)
        not_a_number = await client.post(
            f"{SETTINGS}/lifecycle",
            data={"csrf": token, "rule_id": "late", "rule_prefix": "x/", "expiration_days": "ten"},
        )
        same_id = await client.post(
            f"{SETTINGS}/lifecycle",
            data={"csrf": token, "rule_id": "markers", "expiration_days": "1"},
        )
        no_action = await client.post(
            f"{SETTINGS}/lifecycle", data={"csrf": token, "rule_id": "idle"}
        )
        s3_unchanged = await _s3(console, client, "GET", "lifecycle")
        removed = await client.post(
            f"{SETTINGS}/lifecycle/delete", data={"csrf": token, "rule_id": new_rule["rule_id"]}
        )
        s3_removed = await _s3(console, client, "GET", "lifecycle")
        for rule_id in ("tagged-logs", "markers"):
            await client.post(
                f"{SETTINGS}/lifecycle/delete", data={"csrf": token, "rule_id": rule_id}
            )
        s3_none = await _s3(console, client, "GET", "lifecycle")
        empty = await client.get(SETTINGS)

    assert isinstance(original, Answer) and isinstance(s3_added, Answer)
    assert added.status_code == 303, _alert(added)
    assert added.headers["location"] == f"/console{SETTINGS}#lifecycle"
    rules = ET.fromstring(s3_added.body).findall(f"{_NS}Rule")  # noqa: S314 - our own server
    before = ET.fromstring(original.body).findall(f"{_NS}Rule")  # noqa: S314 - our own server
    # The rules the page does not fully show came back to S3 as S3 gave them.
    assert [ET.tostring(r) for r in rules[:2]] == [ET.tostring(r) for r in before]
    assert _texts(rules[2], "ID") == [new_rule["rule_id"]]
    assert _texts(rules[2], "Prefix") == ["tmp/<&>"]
    assert _texts(rules[2], "Days") == ["10"] and _texts(rules[2], "DaysAfterInitiation") == ["3"]
    assert _texts(rules[2], "NoncurrentDays") == []
    assert s3_added.headers[_MINIMUM_SIZE] == "varies_by_storage_class"
    assert shown.text.count('class="lifecycle-rule"') == 3
    assert "tmp &lt;uploads&gt; &amp; co" in shown.text and "logs/" in shown.text

    assert not_a_number.status_code == 400 and "whole number" in _alert(not_a_number)
    assert 'value="late"' in not_a_number.text and 'value="ten"' in not_a_number.text
    assert same_id.status_code == 400 and "(InvalidArgument)" in _alert(same_id)
    assert no_action.status_code == 400 and "(InvalidRequest)" in _alert(no_action)
    assert isinstance(s3_unchanged, Answer) and s3_unchanged.body == s3_added.body

    assert removed.status_code == 303
    assert isinstance(s3_removed, Answer) and s3_removed.body == original.body
    assert s3_removed.headers[_MINIMUM_SIZE] == "varies_by_storage_class"
    assert _code(s3_none) == "NoSuchLifecycleConfiguration"
    assert "No lifecycle rules." in empty.text


async def test_cors_and_replication_are_shown(console: ConsoleHarness) -> None:
    cors = (
        b"<CORSConfiguration><CORSRule><AllowedOrigin>https://app.example</AllowedOrigin>"
        b"<AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod>"
        b"<AllowedHeader>*</AllowedHeader><MaxAgeSeconds>600</MaxAgeSeconds></CORSRule>"
        b"</CORSConfiguration>"
    )
    async with console.client() as client:
        await _root(console, client)
        before = await client.get(SETTINGS)
        assert isinstance(await _s3(console, client, "PUT", "cors", cors), Answer)
        after = await client.get(SETTINGS)
    assert "No CORS rules." in before.text and "No replication." in before.text
    row = after.text.split('class="cors-rule">', 1)[1].split("</tr>", 1)[0]
    assert row == "<td>https://app.example</td><td>GET, PUT</td><td>*</td><td>600</td>"


async def test_a_reader_gets_s3s_access_denied(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "reader")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:GetObject"],
                "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
            }
        ],
    }
    await console.identity.put_user_policy(tenant, "reader", "read", json.dumps(policy))
    async with console.client() as owner:
        await _root(console, owner)
        async with console.client() as client:
            assert (await log_in(client, "admin", "reader")).status_code == 303
            token = await csrf(client, f"/buckets/{BUCKET}")
            page = await client.get(SETTINGS)
            versioning = await client.post(
                f"{SETTINGS}/versioning", data={"csrf": token, "versioning_status": "Enabled"}
            )
            tag = await client.post(
                f"{SETTINGS}/tags", data={"csrf": token, "tag_key": "a", "tag_value": "b"}
            )
            policy_change = await client.post(
                f"{SETTINGS}/policy", data={"csrf": token, "policy": _policy("s3:GetObject")}
            )
        s3_versioning = await _s3_xml(console, owner, "versioning")
        s3_tags = await _s3(console, owner, "GET", "tagging")
        s3_policy = await _s3(console, owner, "GET", "policy")
    for reply in (page, versioning, tag, policy_change):
        assert reply.status_code == 403, reply.text
        assert "(AccessDenied)" in _alert(reply)
        assert 'id="versioning"' not in reply.text  # S3 told it nothing: no section drawn
    assert _texts(s3_versioning, "Status") == []
    assert _code(s3_tags) == "NoSuchTagSet" and _code(s3_policy) == "NoSuchBucketPolicy"


async def test_another_tenants_bucket_answers_as_s3(console: ConsoleHarness) -> None:
    intruder = (await console.identity.create_tenant("intruder")).tenant.id
    await console.user_with_password(intruder, "root")
    async with console.client() as owner:
        token = await _root(console, owner)
        await owner.post(
            f"{SETTINGS}/tags", data={"csrf": token, "tag_key": "project", "tag_value": "zephyr"}
        )
        secret = _policy("s3:GetObject")
        await owner.post(f"{SETTINGS}/policy", data={"csrf": token, "policy": secret})
        async with console.client() as client:
            await log_in(client, "intruder", "root")
            token = await csrf(client)
            page = await client.get(SETTINGS)
            changes = [
                await client.post(f"{SETTINGS}/{section}", data={"csrf": token, **fields})
                for section, fields in (
                    ("versioning", {"versioning_status": "Enabled"}),
                    ("tags", {"tag_key": "project", "tag_value": "mine"}),
                    ("tags/delete", {"tag_key": "project"}),
                    ("policy/delete", {}),
                    ("encryption/delete", {}),
                    ("lifecycle", {"rule_id": "r", "expiration_days": "1"}),
                    ("object-lock/enable", {"confirm": "yes"}),
                )
            ]
            absent = await client.get("/buckets/no-such-bucket-anywhere/settings")
        s3_versioning = await _s3_xml(console, owner, "versioning")
        s3_tags = await _s3_xml(console, owner, "tagging")
        s3_policy = await _s3(console, owner, "GET", "policy")
    for reply in (page, *changes):
        # S3's own answer to another tenant (tests/unit/s3/test_tenant_isolation.py).
        assert reply.status_code == 403, reply.text
        assert "(AccessDenied)" in _alert(reply)
        assert "zephyr" not in reply.text and "ReadOnly0" not in reply.text
        assert 'id="versioning"' not in reply.text and 'id="policy-text"' not in reply.text
    assert absent.status_code == 404 and "(NoSuchBucket)" in _alert(absent)
    # and nothing changed for the owner
    assert _texts(s3_versioning, "Status") == [] and _texts(s3_tags, "Value") == ["zephyr"]
    assert isinstance(s3_policy, Answer) and json.loads(s3_policy.body) == json.loads(secret)


async def test_forms_without_the_sessions_token_are_refused(console: ConsoleHarness) -> None:
    async with console.client() as client:
        token = await _root(console, client)
        missing = await client.post(f"{SETTINGS}/versioning", data={"versioning_status": "Enabled"})
        wrong = await client.post(
            f"{SETTINGS}/policy", data={"csrf": "0" * len(token), "policy": _policy("s3:*")}
        )
        s3_versioning = await _s3_xml(console, client, "versioning")
        s3_policy = await _s3(console, client, "GET", "policy")
    for refused in (missing, wrong):
        assert refused.status_code == 403 and "did not come from the console" in refused.text
    assert _texts(s3_versioning, "Status") == [] and _code(s3_policy) == "NoSuchBucketPolicy"


async def test_the_page_in_french(console: ConsoleHarness) -> None:
    async with console.client(**{"accept-language": "fr-FR,fr;q=0.9"}) as client:
        token = await _root(console, client)
        await client.post(
            f"{SETTINGS}/versioning", data={"csrf": token, "versioning_status": "Enabled"}
        )
        await client.post(f"{SETTINGS}/object-lock/enable", data={"csrf": token, "confirm": "yes"})
        await client.post(
            f"{SETTINGS}/object-lock",
            data={
                "csrf": token,
                "lock_mode": "GOVERNANCE",
                "lock_period": "2",
                "lock_unit": "Years",
            },
        )
        page = await client.get(SETTINGS)
        refused = await client.post(f"{SETTINGS}/policy", data={"csrf": token, "policy": "{"})
        objects = await client.get(f"/buckets/{BUCKET}")
    assert '<html lang="fr">' in page.text
    text = unescape(page.text)
    for words in (
        "Paramètres de reports",
        "Gestion des versions",
        "La gestion des versions est activée.",
        "Chiffrement par défaut",
        "Politique du compartiment",
        "Ce compartiment n’a pas de politique.",  # noqa: RUF001 - French apostrophe
        "Balises",
        "Le verrouillage d’objets est activé. Rétention par défaut : GOVERNANCE, 2 ans",  # noqa: RUF001
        "Cycle de vie",
        "Aucune règle de cycle de vie.",
        "Paiement par le demandeur",
        "Faire payer les demandeurs",
        "Notifications d’événements",  # noqa: RUF001 - French apostrophe
    ):
        assert words in text, words
    # S3's event type names (s3:LifecycleExpiration:*) are identifiers, shown as S3 spells them.
    words_only = re.sub(r"s3:\w+:[\w*]+", "", text)
    assert "Versioning" not in words_only and "Lifecycle" not in words_only
    assert refused.status_code == 400 and "(MalformedPolicy)" in _alert(refused)
    assert ">Paramètres</a>" in unescape(objects.text)


async def _events(console: ConsoleHarness) -> list[tuple[str, str, str]]:
    running = console.application._running
    assert running is not None
    await running.audit.flush()
    listed = await running.audit._store.list_events(console.admin_tenant_id, after_id=0, limit=1000)
    return [(e.action, e.outcome.value, e.principal or "") for _, e in listed]


async def test_data_events_are_turned_on_and_off_as_the_api_does(
    console: ConsoleHarness,
) -> None:
    """The management API's setting (decision 0109) on the same page: the change recorded as
    the API's, and reads then in the trail."""
    async with console.client() as client:
        token = await _root(console, client)
        await client.get(f"/buckets/{BUCKET}")  # a ListObjectsV2 not logged: reads are off
        before = await client.get(SETTINGS)
        turned_on = await client.post(
            f"{SETTINGS}/data-events", data={"csrf": token, "read": "true"}
        )
        after = await client.get(SETTINGS)
        await client.get(f"/buckets/{BUCKET}")  # a ListObjectsV2: a data read now logged
        running = console.application._running
        assert running is not None
        assert (await running.console.console.buckets.get_bucket(BUCKET)).data_reads_logged
        events = await _events(console)
        turned_off = await client.post(
            f"{SETTINGS}/data-events", data={"csrf": token, "read": "false"}
        )
    assert 'id="log-read-events"' in before.text and "are not logged" in before.text
    assert turned_on.status_code == 303
    assert turned_on.headers["location"].endswith("/settings#data-events")
    assert 'id="stop-read-events"' in after.text
    assert (
        "andromede:PutBucketDataEvents",
        "success",
        f"arn:aws:iam::{console.admin_tenant_id}:root",
    ) in events
    assert [a for a, _o, _p in events].count("s3:ListBucket") == 1  # the read after
    assert turned_off.status_code == 303
    assert not (await running.console.console.buckets.get_bucket(BUCKET)).data_reads_logged


async def test_data_events_follow_the_callers_policies_and_tenant(
    console: ConsoleHarness,
) -> None:
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "reader")
    s3_only = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }
    await console.identity.put_user_policy(tenant, "reader", "s3", json.dumps(s3_only))
    async with console.client() as root:
        await _root(console, root)
    async with console.client() as client:
        await log_in(client, "admin", "reader")
        page = await client.get(SETTINGS)
        token = await csrf(client)
        refused = await client.post(f"{SETTINGS}/data-events", data={"csrf": token, "read": "true"})
    assert "andromede:GetBucketDataEvents" in unescape(page.text)
    assert 'id="log-read-events"' not in page.text
    assert refused.status_code == 403 and "andromede:PutBucketDataEvents" in refused.text
    assert ("andromede:PutBucketDataEvents", "failure", f"arn:aws:iam::{tenant}:user/reader") in (
        await _events(console)
    )
    other = (await console.identity.create_tenant("other")).tenant.id
    await console.user_with_password(other, "root")
    async with console.client() as intruder:
        assert (await log_in(intruder, "other", "root")).status_code == 303
        token = await csrf(intruder)
        theirs = await intruder.post(
            f"{SETTINGS}/data-events", data={"csrf": token, "read": "true"}
        )
        shown = await intruder.get(SETTINGS)
    assert theirs.status_code == 404
    assert "data-events" not in shown.text
    running = console.application._running
    assert running is not None
    assert not (await running.console.console.buckets.get_bucket(BUCKET)).data_reads_logged
