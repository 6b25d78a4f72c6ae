"""Firehose streams into an HTTP endpoint in the console (decision 0252): made from the
creation form (URL, name, an access key or a Secrets Manager secret of the account, GZIP,
retry duration, backup mode, the bucket as the S3 backup), listed and shown with the
endpoint's fields and no S3 destination form, the access key never shown nor put back into a
refused form; Firehose's refusals in its words with the form as typed. Each the service's own
call as the signed-in user, checked against what it answers apart from the console."""

from __future__ import annotations

import json

from support.console import ConsoleHarness, csrf, sign_in_root
from unit.console.test_console_firehose import alert, described, form_of, trust
from unit.console.test_console_firehose_edits import call

_KEY = "k3y-never-shown-9f2"


async def test_an_http_endpoint_stream_made_listed_and_shown(console: ConsoleHarness) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        token = await csrf(client)
        made = await client.post("/buckets", data={"csrf": token, "name": "backup",
                                                    "region": "eu-fr-1"})  # fmt: skip
        assert made.status_code == 303, made.text
        role = await console.identity.create_role(
            tenant, "delivery", trust("firehose.amazonaws.com")
        )
        listed = await client.get("/firehose")
        assert 'name="url"' in form_of(listed, "create-stream-form")
        endpoint = {
            "csrf": token, "name": "to-collector", "destination": "http",
            "url": "https://collector.example.com/ingest", "endpoint_name": "Collector",
            "key_source": "key", "access_key": _KEY, "gzip": "yes", "retry_seconds": "600",
            "backup_mode": "AllData", "bucket": "backup", "role_arn": role.arn,
            "prefix": "kept/", "size_mb": "4", "interval_seconds": "120",
        }  # fmt: skip

        # Firehose's bound on the retry duration, in its words; the key is not typed back.
        refused = await client.post("/firehose", data=endpoint | {"retry_seconds": "9000"})
        assert refused.status_code == 400 and "between 0 and 7200" in alert(refused)
        typed = form_of(refused, "create-stream-form")
        assert 'value="https://collector.example.com/ingest"' in typed and 'value="9000"' in typed
        assert _KEY not in refused.text

        created = await client.post("/firehose", data=endpoint)
        assert created.status_code == 303, alert(created)
        held = await described(console, client, "to-collector")
        http = held["Destinations"][0]["HttpEndpointDestinationDescription"]
        assert http["EndpointConfiguration"] == {
            "Url": "https://collector.example.com/ingest", "Name": "Collector"}  # fmt: skip
        assert http["RequestConfiguration"]["ContentEncoding"] == "GZIP"
        assert http["RetryOptions"] == {"DurationInSeconds": 600}
        assert http["S3BackupMode"] == "AllData"
        assert http["BufferingHints"] == {"SizeInMBs": 4, "IntervalInSeconds": 120}
        assert http["S3DestinationDescription"]["BucketARN"] == "arn:aws:s3:::backup"
        assert http["S3DestinationDescription"]["Prefix"] == "kept/"

        listed = await client.get("/firehose")
        row = listed.text.split('id="stream-to-collector"', 1)[1].split("</tr>", 1)[0]
        assert "<code>https://collector.example.com/ingest</code> (Collector)" in row
        assert '<td class="compression">GZIP</td>' in row and 'class="bucket"' not in row
        page = await client.get("/firehose/to-collector")
        assert page.status_code == 200
        assert (
            "https://collector.example.com/ingest" in page.text.split('id="stream-endpoint-url"')[1]
        )
        assert '<td id="stream-endpoint-name">Collector</td>' in page.text
        assert '<td id="stream-content-encoding">GZIP</td>' in page.text
        assert '<td id="stream-retry">600 s</td>' in page.text
        assert "AllData" in page.text.split('id="stream-backup-mode"')[1].split("</td>")[0]
        assert ">backup</a>" in page.text.split('id="stream-bucket"')[1].split("</td>")[0]
        assert '<td id="stream-hints">4 MiB or 120 s</td>' in page.text
        assert 'id="destination-form"' not in page.text and 'id="stream-prefix"' not in page.text
        assert _KEY not in page.text and _KEY not in listed.text
        french = await client.get("/firehose/to-collector", headers={"accept-language": "fr"})
        assert "Point de terminaison HTTP" in french.text


async def test_an_endpoint_key_held_in_a_secret(console: ConsoleHarness) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        token = await csrf(client)
        made = await client.post("/buckets", data={"csrf": token, "name": "backup",
                                                    "region": "eu-fr-1"})  # fmt: skip
        assert made.status_code == 303, made.text
        role = await console.identity.create_role(
            tenant, "delivery", trust("firehose.amazonaws.com")
        )
        secret = await call(console, client, "secrets", "CreateSecret", {
            "Name": "collector-key", "SecretString": json.dumps({"api_key": _KEY})})  # fmt: skip
        listed = await client.get("/firehose")
        assert f'<option value="{secret["ARN"]}">collector-key</option>' in listed.text
        endpoint = {
            "csrf": token, "name": "secretly", "destination": "http",
            "url": "https://collector.example.com/ingest", "key_source": "secret",
            "retry_seconds": "300", "backup_mode": "FailedDataOnly", "bucket": "backup",
            "role_arn": role.arn, "size_mb": "5", "interval_seconds": "300",
        }  # fmt: skip
        unchosen = await client.post("/firehose", data=endpoint)
        assert unchosen.status_code == 400 and "secret" in alert(unchosen)
        created = await client.post("/firehose", data=endpoint | {"secret_arn": secret["ARN"]})
        assert created.status_code == 303, alert(created)
        held = await described(console, client, "secretly")
        http = held["Destinations"][0]["HttpEndpointDestinationDescription"]
        assert http["SecretsManagerConfiguration"]["SecretARN"] == secret["ARN"]
        assert http["SecretsManagerConfiguration"]["Enabled"] is True
        assert http["RequestConfiguration"]["ContentEncoding"] == "NONE"
        page = await client.get("/firehose/secretly")
        assert secret["ARN"] in page.text.split('id="stream-endpoint-key"')[1].split("</td>")[0]
        assert "FailedDataOnly" in page.text.split('id="stream-backup-mode"')[1].split("</td>")[0]
        # A plain S3 stream keeps its S3 page.
        s3 = {"csrf": token, "name": "plain", "bucket": "backup", "role_arn": role.arn,
              "size_mb": "5", "interval_seconds": "300", "destination": "s3",
              "url": "https://ignored.example.com/"}  # fmt: skip
        assert (await client.post("/firehose", data=s3)).status_code == 303
        plain = await described(console, client, "plain")
        assert "ExtendedS3DestinationDescription" in plain["Destinations"][0]
        page = await client.get("/firehose/plain")
        assert 'id="destination-form"' in page.text and 'id="stream-endpoint-url"' not in page.text
