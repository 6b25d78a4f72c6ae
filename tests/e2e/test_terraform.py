"""Terraform's AWS provider against a real ``andromede serve``: KMS keys (generated, signing
with a key policy, imported material), an alias, a grant with a constraint, a ciphertext, a
bucket whose default encryption names the alias, an object under the imported key, a
versioned bucket replicating to another, versions under a KMS key included
(``aws_s3_bucket_replication_configuration`` with ``source_selection_criteria`` and a
``replica_kms_key_id``), and the data sources that read them back (public key, secrets,
alias). The
configuration must apply, then plan with no change (what Terraform users check first), and
destroy. And the S3 backend keeping its state here, locked by a lock file written with
``If-None-Match: *``; an EBS volume under a KMS key (``aws_ebs_volume`` ``kms_key_id``) and an
instance with block devices (``aws_instance``), with IAM users and roles with a
``permissions_boundary`` in the same configuration; a VPC lab launched from a launch template,
with two more VPCs peered in its configuration; and the default VPC and subnet with
``force_destroy``, adopted, deleted and made again (decision 0137). Scenarios share a
configuration where they can: every ``terraform`` command costs the provider seconds of CPU
whatever it does (its GetProviderSchema, and an InternalValidate of its 1,500 resource schemas
at each ValidateProviderConfig, which each walk calls).

The main configuration also holds SQS FIFO queues (``aws_sqs_queue`` with ``fifo_queue``,
content-based deduplication and a FIFO dead-letter queue: decision 0164).

Terraform is not a Debian package: the test takes ``terraform`` from PATH and the
``hashicorp/aws`` provider from a filesystem mirror (``ANDROMEDE_TEST_TERRAFORM_MIRROR``,
``/opt/tf-plugins`` by default), since no registry outside the package mirrors is reachable.

The provider runs once for the module and every ``terraform`` command attaches to it
(``TF_REATTACH_PROVIDERS``, how HashiCorp's own acceptance tests drive a provider): started by
Terraform, the 700 MB binary was started again for each walk of each command (schema,
validate, plan, apply: four times per ``apply``), about half of a command's time on a
loaded machine. The provider and the gRPC protocol Terraform speaks to it are the same (decision
0110).
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization

from e2e.helpers import client_binary, unique_bucket
from e2e.iam_helpers import client_for, new_tenant
from e2e.test_kms_api import kms_client
from e2e.test_s3control import s3control_client
from support.qemu_host import import_image
from support.server import REGION, ServerProcess, running_server

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Terraform's AWS provider polls with its own delays (55 s of lifecycle re-reads, volume
# modifications, a guest's boot): 100 to 140 s a test on a quick machine, over 300 s on a slow
# one.
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

MIRROR = Path(os.environ.get("ANDROMEDE_TEST_TERRAFORM_MIRROR", "/opt/tf-plugins"))
# A destroy right after the converged plan: that plan has just read every resource back, and
# destroy's own refresh would read them all again before deleting (decision 0110).
DESTROY_AFTER_PLAN = ("destroy", "-auto-approve", "-input=false", "-refresh=false")
MATERIAL = base64.b64encode(b"thirty-two bytes of our own key!").decode()


def aws_provider(*services: str, default_tags: dict[str, str] | None = None) -> str:
    """The ``terraform`` and ``provider "aws"`` blocks of a configuration, ``services`` reached
    at the server, path-style for S3 (``%(region)s``, ``%(credentials)s`` and
    ``%(endpoint)s`` are substituted with the rest of the configuration). ``default_tags``:
    the provider's, which it puts on every resource that takes tags, as organisations do."""
    endpoints = "\n".join(f'    {service} = "%(endpoint)s"' for service in services)
    block = _PROVIDER.replace("ENDPOINTS", endpoints)
    if default_tags:
        tags = ", ".join(f'{key} = "{value}"' for key, value in default_tags.items())
        block = block.replace(
            "  endpoints {", f"  default_tags {{\n    tags = {{ {tags} }}\n  }}\n  endpoints {{", 1
        )
    return block


_PROVIDER = """
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = ">= 5.0" }
  }
}
provider "aws" {
  region                      = "%(region)s"
  shared_credentials_files    = ["%(credentials)s"]
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
  endpoints {
ENDPOINTS
  }
}
"""

CONFIGURATION = (
    # S3 Control's endpoint rules put the account id before the endpoint's host, which
    # resolves nowhere here: the provider sends through the server itself as its proxy,
    # which serves the absolute-form request target with the signed Host (decision 0152).
    aws_provider("kms", "s3", "s3control", "sqs", "sts").replace(
        "  endpoints {", '  http_proxy = "%(endpoint)s"\n  endpoints {', 1
    )
    + """
data "aws_caller_identity" "me" {}
# The account's Block Public Access (S3 Control, decision 0152), enforced with each bucket's;
# nothing in this configuration is public.
resource "aws_s3_account_public_access_block" "account" {
  account_id              = data.aws_caller_identity.me.account_id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = false
  restrict_public_buckets = true
}
# An access point on the data bucket with its policy (decision 0157): the account's root may
# read through it.
resource "aws_s3_access_point" "app" {
  account_id = data.aws_caller_identity.me.account_id
  bucket     = aws_s3_bucket.data.id
  name       = "tf-app"
}
resource "aws_s3control_access_point_policy" "app" {
  access_point_arn = aws_s3_access_point.app.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.me.account_id}:root" }
      Action    = "s3:GetObject"
      Resource  = "${aws_s3_access_point.app.arn}/object/*"
    }]
  })
}
resource "aws_kms_key" "data" {
  description             = "terraform data key"
  deletion_window_in_days = 7
  enable_key_rotation     = true
  tags                    = { team = "storage" }
}
resource "aws_kms_alias" "data" {
  name          = "alias/%(bucket)s"
  target_key_id = aws_kms_key.data.key_id
}
resource "aws_kms_key" "signing" {
  description              = "release signing"
  customer_master_key_spec = "ECC_NIST_P256"
  key_usage                = "SIGN_VERIFY"
  deletion_window_in_days  = 7
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "Root"
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.me.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })
}
resource "aws_kms_key" "agreement" {
  description              = "end-to-end channel"
  customer_master_key_spec = "ECC_NIST_P384"
  key_usage                = "KEY_AGREEMENT"
  deletion_window_in_days  = 7
}
resource "aws_kms_grant" "reader" {
  name              = "reader"
  key_id            = aws_kms_key.data.key_id
  grantee_principal = "arn:aws:iam::${data.aws_caller_identity.me.account_id}:root"
  operations        = ["Encrypt", "Decrypt", "GenerateDataKey"]
  constraints {
    encryption_context_subset = { department = "finance" }
  }
}
resource "aws_kms_external_key" "byok" {
  description             = "bring your own"
  deletion_window_in_days = 7
  key_material_base64     = "%(material)s"
  valid_to                = "%(valid_to)s"
  enabled                 = true
}
resource "aws_kms_ciphertext" "secret" {
  key_id    = aws_kms_external_key.byok.id
  plaintext = "the launch codes"
  context   = { app = "terraform" }
}
resource "aws_s3_bucket" "data" {
  bucket        = "%(bucket)s"
  tags          = { team = "storage", "cost-centre" = "4711" }
  force_destroy = true # destroy empties it by ListObjectVersions and DeleteObjects
}
resource "aws_s3_bucket_server_side_encryption_configuration" "data" {
  bucket = aws_s3_bucket.data.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_alias.data.name
    }
    bucket_key_enabled = true
  }
}
resource "aws_s3_object" "report" {
  bucket                 = aws_s3_bucket.data.id
  key                    = "report.txt"
  content                = "quarterly figures"
  server_side_encryption = "aws:kms"
  kms_key_id             = aws_kms_external_key.byok.arn
  tags                   = { classification = "internal", owner = "finance" }
}
resource "aws_s3_bucket_cors_configuration" "data" {
  bucket = aws_s3_bucket.data.id
  cors_rule {
    allowed_headers = ["*"]
    allowed_methods = ["GET", "PUT"]
    allowed_origins = ["https://app.example.org"]
    expose_headers  = ["ETag"]
    max_age_seconds = 3000
  }
  cors_rule {
    allowed_methods = ["GET"]
    allowed_origins = ["*"]
  }
}
resource "aws_s3_bucket_website_configuration" "data" {
  bucket = aws_s3_bucket.data.id
  index_document {
    suffix = "index.html"
  }
  error_document {
    key = "error.html"
  }
  routing_rule {
    condition {
      key_prefix_equals = "old/"
    }
    redirect {
      replace_key_prefix_with = "new/"
    }
  }
}
resource "aws_s3_bucket_lifecycle_configuration" "data" {
  bucket = aws_s3_bucket.data.id
  rule {
    id     = "scratch"
    status = "Enabled"
    filter {
      prefix = "scratch/"
    }
    expiration {
      days = 7
    }
  }
  rule {
    id     = "uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 2
    }
  }
}
resource "aws_s3_object" "moved" {
  bucket           = aws_s3_bucket.data.id
  key              = "moved.html"
  content          = ""
  website_redirect = "/new/home.html"
}
resource "aws_s3_object" "classified" {
  # After the bucket's default (SSE-KMS under a bucket key), which a DSSE-KMS request sets
  # aside: written before it, as Terraform's ordering once had it, this hid a 500.
  depends_on             = [aws_s3_bucket_server_side_encryption_configuration.data]
  bucket                 = aws_s3_bucket.data.id
  key                    = "classified.txt"
  content                = "two layers"
  server_side_encryption = "aws:kms:dsse"
  kms_key_id             = aws_kms_key.data.arn
}
resource "aws_s3_bucket" "versioned" {
  bucket        = "%(bucket)s-versions"
  force_destroy = true # destroy removes every version and delete marker (decision 0097)
}
resource "aws_s3_bucket_versioning" "versioned" {
  bucket = aws_s3_bucket.versioned.id
  versioning_configuration {
    status = "Enabled"
  }
}
resource "aws_s3_object" "versioned" {
  # After the versioning resource, so the object is a version with an id, not the null one.
  depends_on = [aws_s3_bucket_versioning.versioned]
  bucket     = aws_s3_bucket.versioned.id
  key        = "state.json"
  content    = "serial 1"
}
output "versioned_object_version" { value = aws_s3_object.versioned.version_id }
resource "aws_s3_bucket" "replicas" {
  bucket        = "%(bucket)s-replicas"
  force_destroy = true
}
resource "aws_s3_bucket_versioning" "replicas" {
  bucket = aws_s3_bucket.replicas.id
  versioning_configuration {
    status = "Enabled"
  }
}
# Requester Pays (decision 0133): replicas are written by the platform, not by requests.
resource "aws_s3_bucket_request_payment_configuration" "replicas" {
  bucket = aws_s3_bucket.replicas.id
  payer  = "Requester"
}
# Same-region replication (decision 0112): versions under a KMS key too, their replicas under
# the data key (increment 3).
resource "aws_s3_bucket_replication_configuration" "versioned" {
  depends_on = [aws_s3_bucket_versioning.versioned, aws_s3_bucket_versioning.replicas]
  role       = "arn:aws:iam::000000000000:role/replication"
  bucket     = aws_s3_bucket.versioned.id
  rule {
    id       = "everything"
    priority = 1
    status   = "Enabled"
    filter {
      prefix = ""
    }
    delete_marker_replication {
      status = "Enabled"
    }
    source_selection_criteria {
      sse_kms_encrypted_objects {
        status = "Enabled"
      }
    }
    destination {
      bucket        = aws_s3_bucket.replicas.arn
      storage_class = "STANDARD"
      encryption_configuration {
        replica_kms_key_id = aws_kms_key.data.arn
      }
    }
  }
}
output "data_key_arn" { value = aws_kms_key.data.arn }
data "aws_kms_public_key" "signing" {
  key_id = aws_kms_key.signing.arn
}
data "aws_kms_secrets" "opened" {
  secret {
    name    = "launch"
    payload = aws_kms_ciphertext.secret.ciphertext_blob
    context = { app = "terraform" }
  }
}
data "aws_kms_alias" "data" {
  name = aws_kms_alias.data.name
}
data "aws_kms_public_key" "agreement" {
  key_id = aws_kms_key.agreement.arn
}
output "agreement_key_id" { value = aws_kms_key.agreement.key_id }
output "agreement_public_key" { value = data.aws_kms_public_key.agreement.public_key }
output "byok_arn" { value = aws_kms_external_key.byok.arn }
output "signing_public_key_pem" { value = data.aws_kms_public_key.signing.public_key_pem }
output "signing_key_id" { value = aws_kms_key.signing.key_id }
output "opened" {
  value     = data.aws_kms_secrets.opened.plaintext["launch"]
  sensitive = true
}
output "alias_target" { value = data.aws_kms_alias.data.target_key_arn }
output "data_key_id" { value = aws_kms_key.data.key_id }
output "ciphertext" { value = aws_kms_ciphertext.secret.ciphertext_blob }
# SQS FIFO queues (decision 0164): content-based deduplication, high-throughput mode, and a
# FIFO dead-letter queue.
resource "aws_sqs_queue" "orders_dlq" {
  name       = "%(bucket)s-dlq.fifo"
  fifo_queue = true
}
resource "aws_sqs_queue" "orders" {
  name                        = "%(bucket)s-orders.fifo"
  fifo_queue                  = true
  content_based_deduplication = true
  deduplication_scope         = "messageGroup"
  fifo_throughput_limit       = "perMessageGroupId"
  visibility_timeout_seconds  = 45
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.orders_dlq.arn
    maxReceiveCount     = 3
  })
  tags = { team = "orders" }
}
output "orders_url" { value = aws_sqs_queue.orders.url }
output "orders_dlq_arn" { value = aws_sqs_queue.orders_dlq.arn }
"""
)


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


@pytest.fixture(scope="module")
def attached_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AttachedProvider]:
    """The mirror's ``hashicorp/aws`` provider, running for the module's tests. Its own output
    (a panic, say) is in its log, which a failed command's report ends with."""
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


@pytest.fixture
def terraform(tmp_path: Path, attached_provider: AttachedProvider) -> Terraform:
    binary = client_binary("terraform", in_venv=False)
    return Terraform(binary, tmp_path, attached_provider)


def test_terraform_applies_converges_and_destroys(
    server: ServerProcess, s3: S3Client, terraform: Terraform
) -> None:
    bucket = unique_bucket("tf")
    valid_to = (datetime.now(UTC) + timedelta(days=100)).replace(microsecond=0)
    (terraform.work / "main.tf").write_text(
        CONFIGURATION
        % {
            "region": REGION,
            "credentials": server.credentials_file,
            "endpoint": server.endpoint,
            "bucket": bucket,
            "material": MATERIAL,
            "valid_to": valid_to.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    )
    terraform("init", "-input=false")
    terraform("apply", "-auto-approve", "-input=false")
    outputs: dict[str, Any] = {
        name: value["value"]
        for name, value in json.loads(terraform("output", "-json").stdout).items()
    }

    # What Terraform made and read is what the APIs serve.
    kms = kms_client(server, *server.credentials())
    assert outputs["opened"] == "the launch codes"  # data.aws_kms_secrets: Decrypt
    public = kms.get_public_key(KeyId=outputs["signing_key_id"])["PublicKey"]
    pem = serialization.load_pem_public_key(outputs["signing_public_key_pem"].encode())
    assert (
        pem.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == public
    )
    assert outputs["alias_target"].endswith(outputs["data_key_id"])
    agreement = kms.describe_key(KeyId=outputs["agreement_key_id"])["KeyMetadata"]
    assert (agreement["KeyUsage"], agreement["KeyAgreementAlgorithms"]) == (
        "KEY_AGREEMENT",
        ["ECDH"],
    )
    agreement_public = kms.get_public_key(KeyId=outputs["agreement_key_id"])["PublicKey"]
    assert base64.b64decode(outputs["agreement_public_key"]) == agreement_public
    blob = base64.b64decode(outputs["ciphertext"])
    opened = kms.decrypt(CiphertextBlob=blob, EncryptionContext={"app": "terraform"})
    assert opened["Plaintext"] == b"the launch codes"
    assert opened["KeyId"] == outputs["byok_arn"]
    report = s3.get_object(Bucket=bucket, Key="report.txt")
    assert report["Body"].read() == b"quarterly figures"
    assert report["SSEKMSKeyId"] == outputs["byok_arn"]
    assert report["TagCount"] == 2
    cors_rules = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    # A set in the provider: its rules come in no order of the configuration's.
    assert sorted(rule["AllowedOrigins"][0] for rule in cors_rules) == [
        "*",
        "https://app.example.org",
    ]
    website = s3.get_bucket_website(Bucket=bucket)
    assert (website["IndexDocument"], website["ErrorDocument"]) == (
        {"Suffix": "index.html"},
        {"Key": "error.html"},
    )
    assert website["RoutingRules"] == [
        {
            "Condition": {"KeyPrefixEquals": "old/"},
            "Redirect": {"ReplaceKeyPrefixWith": "new/"},
        }
    ]
    lifecycle = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert sorted((rule["ID"], rule["Status"]) for rule in lifecycle) == [
        ("scratch", "Enabled"),
        ("uploads", "Enabled"),
    ]
    moved = s3.head_object(Bucket=bucket, Key="moved.html")
    assert moved["WebsiteRedirectLocation"] == "/new/home.html"
    classified = s3.get_object(Bucket=bucket, Key="classified.txt")
    assert classified["Body"].read() == b"two layers"
    assert classified["ServerSideEncryption"] == "aws:kms:dsse"
    report_tags = s3.get_object_tagging(Bucket=bucket, Key="report.txt")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in report_tags) == [
        ("classification", "internal"),
        ("owner", "finance"),
    ]
    tag_set = s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tag_set) == [
        ("cost-centre", "4711"),
        ("team", "storage"),
    ]
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == f"alias/{bucket}"
    byok = kms.describe_key(KeyId=outputs["byok_arn"])["KeyMetadata"]
    assert (byok["ExpirationModel"], byok["ValidTo"]) == ("KEY_MATERIAL_EXPIRES", valid_to)
    grants = kms.list_grants(KeyId=outputs["data_key_id"])["Grants"]
    assert [g["Constraints"] for g in grants] == [
        {"EncryptionContextSubset": {"department": "finance"}}
    ]

    # aws_s3_bucket_versioning (decision 0097): Enabled, and the object written after it is
    # a version with its own id, the one the provider recorded.
    versioned = f"{bucket}-versions"
    assert s3.get_bucket_versioning(Bucket=versioned)["Status"] == "Enabled"
    state = s3.head_object(Bucket=versioned, Key="state.json")
    assert state["VersionId"] == outputs["versioned_object_version"] != "null"

    # aws_s3_bucket_replication_configuration: an SSE-KMS version is copied under the key the
    # rule names.
    replicas = f"{bucket}-replicas"
    rule = s3.get_bucket_replication(Bucket=versioned)["ReplicationConfiguration"]["Rules"][0]
    assert rule["Destination"]["EncryptionConfiguration"] == {
        "ReplicaKmsKeyID": outputs["data_key_arn"]
    }
    version = s3.put_object(
        Bucket=versioned, Key="secret", Body=b"under kms", ServerSideEncryption="aws:kms"
    )["VersionId"]
    deadline = time.monotonic() + 30
    while s3.head_object(Bucket=versioned, Key="secret").get("ReplicationStatus") != "COMPLETED":
        assert time.monotonic() < deadline, "the SSE-KMS version was not replicated"
        time.sleep(0.2)
    replica = s3.head_object(Bucket=replicas, Key="secret", VersionId=version)
    assert (replica["ReplicationStatus"], replica["SSEKMSKeyId"]) == (
        "REPLICA",
        outputs["data_key_arn"],
    )
    # aws_s3_bucket_request_payment_configuration: the owner pays for none of it now, and
    # needs no header itself (above).
    assert s3.get_bucket_request_payment(Bucket=replicas)["Payer"] == "Requester"

    # aws_s3_account_public_access_block: the account's, as S3 Control reads it back.
    control = s3control_client(server, *server.credentials())
    sts = client_for(server, "sts", *server.credentials())
    account = sts.get_caller_identity()["Account"]
    assert control.get_public_access_block(AccountId=account)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": False,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }

    # aws_s3_access_point and its policy, read back with boto3; its alias serves the bucket.
    point = control.get_access_point(AccountId=account, Name="tf-app")
    assert point["Bucket"] == bucket
    point_policy = control.get_access_point_policy(AccountId=account, Name="tf-app")["Policy"]
    assert json.loads(point_policy)["Statement"][0]["Action"] == "s3:GetObject"
    assert s3.head_bucket(Bucket=point["Alias"])["ResponseMetadata"]["HTTPStatusCode"] == 200

    # aws_sqs_queue with fifo_queue (decision 0164): the FIFO attributes as configured, and
    # a send that takes its deduplication from the body.
    sqs = client_for(server, "sqs", *server.credentials())
    orders = outputs["orders_url"]
    shown = sqs.get_queue_attributes(QueueUrl=orders, AttributeNames=["All"])["Attributes"]
    assert {name: shown[name] for name in ("FifoQueue", "ContentBasedDeduplication")} == {
        "FifoQueue": "true",
        "ContentBasedDeduplication": "true",
    }
    assert (shown["DeduplicationScope"], shown["FifoThroughputLimit"]) == (
        "messageGroup",
        "perMessageGroupId",
    )
    assert json.loads(shown["RedrivePolicy"])["deadLetterTargetArn"] == outputs["orders_dlq_arn"]
    assert sqs.send_message(QueueUrl=orders, MessageBody="order 1", MessageGroupId="customer-1")[
        "SequenceNumber"
    ]

    # Converged: a second plan finds nothing to change (-detailed-exitcode: 0 none, 2 some).
    plan = terraform("plan", "-detailed-exitcode", "-input=false", check=False)
    assert plan.returncode == 0, plan.stdout[-6000:] + plan.stderr[-3000:]

    # History Terraform does not manage: noncurrent versions and a delete marker, which
    # force_destroy must remove (ListObjectVersions, DeleteObjects with VersionId) before
    # DeleteBucket can succeed.
    for body in (b"one", b"two"):
        s3.put_object(Bucket=versioned, Key="outside", Body=body)
    s3.delete_object(Bucket=versioned, Key="outside")
    listed = s3.list_object_versions(Bucket=versioned)
    # state.json, secret and the two of outside.
    assert (len(listed["Versions"]), len(listed["DeleteMarkers"])) == (4, 1)

    terraform(*DESTROY_AFTER_PLAN)
    with pytest.raises(ClientError) as unblocked:
        control.get_public_access_block(AccountId=account)
    assert unblocked.value.response["Error"]["Code"] == "NoSuchPublicAccessBlockConfiguration"
    assert control.list_access_points(AccountId=account)["AccessPointList"] == []
    for gone in (bucket, versioned, replicas):
        with pytest.raises(ClientError) as missing:
            s3.head_bucket(Bucket=gone)
        assert missing.value.response["Error"]["Code"] == "404"
    for key_arn in (outputs["byok_arn"], outputs["data_key_id"]):
        state = kms.describe_key(KeyId=key_arn)["KeyMetadata"]["KeyState"]
        assert state == "PendingDeletion"
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix=bucket)


BACKEND = """
terraform {
  backend "s3" {
    bucket                      = "%(bucket)s"
    key                         = "team/network.tfstate"
    region                      = "%(region)s"
    shared_credentials_files    = ["%(credentials)s"]
    profile                     = "andromede"
    endpoints                   = { s3 = "%(endpoint)s" }
    use_path_style              = true
    use_lockfile                = true
    encrypt                     = true
    skip_credentials_validation = true
    skip_requesting_account_id  = true
    skip_metadata_api_check     = true
    skip_region_validation      = true
  }
}
resource "terraform_data" "marker" {
  input = "%(marker)s"
}
"""


def test_the_s3_backend_locks_state_with_conditional_writes(
    server: ServerProcess, s3: S3Client, terraform: Terraform
) -> None:
    """Terraform's S3 backend with ``use_lockfile`` (1.10+, no DynamoDB table): the lock is a
    ``.tflock`` object written with ``If-None-Match: *``, so a run finding it held must stop,
    and must not have overwritten the holder's lock (decision 0061)."""
    bucket = unique_bucket("tfstate")
    s3.create_bucket(Bucket=bucket)
    main = terraform.work / "main.tf"
    values = {
        "region": REGION,
        "credentials": server.credentials_file,
        "endpoint": server.endpoint,
        "bucket": bucket,
    }

    def stored_marker() -> object:
        body = s3.get_object(Bucket=bucket, Key="team/network.tfstate")["Body"].read()
        return json.loads(body)["resources"][0]["instances"][0]["attributes"]["input"]["value"]

    main.write_text(BACKEND % {**values, "marker": "v1"})
    terraform("init", "-input=false")
    terraform("apply", "-auto-approve", "-input=false")
    assert stored_marker() == "v1"
    lock_key = "team/network.tfstate.tflock"
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix=lock_key)  # released

    # Another run holds the lock: this one must stop, leaving both the lock and the state.
    holder = json.dumps({"ID": "another-run", "Operation": "OperationTypeApply", "Who": "ci@x"})
    s3.put_object(Bucket=bucket, Key=lock_key, Body=holder.encode(), IfNoneMatch="*")
    main.write_text(BACKEND % {**values, "marker": "v2"})
    blocked = terraform("apply", "-auto-approve", "-input=false", "-lock-timeout=0s", check=False)
    assert blocked.returncode != 0
    assert "Error acquiring the state lock" in blocked.stderr, blocked.stderr[-3000:]
    assert s3.get_object(Bucket=bucket, Key=lock_key)["Body"].read().decode() == holder
    assert stored_marker() == "v1"

    # Released by its holder, the lock is taken and the change lands.
    s3.delete_object(Bucket=bucket, Key=lock_key)
    terraform("apply", "-auto-approve", "-input=false", "-lock-timeout=0s")
    assert stored_marker() == "v2"
    terraform("destroy", "-auto-approve", "-input=false")
    for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=item["Key"])
    s3.delete_bucket(Bucket=bucket)


# Every resource also gets the provider's default tags (ownership, as most organisations set).
DEFAULT_TAGS = {"owner": "platform"}

# ``permissions_boundary`` on ``aws_iam_role`` and ``aws_iam_user`` (decision 0065), and
# ``tags`` on them, on ``aws_iam_policy`` and on ``aws_iam_instance_profile`` (decisions 0067,
# 0074), and an ``aws_iam_openid_connect_provider`` (decision 0087), in the volumes'
# configuration: one apply, plan and destroy fewer (each costs the provider some 5 s of CPU).
BOUNDARIES = """
data "aws_caller_identity" "me" {}
resource "aws_iam_policy" "boundary" {
  name   = "%(prefix)s-boundary"
  tags   = { team = "platform", purpose = "boundary" }
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["s3:GetObject"], Resource = "*" }]
  })
}
resource "aws_iam_role" "ci" {
  name                 = "%(prefix)s-ci"
  permissions_boundary = aws_iam_policy.boundary.arn
  tags                 = { team = "platform", env = "prod" }
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.me.account_id}:root" }
      Action    = "sts:AssumeRole"
    }]
  })
}
resource "aws_iam_user" "dev" {
  name                 = "%(prefix)s-dev"
  permissions_boundary = aws_iam_policy.boundary.arn
  tags                 = { team = "platform" }
}
resource "aws_iam_instance_profile" "ci" {
  name = "%(prefix)s-ci"
  role = aws_iam_role.ci.name
  tags = { team = "platform" }
}
resource "aws_iam_openid_connect_provider" "ci" {
  url            = "https://%(prefix)s.idp.example/realms/ops"
  client_id_list = ["sts.amazonaws.com"]
  tags           = { team = "platform" }
}
"""

VOLUMES = (
    aws_provider("ec2", "kms", "iam", "sts", default_tags=DEFAULT_TAGS)
    + BOUNDARIES
    + """
resource "aws_kms_key" "disks" {
  description             = "volumes of the data team"
  deletion_window_in_days = 7
}
resource "aws_ebs_volume" "data" {
  availability_zone = "%(region)sa"
  size              = %(data_size)s
  type              = "gp3"
  encrypted         = true
  kms_key_id        = aws_kms_key.disks.arn
  tags              = { Name = "data" }
}
resource "aws_instance" "db" {
  ami           = "%(image)s"
  instance_type = "t3.nano"
  root_block_device {
    volume_size           = %(root_size)s
    delete_on_termination = %(keep_root)s
    encrypted             = true
  }
  ebs_block_device {
    device_name = "/dev/sdb"
    volume_size = 2
    volume_type = "gp3"
    kms_key_id  = aws_kms_key.disks.arn
    encrypted   = true
  }
  disable_api_termination              = %(protected)s
  disable_api_stop                     = false
  instance_initiated_shutdown_behavior = "%(shutdown)s"
  metadata_options {
    http_tokens                 = "required"
    http_put_response_hop_limit = 2
    instance_metadata_tags      = "%(imds_tags)s"
  }
  tags = { Name = "db" }
}
resource "aws_ami_from_instance" "db" {
  name               = "db-image"
  description        = "the database server"
  source_instance_id = aws_instance.db.id
}
output "volume_id" { value = aws_ebs_volume.data.id }
output "key_arn" { value = aws_kms_key.disks.arn }
output "instance_id" { value = aws_instance.db.id }
output "ami_id" { value = aws_ami_from_instance.db.id }
"""
)


PUBLIC_DNS_DOMAIN = "cloud.example.test"


@pytest.fixture(scope="module")
def ec2_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
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


def test_terraform_makes_volumes_and_an_instance_under_a_kms_key(
    ec2_server: ServerProcess, terraform: Terraform, tmp_path: Path
) -> None:
    """``aws_ebs_volume`` with ``kms_key_id`` (decision 0062), and ``aws_instance`` with a
    ``root_block_device`` kept after termination and an ``ebs_block_device`` under the key
    (decision 0070), imaged by ``aws_ami_from_instance`` (decision 0147): applies, converges,
    changes ``delete_on_termination`` in place (ModifyInstanceAttribute) and grows both
    volumes in place (ModifyVolume, decision 0088), destroys. The instance is launched under
    termination protection, with the ``terminate`` shutdown behaviour and metadata options
    (decision 0145), all three changed in place by the second apply, which lifts the
    protection so that destroy works. The IAM resources of ``BOUNDARIES`` ride along:
    boundaries and tags as set, unchanged by the second apply, gone after destroy."""
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"\0" * 1024 * 1024)
    image_id = import_image(ec2_server, disk, "tf")
    values = {
        "region": REGION,
        "credentials": ec2_server.credentials_file,
        "endpoint": ec2_server.endpoint,
        "image": image_id,
        "keep_root": "false",
        "data_size": 2,
        "root_size": 3,
        "protected": "true",
        "shutdown": "terminate",
        "imds_tags": "enabled",
        "prefix": unique_bucket("tf"),
    }
    (terraform.work / "main.tf").write_text(VOLUMES % values)
    terraform("init", "-input=false")
    terraform("apply", "-auto-approve", "-input=false")
    outputs = {
        name: value["value"]
        for name, value in json.loads(terraform("output", "-json").stdout).items()
    }
    ec2 = client_for(ec2_server, "ec2", *ec2_server.credentials())
    [volume] = ec2.describe_volumes(VolumeIds=[outputs["volume_id"]])["Volumes"]
    assert (volume["Size"], volume["KmsKeyId"]) == (2, outputs["key_arn"])

    def mappings() -> dict[str, tuple[bool, int, str | None]]:
        [reservation] = ec2.describe_instances(InstanceIds=[outputs["instance_id"]])["Reservations"]
        found = {}
        for mapping in reservation["Instances"][0]["BlockDeviceMappings"]:
            [attached] = ec2.describe_volumes(VolumeIds=[mapping["Ebs"]["VolumeId"]])["Volumes"]
            found[mapping["DeviceName"]] = (
                mapping["Ebs"]["DeleteOnTermination"],
                attached["Size"],
                attached.get("KmsKeyId"),
            )
        return found

    assert mappings() == {
        "/dev/xvda": (False, 3, None),
        "/dev/sdb": (True, 2, outputs["key_arn"]),
    }
    # aws_ami_from_instance (decision 0147): CreateImage without NoReboot, the instance
    # stopped, snapshotted and started again; a snapshot per volume, the KMS key kept.
    [image] = ec2.describe_images(ImageIds=[outputs["ami_id"]])["Images"]
    assert (image["Name"], image["State"]) == ("db-image", "available")
    assert {t["Key"]: t["Value"] for t in image["Tags"]} == DEFAULT_TAGS
    image_snapshots = {
        m["DeviceName"]: m["Ebs"]["SnapshotId"] for m in image["BlockDeviceMappings"]
    }
    [data_snapshot] = ec2.describe_snapshots(SnapshotIds=[image_snapshots["/dev/sdb"]])["Snapshots"]
    assert data_snapshot["KmsKeyId"] == outputs["key_arn"]
    # The provider's default tags on the instance, the volume and the key.
    [reservation] = ec2.describe_instances(InstanceIds=[outputs["instance_id"]])["Reservations"]
    instance_tags = {t["Key"]: t["Value"] for t in reservation["Instances"][0]["Tags"]}
    assert instance_tags == {"Name": "db", **DEFAULT_TAGS}
    assert {t["Key"]: t["Value"] for t in volume["Tags"]} == {"Name": "data", **DEFAULT_TAGS}
    options = reservation["Instances"][0]["MetadataOptions"]
    assert options["HttpTokens"] == "required"
    assert (options["HttpPutResponseHopLimit"], options["InstanceMetadataTags"]) == (2, "enabled")

    def attribute(name: str) -> object:
        key = name[0].upper() + name[1:]
        answer = ec2.describe_instance_attribute(InstanceId=outputs["instance_id"], Attribute=name)
        return answer[key]["Value"]

    assert attribute("disableApiTermination") is True
    assert attribute("instanceInitiatedShutdownBehavior") == "terminate"
    with pytest.raises(ClientError) as refused:
        ec2.terminate_instances(InstanceIds=[outputs["instance_id"]])
    assert refused.value.response["Error"]["Code"] == "OperationNotPermitted"
    kms = kms_client(ec2_server, *ec2_server.credentials())
    key_tags = kms.list_resource_tags(KeyId=outputs["key_arn"])["Tags"]
    assert {t["TagKey"]: t["TagValue"] for t in key_tags} == DEFAULT_TAGS
    prefix = values["prefix"]
    iam = client_for(ec2_server, "iam", *ec2_server.credentials())
    role = iam.get_role(RoleName=f"{prefix}-ci")["Role"]
    user = iam.get_user(UserName=f"{prefix}-dev")["User"]
    boundary = role["PermissionsBoundary"]["PermissionsBoundaryArn"]
    assert boundary.endswith(f":policy/{prefix}-boundary")
    assert user["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
    assert sorted((t["Key"], t["Value"]) for t in role["Tags"]) == [
        ("env", "prod"),
        ("owner", "platform"),  # the provider's default tags, on every resource
        ("team", "platform"),
    ]
    assert sorted((t["Key"], t["Value"]) for t in user["Tags"]) == [
        ("owner", "platform"),
        ("team", "platform"),
    ]
    # Tags on the policy and the instance profile (decision 0074).
    policy_tags = iam.list_policy_tags(PolicyArn=boundary)["Tags"]
    assert sorted((t["Key"], t["Value"]) for t in policy_tags) == [
        ("owner", "platform"),
        ("purpose", "boundary"),
        ("team", "platform"),
    ]
    profile = iam.get_instance_profile(InstanceProfileName=f"{prefix}-ci")["InstanceProfile"]
    assert sorted((t["Key"], t["Value"]) for t in profile["Tags"]) == [
        ("owner", "platform"),
        ("team", "platform"),
    ]
    assert [r["RoleName"] for r in profile["Roles"]] == [f"{prefix}-ci"]
    # An OpenID Connect provider, without thumbprints (decision 0087).
    account = role["Arn"].split(":")[4]
    oidc_arn = f"arn:aws:iam::{account}:oidc-provider/{prefix}.idp.example/realms/ops"
    oidc = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=oidc_arn)
    assert oidc["ClientIDList"] == ["sts.amazonaws.com"]
    assert ("team", "platform") in [(t["Key"], t["Value"]) for t in oidc["Tags"]]
    plan = terraform("plan", "-detailed-exitcode", "-input=false", check=False)
    assert plan.returncode == 0, plan.stdout[-6000:] + plan.stderr[-3000:]
    # aws_instance.public_dns (decision 0151): the default VPC has DNS hostnames, so the
    # instance's public address has EC2's name under the operator's domain; refreshed after
    # the image's stop and start gave it a new address, the state holds DescribeInstances'.
    terraform("apply", "-refresh-only", "-auto-approve", "-input=false")
    shown = json.loads(terraform("show", "-json").stdout)["values"]["root_module"]["resources"]
    [db] = [r["values"] for r in shown if r["address"] == "aws_instance.db"]
    [reservation] = ec2.describe_instances(InstanceIds=[outputs["instance_id"]])["Reservations"]
    described = reservation["Instances"][0]
    public_ip = described["PublicIpAddress"]
    expected = f"ec2-{public_ip.replace('.', '-')}.{REGION}.compute.{PUBLIC_DNS_DOMAIN}"
    assert (db["public_ip"], db["public_dns"]) == (public_ip, expected)
    assert described["PublicDnsName"] == expected
    # The second apply also grows the volume and the root volume in place: ModifyVolume, then
    # the provider waits on DescribeVolumesModifications (decision 0088).
    grown = {**values, "keep_root": "true", "data_size": 3, "root_size": 4,
             "protected": "false", "shutdown": "stop", "imds_tags": "disabled"}  # fmt: skip
    (terraform.work / "main.tf").write_text(VOLUMES % grown)
    terraform("apply", "-auto-approve", "-input=false")
    assert mappings()["/dev/xvda"][:2] == (True, 4)
    assert attribute("disableApiTermination") is False
    assert attribute("instanceInitiatedShutdownBehavior") == "stop"
    [reservation] = ec2.describe_instances(InstanceIds=[outputs["instance_id"]])["Reservations"]
    assert reservation["Instances"][0]["MetadataOptions"]["InstanceMetadataTags"] == "disabled"
    [volume] = ec2.describe_volumes(VolumeIds=[outputs["volume_id"]])["Volumes"]
    assert volume["Size"] == 3
    modified = ec2.describe_volumes_modifications()["VolumesModifications"]
    assert {m["ModificationState"] for m in modified} == {"completed"} and len(modified) == 2
    plan = terraform("plan", "-detailed-exitcode", "-input=false", check=False)
    assert plan.returncode == 0, plan.stdout[-6000:] + plan.stderr[-3000:]
    terraform(*DESTROY_AFTER_PLAN)
    assert ec2.describe_volumes()["Volumes"] == []
    # The provider deregistered the image and deleted the snapshots it made.
    assert ec2.describe_images(Owners=["self"])["Images"] == []
    assert ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"] == []
    names = [u["UserName"] for u in iam.list_users()["Users"]]
    assert f"{prefix}-dev" not in names
    listed = iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    assert oidc_arn not in [p["Arn"] for p in listed]


# Two VPCs of the account peered with ``auto_accept`` and routed both ways (decision 0139),
# in the launch-template lab's configuration: one apply, plan and destroy fewer (each costs the
# provider some 5 s of CPU validating its 1,500 resource schemas).
PEERING = """
resource "aws_vpc" "left" {
  cidr_block           = "10.51.0.0/16"
  enable_dns_hostnames = true
}
resource "aws_vpc" "right" {
  cidr_block           = "10.52.0.0/16"
  enable_dns_hostnames = true
}
resource "aws_vpc_peering_connection" "pair" {
  vpc_id      = aws_vpc.left.id
  peer_vpc_id = aws_vpc.right.id
  auto_accept = true
  tags        = { Name = "pair" }
}
resource "aws_route" "left_to_right" {
  route_table_id            = aws_vpc.left.main_route_table_id
  destination_cidr_block    = aws_vpc.right.cidr_block
  vpc_peering_connection_id = aws_vpc_peering_connection.pair.id
}
resource "aws_route" "right_to_left" {
  route_table_id            = aws_vpc.right.main_route_table_id
  destination_cidr_block    = aws_vpc.left.cidr_block
  vpc_peering_connection_id = aws_vpc_peering_connection.pair.id
}
resource "aws_vpc_peering_connection_options" "pair" {
  vpc_peering_connection_id = aws_vpc_peering_connection.pair.id
  accepter {
    allow_remote_vpc_dns_resolution = true
  }
  requester {
    allow_remote_vpc_dns_resolution = false
  }
}
output "peering_id" { value = aws_vpc_peering_connection.pair.id }
output "accept_status" { value = aws_vpc_peering_connection.pair.accept_status }
output "left_table_id" { value = aws_vpc.left.main_route_table_id }
"""


LAUNCH_TEMPLATE = (
    aws_provider("autoscaling", "ec2", "s3", default_tags=DEFAULT_TAGS)
    + """
# An Auto Scaling group of one instance in the data subnet, from a template it can launch
# (decisions 0156, 0159), with a scheduled action and a lifecycle hook.
resource "aws_launch_template" "pool" {
  name_prefix   = "pool-"
  image_id      = "%(image)s"
  instance_type = "t3.nano"
}
resource "aws_autoscaling_group" "pool" {
  name                = "%(name)s-pool"
  min_size            = 0
  max_size            = 2
  desired_capacity    = 1
  vpc_zone_identifier = [aws_subnet.data.id]
  launch_template {
    id      = aws_launch_template.pool.id
    version = "$Latest"
  }
  tag {
    key                 = "role"
    value               = "pool"
    propagate_at_launch = true
  }
}
resource "aws_autoscaling_schedule" "evenings" {
  scheduled_action_name  = "evenings"
  autoscaling_group_name = aws_autoscaling_group.pool.name
  recurrence             = "0 19 * * mon-fri"
  time_zone              = "Europe/Paris"
  min_size               = 0
  max_size               = 2
  desired_capacity       = 0
}
resource "aws_autoscaling_lifecycle_hook" "drain" {
  name                   = "drain"
  autoscaling_group_name = aws_autoscaling_group.pool.name
  lifecycle_transition   = "autoscaling:EC2_INSTANCE_TERMINATING"
  heartbeat_timeout      = 60
  default_result         = "CONTINUE"
}
# The VPC's flow log and its bucket (decision 0153).
resource "aws_s3_bucket" "flows" {
  bucket        = "%(name)s-flows"
  force_destroy = true
}
resource "aws_flow_log" "lab" {
  vpc_id                   = aws_vpc.lab.id
  traffic_type             = "REJECT"
  log_destination_type     = "s3"
  log_destination          = "${aws_s3_bucket.flows.arn}/lab"
  max_aggregation_interval = 60
  destination_options {
    file_format        = "parquet"
    per_hour_partition = true
  }
  tags = { Name = "lab" }
}
# A gateway endpoint to the object store, routed in the private table (decision 0160).
resource "aws_vpc_endpoint" "store" {
  vpc_id       = aws_vpc.lab.id
  service_name = "com.amazonaws.%(region)s.s3"
  tags         = { Name = "store" }
}
resource "aws_vpc_endpoint_route_table_association" "store" {
  vpc_endpoint_id = aws_vpc_endpoint.store.id
  route_table_id  = aws_route_table.private.id
}
# An Interface endpoint to it in the data subnet, under the web group (decision 0166).
resource "aws_vpc_endpoint" "store_interface" {
  vpc_id              = aws_vpc.lab.id
  service_name        = "com.amazonaws.%(region)s.s3"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = [aws_subnet.data.id]
  security_group_ids  = [aws_security_group.web.id]
  private_dns_enabled = true
  tags                = { Name = "store-interface" }
}
resource "aws_launch_template" "web" {
  name                   = "%(name)s"
  description            = "web servers"
  image_id               = "%(image)s"
  instance_type          = "t3.nano"
  update_default_version = true
  metadata_options {
    http_tokens   = "required"
    http_endpoint = "enabled"
  }
  block_device_mappings {
    device_name = "/dev/sdb"
    ebs {
      volume_size           = 2
      volume_type           = "gp3"
      delete_on_termination = true
    }
  }
  tags = { Name = "web" }
}
resource "aws_vpc" "lab" {
  cidr_block = "10.42.0.0/16"
  tags       = { Name = "lab" }
}
resource "aws_vpc_dhcp_options" "lab" {
  domain_name         = "lab.example"
  domain_name_servers = ["192.0.2.53", "AmazonProvidedDNS"]
  ntp_servers         = ["192.0.2.123"]
  netbios_node_type   = "2"
  tags                = { Name = "lab" }
}
resource "aws_vpc_dhcp_options_association" "lab" {
  vpc_id          = aws_vpc.lab.id
  dhcp_options_id = aws_vpc_dhcp_options.lab.id
}
resource "aws_subnet" "web" {
  vpc_id     = aws_vpc.lab.id
  cidr_block = "10.42.1.0/24"
  tags       = { Name = "web" }
}
resource "aws_internet_gateway" "lab" {
  vpc_id = aws_vpc.lab.id
  tags   = { Name = "lab" }
}
resource "aws_route_table" "public" {
  vpc_id = aws_vpc.lab.id
  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.lab.id
  }
  tags = { Name = "public" }
}
resource "aws_route_table_association" "web" {
  subnet_id      = aws_subnet.web.id
  route_table_id = aws_route_table.public.id
}
resource "aws_route" "partner" {
  route_table_id         = aws_vpc.lab.main_route_table_id
  destination_cidr_block = "192.0.2.0/24"
  gateway_id             = aws_internet_gateway.lab.id
}
resource "aws_instance" "web" {
  instance_type = "t3.micro"
  subnet_id     = aws_subnet.web.id
  launch_template {
    id      = aws_launch_template.web.id
    version = "$Latest"
  }
  tags = { Name = "from-template" }
}
resource "aws_eip" "web" {
  domain = "vpc"
  tags   = { Name = "web" }
}
resource "aws_eip_association" "web" {
  allocation_id = aws_eip.web.id
  instance_id   = aws_instance.web.id
  depends_on    = [aws_internet_gateway.lab]
}
resource "aws_eip" "spare" {
  domain = "vpc"
}
resource "aws_subnet" "data" {
  vpc_id     = aws_vpc.lab.id
  cidr_block = "10.42.2.0/24"
  tags       = { Name = "data" }
}
# A NAT gateway in the public subnet, the private subnet's way out (decision 0129).
resource "aws_eip" "nat" {
  domain     = "vpc"
  depends_on = [aws_internet_gateway.lab]
}
resource "aws_nat_gateway" "lab" {
  allocation_id = aws_eip.nat.id
  subnet_id     = aws_subnet.web.id
  tags          = { Name = "lab" }
  depends_on    = [aws_internet_gateway.lab]
}
resource "aws_route_table" "private" {
  vpc_id = aws_vpc.lab.id
  tags   = { Name = "private" }
}
resource "aws_route" "private_out" {
  route_table_id         = aws_route_table.private.id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.lab.id
}
resource "aws_route_table_association" "data" {
  subnet_id      = aws_subnet.data.id
  route_table_id = aws_route_table.private.id
}
resource "aws_network_acl" "web" {
  vpc_id     = aws_vpc.lab.id
  subnet_ids = [aws_subnet.web.id]
  ingress {
    protocol   = "tcp"
    rule_no    = 100
    action     = "allow"
    cidr_block = "0.0.0.0/0"
    from_port  = 22
    to_port    = 22
  }
  ingress {
    protocol   = "icmp"
    rule_no    = 110
    action     = "allow"
    cidr_block = "10.0.0.0/8"
    from_port  = 0
    to_port    = 0
    icmp_type  = -1
    icmp_code  = -1
  }
  egress {
    protocol   = "-1"
    rule_no    = 100
    action     = "allow"
    cidr_block = "0.0.0.0/0"
    from_port  = 0
    to_port    = 0
  }
  tags = { Name = "web" }
}
# Rules and associations of their own go on an ACL without inline ones (the provider's
# documented rule: both on one ACL overwrite each other).
resource "aws_network_acl" "data" {
  vpc_id = aws_vpc.lab.id
  tags   = { Name = "data" }
}
resource "aws_network_acl_association" "data" {
  network_acl_id = aws_network_acl.data.id
  subnet_id      = aws_subnet.data.id
}
resource "aws_network_acl_rule" "https" {
  network_acl_id = aws_network_acl.data.id
  rule_number    = 120
  egress         = false
  protocol       = "tcp"
  rule_action    = "allow"
  cidr_block     = "10.0.0.0/8"
  from_port      = 443
  to_port        = 443
}
# A group with rules of their own, as provider v5 recommends (decision 0146): each rule an
# sgr- id, authorised, read by DescribeSecurityGroupRules and revoked by its id.
resource "aws_security_group" "web" {
  name        = "web"
  description = "web servers"
  vpc_id      = aws_vpc.lab.id
  tags        = { Name = "web" }
}
resource "aws_vpc_security_group_ingress_rule" "ssh" {
  security_group_id = aws_security_group.web.id
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
  cidr_ipv4         = "10.42.0.0/16"
  description       = "ssh from the lab"
  tags              = { Name = "ssh" }
}
resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.web.id
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}
# A managed prefix list with its entries (decision 0149), referenced by a rule of the group.
resource "aws_ec2_managed_prefix_list" "offices" {
  name           = "offices"
  address_family = "IPv4"
  max_entries    = 5
  entry {
    cidr        = "192.0.2.0/24"
    description = "paris"
  }
  entry {
    cidr = "198.51.100.0/24"
  }
  tags = { Name = "offices" }
}
resource "aws_vpc_security_group_ingress_rule" "offices" {
  security_group_id = aws_security_group.web.id
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = aws_ec2_managed_prefix_list.offices.id
}
# The private subnet reaches the offices through the NAT gateway: a route to the list
# (decision 0149's addendum).
resource "aws_route" "offices" {
  route_table_id             = aws_route_table.private.id
  destination_prefix_list_id = aws_ec2_managed_prefix_list.offices.id
  nat_gateway_id             = aws_nat_gateway.lab.id
}
resource "aws_default_network_acl" "lab" {
  default_network_acl_id = aws_vpc.lab.default_network_acl_id
  ingress {
    protocol   = -1
    rule_no    = 100
    action     = "allow"
    cidr_block = "10.42.0.0/16"
    from_port  = 0
    to_port    = 0
  }
  egress {
    protocol   = -1
    rule_no    = 100
    action     = "allow"
    cidr_block = "0.0.0.0/0"
    from_port  = 0
    to_port    = 0
  }
  # What terraform-aws-modules/vpc gives every default ACL: rule 101 for ::/0 each way.
  ingress {
    protocol        = -1
    rule_no         = 101
    action          = "allow"
    ipv6_cidr_block = "::/0"
    from_port       = 0
    to_port         = 0
  }
  egress {
    protocol        = -1
    rule_no         = 101
    action          = "allow"
    ipv6_cidr_block = "::/0"
    from_port       = 0
    to_port         = 0
  }
  tags = { Name = "lab-default" }
}
output "template_id" { value = aws_launch_template.web.id }
output "instance_id" { value = aws_instance.web.id }
output "pool" {
  value = {
    arn = aws_autoscaling_group.pool.arn
    template_id = aws_launch_template.pool.id
  }
}
# The VPC's attributes the test reads (not its dhcp_options_id: the association changes it
# after the VPC is read, which would show as a changed output on the next plan).
output "vpc" {
  value = {
    id                        = aws_vpc.lab.id
    main_route_table_id       = aws_vpc.lab.main_route_table_id
    default_network_acl_id    = aws_vpc.lab.default_network_acl_id
    default_security_group_id = aws_vpc.lab.default_security_group_id
    enable_dns_support        = aws_vpc.lab.enable_dns_support
    enable_dns_hostnames      = aws_vpc.lab.enable_dns_hostnames
  }
}
output "subnet_id" { value = aws_subnet.web.id }
output "gateway_id" { value = aws_internet_gateway.lab.id }
output "public_table_id" { value = aws_route_table.public.id }
output "association_id" { value = aws_route_table_association.web.id }
# The address's own attributes (its association's change once aws_eip_association is made,
# which would show as a changed output, not a changed resource, on the next plan).
output "eip" {
  value = {
    id                   = aws_eip.web.id
    domain               = aws_eip.web.domain
    public_ip            = aws_eip.web.public_ip
    public_ipv4_pool     = aws_eip.web.public_ipv4_pool
    network_border_group = aws_eip.web.network_border_group
  }
}
output "eip_association_id" { value = aws_eip_association.web.id }
output "nat" {
  value = {
    id         = aws_nat_gateway.lab.id
    public_ip  = aws_nat_gateway.lab.public_ip
    private_ip = aws_nat_gateway.lab.private_ip
    table_id   = aws_route_table.private.id
    eip_id     = aws_eip.nat.id
  }
}
output "acl_ids" {
  value = {
    web     = aws_network_acl.web.id
    data    = aws_network_acl.data.id
    default = aws_default_network_acl.lab.id
  }
}
output "rules" {
  value = {
    group = aws_security_group.web.id
    ssh         = aws_vpc_security_group_ingress_rule.ssh.id
    https       = aws_vpc_security_group_egress_rule.https.id
    offices     = aws_vpc_security_group_ingress_rule.offices.id
    prefix_list = aws_ec2_managed_prefix_list.offices.id
    version     = aws_ec2_managed_prefix_list.offices.version
  }
}
output "data_subnet_id" { value = aws_subnet.data.id }
# An interface of its own in the private subnet with a secondary address and its check off,
# attached to the instance beside its primary (decision 0161).
resource "aws_network_interface" "appliance" {
  subnet_id         = aws_subnet.data.id
  private_ips_count = 1
  description       = "appliance"
  source_dest_check = false
  tags              = { Name = "appliance" }
}
resource "aws_network_interface_attachment" "appliance" {
  instance_id          = aws_instance.web.id
  network_interface_id = aws_network_interface.appliance.id
  device_index         = 1
}
# The private subnet's route to a network behind the appliance (decision 0161's addendum).
resource "aws_route" "appliance" {
  route_table_id         = aws_route_table.private.id
  destination_cidr_block = "192.168.77.0/24"
  network_interface_id   = aws_network_interface.appliance.id
}
output "eni" {
  value = {
    id         = aws_network_interface.appliance.id
    attachment = aws_network_interface_attachment.appliance.attachment_id
    private_ip = aws_network_interface.appliance.private_ip
  }
}
output "flow_log_id" { value = aws_flow_log.lab.id }
output "endpoint" {
  value = {
    id             = aws_vpc_endpoint.store.id
    prefix_list_id = aws_vpc_endpoint.store.prefix_list_id
    state          = aws_vpc_endpoint.store.state
  }
}
output "interface_endpoint" {
  value = {
    id         = aws_vpc_endpoint.store_interface.id
    subnet_id  = aws_subnet.data.id
    group_id   = aws_security_group.web.id
    interfaces = aws_vpc_endpoint.store_interface.network_interface_ids
    dns_names  = [for e in aws_vpc_endpoint.store_interface.dns_entry : e.dns_name]
  }
}
output "data_association_id" { value = aws_network_acl_association.data.id }
output "dhcp" {
  value = {
    id          = aws_vpc_dhcp_options.lab.id
    owner_id    = aws_vpc_dhcp_options.lab.owner_id
    association = aws_vpc_dhcp_options_association.lab.id
  }
}
"""
    + PEERING
)


def test_terraform_launches_an_instance_from_a_launch_template(
    ec2_server: ServerProcess, terraform: Terraform, tmp_path: Path
) -> None:
    """``aws_launch_template`` and an ``aws_instance`` launched from it (decision 0092) into an
    ``aws_subnet`` of an ``aws_vpc`` (decision 0100) whose ``aws_internet_gateway`` a
    ``aws_route_table`` with an inline route and the main table's ``aws_route`` lead to, the
    subnet given the table by an ``aws_route_table_association`` (decision 0121), with an
    ``aws_eip`` associated by an ``aws_eip_association`` and another held free (decision
    0125), an ``aws_nat_gateway`` holding a third ``aws_eip`` to which a private table's
    ``aws_route`` leads (decision 0129), an ``aws_network_acl`` with inline rules over the
    subnet, another with an
    ``aws_network_acl_rule`` given a second subnet by an ``aws_network_acl_association``, and
    the VPC's default ACL adopted by
    ``aws_default_network_acl`` (decision 0128), an ``aws_vpc_dhcp_options`` set associated
    with the VPC by an ``aws_vpc_dhcp_options_association`` (decision 0143), an
    ``aws_security_group`` given rules by an ``aws_vpc_security_group_ingress_rule`` and an
    ``aws_vpc_security_group_egress_rule`` (decision 0146) and another ingress rule naming an
    ``aws_ec2_managed_prefix_list`` with two entries (decision 0149), which an ``aws_route``
    (``destination_prefix_list_id``, to the NAT gateway) names too, and two more
    ``aws_vpc`` peered by an ``aws_vpc_peering_connection`` with ``auto_accept`` and an
    ``aws_route`` on each side's main table to it (decision 0139; the connection deleted by
    destroy), its DNS options set by an ``aws_vpc_peering_connection_options`` (0139's
    addendum), an ``aws_flow_log`` of the lab's VPC into an ``aws_s3_bucket`` (decision
    0153), an ``aws_autoscaling_group`` of one instance over its own launch template with
    an ``aws_autoscaling_schedule`` and an ``aws_autoscaling_lifecycle_hook`` (decisions 0156,
    0159), an ``aws_vpc_endpoint`` to the object store routed in the private table by an
    ``aws_vpc_endpoint_route_table_association`` (decision 0160), an Interface
    ``aws_vpc_endpoint`` in the data subnet under the web group (decision 0166), and an
    ``aws_network_interface`` in the private subnet attached to the instance by an
    ``aws_network_interface_attachment`` (decision 0161): the
    template's data reaches the instance, the instance's own ``instance_type`` and tags win,
    the VPC's main route table, default ACL and group are found, and a second plan shows no
    change. The template has no
    user data and no instance tags:
    with them the provider (5.100) plans a change to the instance after every apply, the
    answers being EC2's (it hashes again the hash of the user data it read back, and takes
    the template's tags for tags the configuration dropped); the other e2e tests check
    both."""
    disk = tmp_path / "disk.raw"
    disk.write_bytes(b"\0" * 1024 * 1024)
    values = {
        "region": REGION,
        "credentials": ec2_server.credentials_file,
        "endpoint": ec2_server.endpoint,
        "image": import_image(ec2_server, disk, "tf-lt"),
        "name": f"tf-web-{os.urandom(4).hex()}",
    }
    (terraform.work / "main.tf").write_text(LAUNCH_TEMPLATE % values)
    terraform("init", "-input=false")
    terraform("apply", "-auto-approve", "-input=false")
    outputs = {
        name: value["value"]
        for name, value in json.loads(terraform("output", "-json").stdout).items()
    }
    ec2 = client_for(ec2_server, "ec2", *ec2_server.credentials())
    [reservation] = ec2.describe_instances(InstanceIds=[outputs["instance_id"]])["Reservations"]
    instance = reservation["Instances"][0]
    assert (instance["ImageId"], instance["InstanceType"]) == (values["image"], "t3.micro")
    assert {t["Key"]: t["Value"] for t in instance["Tags"]} == {
        "Name": "from-template",
        **DEFAULT_TAGS,
        "aws:ec2launchtemplate:id": outputs["template_id"],
        "aws:ec2launchtemplate:version": "1",
    }
    devices = {m["DeviceName"] for m in instance["BlockDeviceMappings"]}
    assert devices == {"/dev/xvda", "/dev/sdb"}
    [version] = ec2.describe_launch_template_versions(LaunchTemplateId=outputs["template_id"])[
        "LaunchTemplateVersions"
    ]
    assert version["LaunchTemplateData"]["MetadataOptions"]["HttpTokens"] == "required"
    # aws_vpc and aws_subnet (decision 0100): the instance is in that subnet, and the VPC's
    # main route table, default ACL and default group are the ones EC2 describes.
    vpc = outputs["vpc"]
    assert (instance["SubnetId"], instance["VpcId"]) == (outputs["subnet_id"], vpc["id"])
    # The subnet's two lowest addresses: the instance's and the NAT gateway's, whichever
    # Terraform made first (decision 0129), never the same.
    assert {instance["PrivateIpAddress"], outputs["nat"]["private_ip"]} == {
        "10.42.1.4",
        "10.42.1.5",
    }
    [table] = ec2.describe_route_tables(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc["id"]]},
            {"Name": "association.main", "Values": ["true"]},
        ]
    )["RouteTables"]
    [acl] = ec2.describe_network_acls(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc["id"]]},
            {"Name": "default", "Values": ["true"]},
        ]
    )["NetworkAcls"]
    [group] = ec2.describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc["id"]]},
            {"Name": "group-name", "Values": ["default"]},
        ]
    )["SecurityGroups"]
    assert (vpc["main_route_table_id"], vpc["default_network_acl_id"]) == (
        table["RouteTableId"],
        acl["NetworkAclId"],
    )
    assert vpc["default_security_group_id"] == group["GroupId"]
    assert (vpc["enable_dns_support"], vpc["enable_dns_hostnames"]) == (True, False)
    [subnet] = ec2.describe_subnets(SubnetIds=[outputs["subnet_id"]])["Subnets"]
    assert subnet["MapPublicIpOnLaunch"] is False  # the provider's default, set after creation
    # The gateway, the tables, their routes and the subnet's association (decision 0121).
    [gateway] = ec2.describe_internet_gateways(InternetGatewayIds=[outputs["gateway_id"]])[
        "InternetGateways"
    ]
    assert gateway["Attachments"] == [{"State": "available", "VpcId": vpc["id"]}]
    [public] = ec2.describe_route_tables(RouteTableIds=[outputs["public_table_id"]])["RouteTables"]
    routes = [(r["DestinationCidrBlock"], r["GatewayId"], r["State"]) for r in public["Routes"]]
    assert routes == [
        ("10.42.0.0/16", "local", "active"),
        ("0.0.0.0/0", outputs["gateway_id"], "active"),
    ]
    assert [(a["SubnetId"], a["RouteTableAssociationId"]) for a in public["Associations"]] == [
        (outputs["subnet_id"], outputs["association_id"])
    ]
    assert [r["DestinationCidrBlock"] for r in table["Routes"]] == ["10.42.0.0/16", "192.0.2.0/24"]
    # aws_eip, associated with the instance by aws_eip_association, and one held free
    # (decision 0125).
    eip = outputs["eip"]
    assert (eip["domain"], eip["public_ipv4_pool"], eip["network_border_group"]) == (
        "vpc",
        "andromede",
        REGION,
    )
    addresses = {a["AllocationId"]: a for a in ec2.describe_addresses()["Addresses"]}
    assert len(addresses) == 3
    web = addresses[eip["id"]]
    assert (web["AssociationId"], web["InstanceId"]) == (
        outputs["eip_association_id"],
        outputs["instance_id"],
    )
    [reservation] = ec2.describe_instances(InstanceIds=[outputs["instance_id"]])["Reservations"]
    assert reservation["Instances"][0]["PublicIpAddress"] == web["PublicIp"] == eip["public_ip"]
    # aws_nat_gateway holding its aws_eip in the public subnet, and the private table's
    # aws_route to it (decision 0129).
    nat = outputs["nat"]
    [described] = ec2.describe_nat_gateways(NatGatewayIds=[nat["id"]])["NatGateways"]
    assert (described["State"], described["SubnetId"]) == ("available", outputs["subnet_id"])
    [held] = described["NatGatewayAddresses"]
    assert (held["AllocationId"], held["PublicIp"], held["PrivateIp"]) == (
        nat["eip_id"],
        nat["public_ip"],
        nat["private_ip"],
    )
    assert addresses[nat["eip_id"]]["NetworkInterfaceId"] == held["NetworkInterfaceId"]
    [private] = ec2.describe_route_tables(RouteTableIds=[nat["table_id"]])["RouteTables"]
    assert sorted(
        (
            r.get("DestinationCidrBlock") or r["DestinationPrefixListId"],
            r.get("NatGatewayId"),
            r["State"],
        )
        for r in private["Routes"]
        if not r.get("GatewayId", "").startswith("vpce-")  # the endpoint's: below (0160)
    ) == sorted(
        [
            ("10.42.0.0/16", None, "active"),
            ("0.0.0.0/0", nat["id"], "active"),
            # aws_route with destination_prefix_list_id (decision 0149's addendum).
            (outputs["rules"]["prefix_list"], nat["id"], "active"),
            # aws_route to the appliance's interface (decision 0161's addendum): below.
            ("192.168.77.0/24", None, "active"),
        ]
    )
    # aws_network_acl with inline rules and its subnet, another with an aws_network_acl_rule,
    # and aws_default_network_acl adopting the VPC's default ACL (decision 0128).
    acls = {
        a["NetworkAclId"]: a
        for a in ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc["id"]]}])[
            "NetworkAcls"
        ]
    }
    acl_ids = outputs["acl_ids"]
    assert set(acls) == set(acl_ids.values())
    assert acl_ids["default"] == vpc["default_network_acl_id"]

    def entries(acl_id: str) -> list[tuple[Any, ...]]:
        return [
            (e["RuleNumber"], e["Egress"], e["RuleAction"], e["Protocol"],
             e.get("CidrBlock") or e["Ipv6CidrBlock"], e.get("PortRange"))
            for e in acls[acl_id]["Entries"]
        ]  # fmt: skip

    assert entries(acl_ids["web"]) == [
        (100, True, "allow", "-1", "0.0.0.0/0", None),
        (32767, True, "deny", "-1", "0.0.0.0/0", None),
        (100, False, "allow", "6", "0.0.0.0/0", {"From": 22, "To": 22}),
        (110, False, "allow", "1", "10.0.0.0/8", None),
        (32767, False, "deny", "-1", "0.0.0.0/0", None),
    ]
    assert entries(acl_ids["data"]) == [
        (32767, True, "deny", "-1", "0.0.0.0/0", None),
        (120, False, "allow", "6", "10.0.0.0/8", {"From": 443, "To": 443}),
        (32767, False, "deny", "-1", "0.0.0.0/0", None),
    ]
    assert entries(acl_ids["default"]) == [
        (100, True, "allow", "-1", "0.0.0.0/0", None),
        (101, True, "allow", "-1", "::/0", None),
        (32767, True, "deny", "-1", "0.0.0.0/0", None),
        (100, False, "allow", "-1", "10.42.0.0/16", None),
        (101, False, "allow", "-1", "::/0", None),
        (32767, False, "deny", "-1", "0.0.0.0/0", None),
    ]
    assert [a["SubnetId"] for a in acls[acl_ids["web"]]["Associations"]] == [outputs["subnet_id"]]
    assert [
        (a["SubnetId"], a["NetworkAclAssociationId"]) for a in acls[acl_ids["data"]]["Associations"]
    ] == [(outputs["data_subnet_id"], outputs["data_association_id"])]
    assert acls[acl_ids["default"]]["Associations"] == []
    assert {t["Key"]: t["Value"] for t in acls[acl_ids["default"]]["Tags"]} == {
        "Name": "lab-default",
        **DEFAULT_TAGS,
    }
    # aws_vpc_dhcp_options and its association with the VPC (decision 0143).
    dhcp = outputs["dhcp"]
    [options] = ec2.describe_dhcp_options(DhcpOptionsIds=[dhcp["id"]])["DhcpOptions"]
    assert {c["Key"]: [v["Value"] for v in c["Values"]] for c in options["DhcpConfigurations"]} == {
        "domain-name": ["lab.example"],
        "domain-name-servers": ["192.0.2.53", "AmazonProvidedDNS"],
        "ntp-servers": ["192.0.2.123"],
        "netbios-node-type": ["2"],
    }
    assert dhcp["owner_id"] == options["OwnerId"]
    [described_vpc] = ec2.describe_vpcs(VpcIds=[vpc["id"]])["Vpcs"]
    assert described_vpc["DhcpOptionsId"] == dhcp["id"]
    # aws_vpc_security_group_ingress_rule and _egress_rule (decision 0146): the group holds
    # just those three (the provider revoked the default egress rule), each by its own id,
    # one naming the managed prefix list (decision 0149).
    rules = outputs["rules"]
    described_rules = ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [rules["group"]]}]
    )["SecurityGroupRules"]
    assert {
        r["SecurityGroupRuleId"]: (
            r["IsEgress"], r["IpProtocol"], r["FromPort"], r["ToPort"],
            r.get("CidrIpv4") or r.get("PrefixListId"),
            r.get("Description"), {t["Key"]: t["Value"] for t in r.get("Tags", [])},
        )
        for r in described_rules
    } == {
        rules["ssh"]: (False, "tcp", 22, 22, "10.42.0.0/16", "ssh from the lab",
                       {"Name": "ssh", **DEFAULT_TAGS}),
        rules["https"]: (True, "tcp", 443, 443, "0.0.0.0/0", None, DEFAULT_TAGS),
        rules["offices"]: (False, "tcp", 443, 443, rules["prefix_list"], None, DEFAULT_TAGS),
    }  # fmt: skip
    listed = ec2.describe_managed_prefix_lists(PrefixListIds=[rules["prefix_list"]])
    [plist] = listed["PrefixLists"]
    assert (plist["PrefixListName"], plist["MaxEntries"], plist["Version"]) == ("offices", 5, 1)
    assert rules["version"] == 1
    assert {t["Key"]: t["Value"] for t in plist["Tags"]} == {"Name": "offices", **DEFAULT_TAGS}
    entries = ec2.get_managed_prefix_list_entries(PrefixListId=plist["PrefixListId"])["Entries"]
    assert sorted((e["Cidr"], e.get("Description")) for e in entries) == [
        ("192.0.2.0/24", "paris"), ("198.51.100.0/24", None),
    ]  # fmt: skip
    associations = ec2.get_managed_prefix_list_associations(PrefixListId=plist["PrefixListId"])
    assert sorted(a["ResourceId"] for a in associations["PrefixListAssociations"]) == sorted(
        [rules["group"], nat["table_id"]]
    )
    # aws_vpc_peering_connection with auto_accept, and a route each way (decision 0139).
    assert outputs["accept_status"] == "active"
    [peering] = ec2.describe_vpc_peering_connections(
        VpcPeeringConnectionIds=[outputs["peering_id"]]
    )["VpcPeeringConnections"]
    assert peering["Status"]["Code"] == "active"
    assert {t["Key"]: t["Value"] for t in peering["Tags"]} == {"Name": "pair", **DEFAULT_TAGS}
    # aws_vpc_peering_connection_options: the accepter's side lets the left VPC resolve the
    # right one's names (decision 0139's addendum).
    assert [
        peering[side]["PeeringOptions"]["AllowDnsResolutionFromRemoteVpc"]
        for side in ("RequesterVpcInfo", "AccepterVpcInfo")
    ] == [False, True]
    [table] = ec2.describe_route_tables(RouteTableIds=[outputs["left_table_id"]])["RouteTables"]
    assert [
        (r["DestinationCidrBlock"], r.get("VpcPeeringConnectionId"), r["State"])
        for r in table["Routes"]
    ] == [("10.51.0.0/16", None, "active"), ("10.52.0.0/16", outputs["peering_id"], "active")]
    # aws_flow_log into an aws_s3_bucket of the account (decision 0153).
    [flow_log] = ec2.describe_flow_logs(FlowLogIds=[outputs["flow_log_id"]])["FlowLogs"]
    assert (flow_log["ResourceId"], flow_log["TrafficType"], flow_log["LogDestination"]) == (
        vpc["id"],
        "REJECT",
        f"arn:aws:s3:::{values['name']}-flows/lab",
    )
    assert (flow_log["MaxAggregationInterval"], flow_log["DeliverLogsStatus"]) == (60, "SUCCESS")
    assert flow_log["DestinationOptions"]["PerHourPartition"] is True
    assert flow_log["DestinationOptions"]["FileFormat"] == "parquet"  # decision 0170
    assert {t["Key"]: t["Value"] for t in flow_log["Tags"]} == {"Name": "lab", **DEFAULT_TAGS}
    # aws_autoscaling_group (decisions 0156, 0159): the provider waited for its instance,
    # launched from the pool's template into the data subnet with the propagated tag.
    autoscaling = client_for(ec2_server, "autoscaling", *ec2_server.credentials())
    [pool] = autoscaling.describe_auto_scaling_groups(
        AutoScalingGroupNames=[f"{values['name']}-pool"]
    )["AutoScalingGroups"]
    assert pool["AutoScalingGroupARN"] == outputs["pool"]["arn"]
    [member] = pool["Instances"]
    assert member["LifecycleState"] == "InService"
    [reservation] = ec2.describe_instances(InstanceIds=[member["InstanceId"]])["Reservations"]
    launched = reservation["Instances"][0]
    assert launched["SubnetId"] == outputs["data_subnet_id"]
    assert {t["Key"]: t["Value"] for t in launched["Tags"]}["role"] == "pool"
    # aws_autoscaling_schedule and aws_autoscaling_lifecycle_hook (decision 0159).
    [action] = autoscaling.describe_scheduled_actions(
        AutoScalingGroupName=pool["AutoScalingGroupName"]
    )["ScheduledUpdateGroupActions"]
    assert (action["Recurrence"], action["TimeZone"], action["DesiredCapacity"]) == (
        "0 19 * * mon-fri",
        "Europe/Paris",
        0,
    )
    [hook] = autoscaling.describe_lifecycle_hooks(
        AutoScalingGroupName=pool["AutoScalingGroupName"]
    )["LifecycleHooks"]
    assert (hook["LifecycleHookName"], hook["HeartbeatTimeout"]) == ("drain", 60)
    # aws_vpc_endpoint and its aws_vpc_endpoint_route_table_association (decision 0160): the
    # route to the object store's managed list is in the private table, as EC2 shows it.
    endpoint = outputs["endpoint"]
    [described_endpoint] = ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint["id"]])[
        "VpcEndpoints"
    ]
    assert (
        described_endpoint["VpcEndpointType"],
        described_endpoint["RouteTableIds"],
        endpoint["state"],
    ) == ("Gateway", [nat["table_id"]], "available")
    [private] = ec2.describe_route_tables(RouteTableIds=[nat["table_id"]])["RouteTables"]
    assert {
        "DestinationPrefixListId": endpoint["prefix_list_id"],
        "GatewayId": endpoint["id"],
        "Origin": "CreateRoute",
        "State": "active",
    } in private["Routes"]
    # The Interface endpoint (decision 0166): in the data subnet under the web group, its
    # requester-managed interface, its private DNS names.
    interface = outputs["interface_endpoint"]
    [described_interface] = ec2.describe_vpc_endpoints(VpcEndpointIds=[interface["id"]])[
        "VpcEndpoints"
    ]
    assert (
        described_interface["VpcEndpointType"],
        described_interface["SubnetIds"],
        [g["GroupId"] for g in described_interface["Groups"]],
        described_interface["PrivateDnsEnabled"],
    ) == ("Interface", [interface["subnet_id"]], [interface["group_id"]], True)
    assert interface["interfaces"] == described_interface["NetworkInterfaceIds"]
    assert sorted(interface["dns_names"]) == ["*.s3.localhost", "s3.localhost"]
    [endpoint_eni] = ec2.describe_network_interfaces(NetworkInterfaceIds=interface["interfaces"])[
        "NetworkInterfaces"
    ]
    assert (endpoint_eni["InterfaceType"], endpoint_eni["RequesterManaged"]) == (
        "vpc_endpoint",
        True,
    )
    # aws_network_interface attached by aws_network_interface_attachment (decision 0161).
    eni = outputs["eni"]
    [appliance] = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni["id"]])[
        "NetworkInterfaces"
    ]
    assert (appliance["Status"], appliance["SubnetId"]) == ("in-use", outputs["data_subnet_id"])
    assert (appliance["Description"], appliance["SourceDestCheck"]) == ("appliance", False)
    # The Auto Scaling group's instance shares the subnet: which addresses each gets depends on
    # the order Terraform creates them in.
    assert appliance["PrivateIpAddress"] == eni["private_ip"]
    held = [a["PrivateIpAddress"] for a in appliance["PrivateIpAddresses"]]
    assert len(held) == len(set(held)) == 2 and held[0] == eni["private_ip"]
    assert all(ip.startswith("10.42.2.") for ip in held)
    attached = appliance["Attachment"]
    assert (attached["AttachmentId"], attached["InstanceId"], attached["DeviceIndex"]) == (
        eni["attachment"],
        outputs["instance_id"],
        1,
    )
    [reservation] = ec2.describe_instances(InstanceIds=[outputs["instance_id"]])["Reservations"]
    shown = reservation["Instances"][0]["NetworkInterfaces"]
    assert [i["Attachment"]["DeviceIndex"] for i in shown] == [0, 1]
    # aws_route to the appliance's interface: active, shown with its instance (the addendum).
    [private] = ec2.describe_route_tables(
        Filters=[{"Name": "route.destination-cidr-block", "Values": ["192.168.77.0/24"]}]
    )["RouteTables"]
    [to_appliance] = [
        r for r in private["Routes"] if r.get("DestinationCidrBlock") == "192.168.77.0/24"
    ]
    assert (to_appliance["NetworkInterfaceId"], to_appliance["State"]) == (eni["id"], "active")
    assert to_appliance["InstanceId"] == outputs["instance_id"]
    plan = terraform("plan", "-detailed-exitcode", "-input=false", check=False)
    assert plan.returncode == 0, plan.stdout[-6000:] + plan.stderr[-3000:]
    terraform(*DESTROY_AFTER_PLAN)
    assert autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"] == []
    assert (
        ec2.describe_network_interfaces(Filters=[{"Name": "description", "Values": ["appliance"]}])[
            "NetworkInterfaces"
        ]
        == []
    )
    assert ec2.describe_flow_logs()["FlowLogs"] == []
    assert ec2.describe_vpc_endpoints()["VpcEndpoints"] == []
    assert ec2.describe_launch_templates()["LaunchTemplates"] == []
    assert ec2.describe_managed_prefix_lists()["PrefixLists"] == []
    [gone] = ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[outputs["peering_id"]])[
        "VpcPeeringConnections"
    ]
    assert gone["Status"]["Code"] == "deleted"
    # The account's default set is all that is left.
    assert [o["DhcpOptionsId"] for o in ec2.describe_dhcp_options()["DhcpOptions"]] == [
        ec2.describe_vpcs()["Vpcs"][0]["DhcpOptionsId"]
    ]
    assert [v["IsDefault"] for v in ec2.describe_vpcs()["Vpcs"]] == [True]
    left = ec2.describe_internet_gateways()["InternetGateways"]
    assert [g["InternetGatewayId"] for g in left] != [] and outputs["gateway_id"] not in str(left)
    assert ec2.describe_addresses()["Addresses"] == []
    [gone] = ec2.describe_nat_gateways(NatGatewayIds=[outputs["nat"]["id"]])["NatGateways"]
    assert gone["State"] == "deleted"
    # The default VPC's default ACL is all that is left.
    assert [a["IsDefault"] for a in ec2.describe_network_acls()["NetworkAcls"]] == [True]


# Terraform's ``aws_default_vpc`` and ``aws_default_subnet`` with ``force_destroy`` (decision
# 0137): adopted by the first apply, deleted by destroy (the gateway, which no ``aws_default_*``
# resource manages, imported so that destroy detaches and deletes it first, as users do),
# made again with CreateDefaultVpc by the next apply, and the subnet with CreateDefaultSubnet.
DEFAULT_VPC = (
    aws_provider("ec2")
    + """
resource "aws_default_vpc" "main" {
  force_destroy = true
  tags          = { Name = "default" }
}
resource "aws_default_subnet" "main" {
  # After the VPC: when the apply makes the VPC again, its default subnet comes with it.
  depends_on        = [aws_default_vpc.main]
  availability_zone = "%(zone)s"
  force_destroy     = true
}
output "vpc" {
  value = {
    id       = aws_default_vpc.main.id
    existing = aws_default_vpc.main.existing_default_vpc
    cidr     = aws_default_vpc.main.cidr_block
  }
}
output "subnet" {
  value = {
    id       = aws_default_subnet.main.id
    existing = aws_default_subnet.main.existing_default_subnet
    cidr     = aws_default_subnet.main.cidr_block
  }
}
"""
)
DEFAULT_GATEWAY = """
import {
  to = aws_internet_gateway.main
  id = "%(gateway)s"
}
resource "aws_internet_gateway" "main" {
  vpc_id = aws_default_vpc.main.id
}
"""


def test_terraform_adopts_deletes_and_makes_again_the_default_vpc(
    ec2_server: ServerProcess, terraform: Terraform
) -> None:
    """The calls ``aws_default_vpc`` makes with ``force_destroy = true``: apply adopts the
    tenant's default VPC and subnet (``existing_default_*`` true) and converges; destroy
    deletes them (DeleteSubnet, DeleteVpc after the imported gateway's detach and delete),
    leaving the tenant without a default VPC; a new apply finds none and calls
    CreateDefaultVpc (fresh ids, ``existing_default_vpc`` false) and converges again; the
    default subnet deleted alone, the next apply calls CreateDefaultSubnet. A tenant of its
    own, so the other tests' default VPC is untouched."""
    tenant = new_tenant(ec2_server, "tf-default-vpc")
    credentials = terraform.work / "tenant-credentials"
    credentials.write_text(
        f"[andromede]\naws_access_key_id = {tenant.access_key_id}\n"
        f"aws_secret_access_key = {tenant.secret_access_key}\n"
    )
    ec2 = client_for(ec2_server, "ec2", tenant.access_key_id, tenant.secret_access_key)
    is_default = [{"Name": "is-default", "Values": ["true"]}]
    (old_vpc,) = ec2.describe_vpcs(Filters=is_default)["Vpcs"]
    (gateway,) = ec2.describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [old_vpc["VpcId"]]}]
    )["InternetGateways"]
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    values = {
        "region": REGION,
        "credentials": credentials,
        "endpoint": ec2_server.endpoint,
        "zone": zone,
        "gateway": gateway["InternetGatewayId"],
    }
    main = terraform.work / "main.tf"
    main.write_text((DEFAULT_VPC + DEFAULT_GATEWAY) % values)
    terraform("init", "-input=false")
    terraform("apply", "-auto-approve", "-input=false")
    adopted = json.loads(terraform("output", "-json").stdout)
    assert adopted["vpc"]["value"] == {
        "id": old_vpc["VpcId"],
        "existing": True,
        "cidr": "172.31.0.0/16",
    }
    assert adopted["subnet"]["value"]["existing"] is True
    (tagged,) = ec2.describe_vpcs(VpcIds=[old_vpc["VpcId"]])["Vpcs"]
    assert {"Key": "Name", "Value": "default"} in tagged["Tags"]
    plan = terraform("plan", "-detailed-exitcode", "-input=false", check=False)
    assert plan.returncode == 0, plan.stdout[-6000:] + plan.stderr[-3000:]

    terraform(*DESTROY_AFTER_PLAN)
    assert ec2.describe_vpcs(Filters=is_default)["Vpcs"] == []
    assert ec2.describe_subnets(SubnetIds=[])["Subnets"] == []
    attributes = ec2.describe_account_attributes(AttributeNames=["default-vpc"])
    (attribute,) = attributes["AccountAttributes"]
    assert attribute["AttributeValues"] == [{"AttributeValue": "none"}]

    # Without the gateway resource: the new default VPC comes with a gateway of its own.
    main.write_text(DEFAULT_VPC % values)
    terraform("apply", "-auto-approve", "-input=false")
    made = json.loads(terraform("output", "-json").stdout)
    new_vpc = made["vpc"]["value"]
    assert new_vpc["existing"] is False and new_vpc["cidr"] == "172.31.0.0/16"
    assert new_vpc["id"] != old_vpc["VpcId"]
    (found,) = ec2.describe_vpcs(Filters=is_default)["Vpcs"]
    assert found["VpcId"] == new_vpc["id"]
    assert made["subnet"]["value"]["cidr"] == "172.31.0.0/20"
    (subnet,) = ec2.describe_subnets(SubnetIds=[made["subnet"]["value"]["id"]])["Subnets"]
    assert subnet["VpcId"] == new_vpc["id"] and subnet["DefaultForAz"] is True

    # The default subnet alone deleted behind Terraform's back: the next apply finds it gone
    # and aws_default_subnet calls CreateDefaultSubnet for its zone. (No plan between: the
    # last plan below refreshes the made VPC too, and each plan costs the provider some 4 s of
    # CPU validating its 1,500 resource schemas — InternalValidate at every
    # ValidateProviderConfig, twice a plan.)
    ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    terraform("apply", "-auto-approve", "-input=false")
    again = json.loads(terraform("output", "-json").stdout)["subnet"]["value"]
    assert again["existing"] is False and again["cidr"] == "172.31.0.0/20"
    assert again["id"] != subnet["SubnetId"]
    (remade,) = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])[
        "Subnets"
    ]
    assert (remade["SubnetId"], remade["VpcId"]) == (again["id"], new_vpc["id"])
    plan = terraform("plan", "-detailed-exitcode", "-input=false", check=False)
    assert plan.returncode == 0, plan.stdout[-6000:] + plan.stderr[-3000:]
