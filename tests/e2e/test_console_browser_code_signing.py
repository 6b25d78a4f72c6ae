"""Lambda code signing from the console in a real browser (decision 0396): Debian's Chromium
driven by Playwright against the session's ``andromede serve``, with
tests/support/console_browser.py's browser, user and page (skipped without Chromium or
Playwright). A user whose IAM allows Signer, Lambda and S3 creates a signing profile, signs a
ZIP kept in a versioned bucket with a signing job, creates an Enforce code signing
configuration allowing that profile, and sees a function created from the unsigned ZIP under
it refused in Lambda's words — the same function then made from the signed ZIP. Each step
checked with boto3, with no script error or CSP violation."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from e2e.iam_helpers import client_for, new_tenant
from support.console_browser import console_page, console_user, sign_in
from support.lambda_functions import execution_role, handler_zip
from support.server import REGION, ServerProcess

pytestmark = [pytest.mark.e2e]

SOURCE = "def handler(event, context):\n    return event\n"
_CONSOLE_POLICY = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
    '"Action": ["signer:*", "lambda:*", "s3:*", "iam:ListRoles", "iam:PassRole"], '
    '"Resource": "*"}]}'
)


def test_a_zip_signed_and_unsigned_code_refused_under_enforce_in_the_browser(
    browser: Any, server: ServerProcess, tmp_path: Path
) -> None:
    tenant = new_tenant(server, "console-signing")
    keys = (tenant.access_key_id, tenant.secret_access_key)
    iam: Any = client_for(server, "iam", *keys)
    console_user(iam, "publisher", "signing", _CONSOLE_POLICY)
    s3: Any = client_for(server, "s3", *keys)
    signer: Any = client_for(server, "signer", *keys)
    functions: Any = client_for(server, "lambda", *keys)
    role = execution_role(iam, "signed-console-fn")
    bucket = f"code-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    unsigned = handler_zip(SOURCE)
    s3.put_object(Bucket=bucket, Key="app.zip", Body=unsigned)
    (tmp_path / "unsigned.zip").write_bytes(unsigned)

    flow = "code signing browser flow"
    with console_page(browser, server, timed=flow) as (page, console, reported):
        sign_in(page, console, tenant.account, "publisher")
        page.goto(f"{console}/signing-profiles")
        page.fill("#create-profile-form input[name=name]", "console_signer")
        page.click("#create-profile")
        page.wait_for_url(f"{console}/signing-profiles/console_signer")
        assert page.inner_text("#profile-status") == "Active"
        profile = signer.get_signing_profile(profileName="console_signer")
        assert page.inner_text("#profile-version-arn") == profile["profileVersionArn"]

        page.click("#sign-with-profile")
        page.fill("#start-job-form input[name=source_bucket]", bucket)
        page.fill("#start-job-form input[name=source_key]", "app.zip")
        page.fill("#start-job-form input[name=destination_bucket]", bucket)
        page.fill("#start-job-form input[name=destination_prefix]", "signed/")
        page.click("#start-job")
        page.wait_for_url(f"{console}/signing-jobs/*")
        assert page.inner_text("#job-status") == "Succeeded", page.inner_text("#job-reason")
        [job] = signer.list_signing_jobs()["jobs"]
        signed_key = job["signedObject"]["s3"]["key"]
        assert signed_key == f"signed/{job['jobId']}.zip"
        assert signed_key in page.inner_text("#job-signed")
        signed = s3.get_object(Bucket=bucket, Key=signed_key)["Body"].read()
        (tmp_path / "signed.zip").write_bytes(signed)

        page.goto(f"{console}/code-signing-configs")
        page.check(f"#create-config-form input[value='{profile['profileVersionArn']}']")
        page.select_option("#create-config-form select[name=policy]", "Enforce")
        page.fill("#create-config-form input[name=description]", "release")
        page.click("#create-config")
        page.wait_for_url(f"{console}/code-signing-configs/*")
        assert page.inner_text("#config-policy") == "Enforce"
        [config] = functions.list_code_signing_configs()["CodeSigningConfigs"]
        arn = config["CodeSigningConfigArn"]
        assert config["AllowedPublishers"]["SigningProfileVersionArns"] == [
            profile["profileVersionArn"]
        ]

        page.goto(f"{console}/functions")
        form = "#create-function-form"
        page.fill(f"{form} input[name=name]", "checked")
        page.select_option(f"{form} select[name=runtime]", "python3.11")
        page.select_option(f"{form} select[name=role]", role)
        page.select_option(f"{form} select[name=code_signing_config]", arn)
        page.set_input_files(f"{form} input[name=code]", str(tmp_path / "unsigned.zip"))
        page.click("#create-function")
        page.wait_for_selector("p[role=alert]")
        assert "(CodeVerificationFailedException)" in page.inner_text("p[role=alert]")
        assert functions.list_functions()["Functions"] == []
        # The refused form's page answers 400, which the browser reports as such only.
        assert [r for r in reported if "status of 400" not in r] == [], reported
        reported.clear()

        page.fill(f"{form} input[name=name]", "checked")
        page.select_option(f"{form} select[name=role]", role)
        page.select_option(f"{form} select[name=code_signing_config]", arn)
        page.set_input_files(f"{form} input[name=code]", str(tmp_path / "signed.zip"))
        page.click("#create-function")
        page.wait_for_url(f"{console}/functions/checked")
        assert (
            functions.get_function_code_signing_config(FunctionName="checked")[
                "CodeSigningConfigArn"
            ]
            == arn
        )
        page.click("#code-signing-link")
        assert page.inner_text("#function-config") == arn
        assert reported == [], reported
