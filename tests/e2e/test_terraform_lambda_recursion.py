"""Terraform's ``aws_lambda_function_recursion_config`` against the session's ``andromede
serve`` (decision 0328), in a small configuration of its own rather than the main scenario
(which is slow): a function, its recursion configuration set to ``Allow``; the configuration
applies, plans with no change, reads back with boto3, and its destroy sets the function back
to AWS's default before the function goes."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from e2e.iam_helpers import client_for
from e2e.terraform_kit import Terraform, aws_provider, provider_values
from support.lambda_functions import handler_zip
from support.server import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]

CONFIGURATION = (
    aws_provider()
    + """
resource "aws_iam_role" "looper" {
  name = "tf-looper"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}
resource "aws_lambda_function" "looper" {
  function_name    = "tf-looper"
  role             = aws_iam_role.looper.arn
  runtime          = "python3.11"
  handler          = "app.handler"
  filename         = "%(zip)s"
  source_code_hash = filebase64sha256("%(zip)s")
}
resource "aws_lambda_function_recursion_config" "looper" {
  function_name  = aws_lambda_function.looper.function_name
  recursive_loop = "Allow"
}
"""
)


def test_a_recursion_configuration_through_terraform(
    server: ServerProcess, terraform: Terraform
) -> None:
    (terraform.work / "main.tf").write_text(
        CONFIGURATION
        % {
            **provider_values(terraform.work, server),
            "zip": terraform.work / "app.zip",  # absolute: the provider runs attached
        }
    )
    (terraform.work / "app.zip").write_bytes(
        handler_zip("def handler(event, context):\n    return event\n")
    )
    functions: Any = client_for(server, "lambda", *server.credentials())
    terraform("init", "-input=false")
    terraform("apply", "-auto-approve", "-input=false")
    got = functions.get_function_recursion_config(FunctionName="tf-looper")
    assert got["RecursiveLoop"] == "Allow"
    plan: subprocess.CompletedProcess[str] = terraform(
        "plan", "-input=false", "-detailed-exitcode", check=False
    )
    assert plan.returncode == 0, plan.stdout[-3000:]
    state = json.loads(terraform("show", "-json").stdout)
    resources = state["values"]["root_module"]["resources"]
    (recursion,) = [r for r in resources if r["type"] == "aws_lambda_function_recursion_config"]
    assert recursion["values"]["recursive_loop"] == "Allow"
    terraform("destroy", "-target=aws_lambda_function_recursion_config.looper",
        "-auto-approve", "-input=false")  # fmt: skip
    got = functions.get_function_recursion_config(FunctionName="tf-looper")
    assert got["RecursiveLoop"] == "Terminate"
    terraform("destroy", "-auto-approve", "-input=false")
    with pytest.raises(functions.exceptions.ResourceNotFoundException):
        functions.get_function(FunctionName="tf-looper")
