"""A custom identity broker against a real ``andromede serve``: credentials from STS
AssumeRole (boto3, the role's trust policy deciding), turned into a console session through
the federation endpoint as AWS documents it for brokers — ``getSigninToken``, then the
``login`` link — and the console then acting as the role session."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import requests

from e2e.iam_helpers import client_for, new_tenant
from support.server import ServerProcess


def test_a_broker_opens_the_console_for_a_role_session(server: ServerProcess) -> None:
    tenant = new_tenant(server, "broker")
    iam = client_for(server, "iam", tenant.access_key_id, tenant.secret_access_key)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{tenant.account}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName="support", AssumeRolePolicyDocument=json.dumps(trust))
    # The broker: an IAM user allowed to assume the role (AWS refuses the root's AssumeRole).
    iam.create_user(UserName="broker")
    iam.put_user_policy(
        UserName="broker",
        PolicyName="assume",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role["Role"]["Arn"]}
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName="broker")["AccessKey"]
    sts = client_for(server, "sts", key["AccessKeyId"], key["SecretAccessKey"])
    credentials = sts.assume_role(RoleArn=role["Role"]["Arn"], RoleSessionName="ticket-42")[
        "Credentials"
    ]
    federation = f"{server.api_endpoint}/console/federation"
    session = json.dumps(
        {
            "sessionId": credentials["AccessKeyId"],
            "sessionKey": credentials["SecretAccessKey"],
            "sessionToken": credentials["SessionToken"],
        }
    )
    answered = requests.get(
        federation,
        params={"Action": "getSigninToken", "SessionDuration": "3600", "Session": session},
        timeout=30,
    )
    assert answered.status_code == 200, answered.text
    link = (
        federation
        + "?"
        + urlencode(
            {
                "Action": "login",
                "Issuer": "https://broker.example",
                "Destination": f"{server.api_endpoint}/console/keys",
                "SigninToken": answered.json()["SigninToken"],
            }
        )
    )
    browser = requests.Session()
    landed = browser.get(link, timeout=30)
    assert landed.status_code == 200 and 'url=/console/keys"' in landed.text
    keys = browser.get(f"{server.api_endpoint}/console/keys", timeout=30, allow_redirects=False)
    # The role may not list keys: KMS's refusal (its status, 400), shown as the role session.
    assert keys.status_code == 400 and "AccessDeniedException" in keys.text
    assert f"arn:aws:sts::{tenant.account}:assumed-role/support/ticket-42" in keys.text
    assert "My security credentials" not in keys.text  # a role session has no user page
    assert requests.get(link, timeout=30).status_code == 403  # a link opens one session
