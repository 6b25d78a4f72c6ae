"""What the Terraform end-to-end modules share (``test_terraform.py``: KMS and S3;
``test_terraform_ec2.py``: volumes, an instance, IAM and the default VPC;
``test_terraform_vpc_lab.py``: the VPC lab launched from a launch template): the provider
blocks of a configuration, the ``terraform`` command, the provider they all attach to, and the
EC2 server of the EC2 modules.

Terraform is not a Debian package: the tests take ``terraform`` from PATH and the
``hashicorp/aws`` provider from a filesystem mirror (``ANDROMEDE_TEST_TERRAFORM_MIRROR``,
``/opt/tf-plugins`` by default), since no registry outside the package mirrors is reachable.

The provider runs once per test module and every ``terraform`` command attaches to it
(``TF_REATTACH_PROVIDERS``, how HashiCorp's own acceptance tests drive a provider): started by
Terraform, the 700 MB binary was started again for each walk of each command (schema,
validate, plan, apply: four times per ``apply``), about half of a command's time on a
loaded machine. The provider and the gRPC protocol Terraform speaks to it are the same (decision
0110). One module per group of scenarios, each with its provider and servers, so that a
parallel run deals them to different workers: most of a scenario's time is the provider's own
waiting (decision 0167).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import pytest

from support.server import REGION, ServerProcess, running_server

__all__ = [
    "DEFAULT_TAGS",
    "DESTROY_AFTER_PLAN",
    "MIRROR",
    "PUBLIC_DNS_DOMAIN",
    "AttachedProvider",
    "Terraform",
    "attached_provider_running",
    "aws_provider",
    "provider_values",
    "server_endpoint",
    "terraform_ec2_server",
]

MIRROR = Path(os.environ.get("ANDROMEDE_TEST_TERRAFORM_MIRROR", "/opt/tf-plugins"))
# A destroy right after the converged plan: that plan has just read every resource back, and
# destroy's own refresh would read them all again before deleting (decision 0110).
DESTROY_AFTER_PLAN = ("destroy", "-auto-approve", "-input=false", "-refresh=false")


def aws_provider(*, default_tags: dict[str, str] | None = None, proxy: bool = False) -> str:
    """The ``terraform`` and ``provider "aws"`` blocks of a configuration, path-style for S3
    (``%(region)s``, ``%(credentials)s`` and ``%(endpoints)s``, the file of
    :func:`server_endpoint`, are substituted with the rest of the configuration).
    ``default_tags``: the provider's, which it puts on every resource that takes tags, as
    organisations do. ``proxy``: the provider also sends through the server (``%(endpoint)s``)
    as its HTTP proxy."""
    block = _PROVIDER
    anchor = "  s3_use_path_style           = true\n"
    if default_tags:
        tags = ", ".join(f'{key} = "{value}"' for key, value in default_tags.items())
        block = block.replace(anchor, f"{anchor}  default_tags {{\n    tags = {{ {tags} }}\n  }}\n")
    if proxy:
        block = block.replace(anchor, f'{anchor}  http_proxy = "%(endpoint)s"\n')
    return block


def server_endpoint(folder: Path, endpoint: str) -> Path:
    """A shared config file (``shared_config_files``, ``%(endpoints)s``) whose profile sends
    every service to ``endpoint``: ``endpoint_url``, as the AWS SDKs read it.

    Not the provider block's ``endpoints``: with that block set, each ValidateProviderConfig
    call cost the provider 2.5 s of CPU (0.3 s without it, the configuration otherwise the
    same), and Terraform makes two a plan and three an apply or a destroy: most of the CPU the
    Terraform tests used. The requests go to the same server either way."""
    path = folder / "aws-config"
    path.write_text(f"[profile andromede]\nendpoint_url = {endpoint}\n")
    return path


def provider_values(folder: Path, server: ServerProcess) -> dict[str, object]:
    """What :func:`aws_provider`'s blocks take to reach ``server``: ``region``, ``credentials``
    (its credentials file) and ``endpoints`` (:func:`server_endpoint`'s file, written into
    ``folder``), for a configuration's ``%`` with its own values."""
    return {
        "region": REGION,
        "credentials": server.credentials_file,
        "endpoints": server_endpoint(folder, server.endpoint),
    }


_PROVIDER = """
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = ">= 5.0" }
  }
}
provider "aws" {
  region                      = "%(region)s"
  shared_credentials_files    = ["%(credentials)s"]
  shared_config_files         = ["%(endpoints)s"]
  profile                     = "andromede"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true
  # The SDK's retries of a 5xx are few: a server error fails the command in seconds, where
  # the default 25, with backoff, ran a 500 into the test's 600 s timeout (decision 0075).
  # Five, not two: the Go SDK's transport sometimes closes its own connection under a 200
  # answer ("use of closed network connection", aws-sdk-go-v2 #2737, retried since #2949);
  # two attempts 0.1 s apart both met it in a clean-clone run of session 45.
  max_retries = 5
}
"""

# Every resource also gets the provider's default tags (ownership, as most organisations set).
DEFAULT_TAGS = {"owner": "platform"}


class AttachedProvider(NamedTuple):
    """A running provider: what ``TF_REATTACH_PROVIDERS`` says of it, and where it writes."""

    reattach: str
    log: Path


class Terraform:
    def __init__(self, binary: Path, work: Path, provider: AttachedProvider) -> None:
        self.binary = binary
        self.work = work
        self.provider = provider
        rc = work / "terraformrc"
        rc.write_text(
            "provider_installation {\n"
            f'  filesystem_mirror {{\n    path = "{MIRROR}"\n  }}\n'
            "}\n"
            "disable_checkpoint = true\n"
        )
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_"))}
        self.env.update(
            HOME=str(work),
            TF_CLI_CONFIG_FILE=str(rc),
            TF_IN_AUTOMATION="1",
            CHECKPOINT_DISABLE="1",
            TF_REATTACH_PROVIDERS=provider.reattach,
            **_GO_GC_PERCENT,
        )

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(self.binary), *args, "-no-color"],
            cwd=self.work,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if check and result.returncode != 0:
            pytest.fail(
                f"terraform {' '.join(args)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout[-6000:]}\nstderr:\n{result.stderr[-6000:]}\n"
                f"provider:\n{self.provider.log.read_text(errors='replace')[-3000:]}"
            )
        return result


# What the provider prints once it listens, in debug mode (terraform-plugin-go's managed debug).
_REATTACH_LINE = re.compile(r"TF_REATTACH_PROVIDERS='(?P<value>\{.*\})'")
# The SDK's own logs, at TRACE in debug mode unless told: megabytes a command, written for
# nobody (Terraform, which would have filtered them, no longer reads the provider's output).
_QUIET_PROVIDER = {
    name: "off"
    for name in (
        "TF_LOG",
        "TF_LOG_PROVIDER",
        "TF_LOG_SDK",
        "TF_LOG_SDK_PROTO",
        "TF_LOG_SDK_FRAMEWORK",
        "TF_LOG_SDK_MUX",
        "TF_LOG_SDK_HELPER_SCHEMA",
    )
}


# Go's collector runs each time the heap grows by GOGC percent over what the last cycle left;
# the provider keeps its whole schema live (~250 MB) and allocates fast on every call, so at
# Go's default 100 it spent a third of its CPU collecting. At 400, measured side by side on an
# apply, plan and destroy of 11 resources: provider CPU 11.0/7.5/14.8 s -> 7.7/5.0/9.6 s, for
# 300 -> 480 MB resident; Terraform's own CPU per plan 1.3 -> 1.2 s. GOGC=off used 18 GB and
# more CPU, 1000 no less CPU than 400 (decision 0118).
_GO_GC_PERCENT = {"GOGC": "400"}


@contextmanager
def attached_provider_running(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AttachedProvider]:
    """The mirror's ``hashicorp/aws`` provider, running until the block ends (a test module's
    ``attached_provider`` fixture, tests/e2e/conftest.py). Its own output (a panic, say) is in
    its log, which a failed command's report ends with."""
    providers = (MIRROR / "registry.terraform.io" / "hashicorp" / "aws").glob(
        "*/linux_amd64/terraform-provider-aws_*"
    )
    binaries = sorted(providers)
    if not binaries:
        pytest.skip(f"no hashicorp/aws provider in the Terraform mirror {MIRROR}")
    binary = binaries[-1]
    output = tmp_path_factory.mktemp("tf-provider") / "provider.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_"))}
    with output.open("wb") as log:  # a file, not a pipe nobody drains once the line is read
        process = subprocess.Popen(
            [str(binary), "-debug"],
            stdout=log,
            stderr=log,
            env={**env, **_QUIET_PROVIDER, **_GO_GC_PERCENT},
            start_new_session=True,
        )
    try:
        yield AttachedProvider(_reattach_value(process, output), output)
    finally:
        process.send_signal(signal.SIGINT)  # debug mode serves until interrupted
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _reattach_value(process: subprocess.Popen[bytes], output: Path) -> str:
    deadline = time.monotonic() + 120  # a loaded machine: the binary is 700 MB
    while time.monotonic() < deadline:
        found = _REATTACH_LINE.search(output.read_text(errors="replace"))
        if found:
            return found["value"]
        if process.poll() is not None:
            break
        time.sleep(0.1)
    pytest.fail(f"the aws provider printed no reattach line:\n{output.read_text()[-3000:]}")


PUBLIC_DNS_DOMAIN = "cloud.example.test"


@contextmanager
def terraform_ec2_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The EC2 modules' server (one per module): a memory hypervisor, public DNS names."""
    env = {
        "ANDROMEDE_WORKERS": "1",
        "ANDROMEDE_HYPERVISOR": "memory",
        # Public DNS names (decision 0151): aws_instance.public_dns in a VPC with hostnames.
        "ANDROMEDE_PUBLIC_DNS_DOMAIN": PUBLIC_DNS_DOMAIN,
        # Auto Scaling groups reach their capacity, and drain, within the provider's polls.
        "ANDROMEDE_AUTOSCALING_INTERVAL": "0.5",
    }
    with running_server(tmp_path_factory.mktemp("tf-ec2") / "data", extra_env=env) as server:
        yield server
