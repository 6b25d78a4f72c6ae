"""Terraform's AWS provider against a real ``andromede serve``: KMS keys (generated, signing
with a key policy, imported material), an alias, a grant with a constraint, a ciphertext, a
bucket whose default encryption names the alias, an object under the imported key, a
versioned bucket replicating to another, versions under a KMS key included
(``aws_s3_bucket_replication_configuration`` with ``source_selection_criteria`` and a
``replica_kms_key_id``), and the data sources that read them back (public key, secrets,
alias). The
configuration must apply, then plan with no change (what Terraform users check first), and
destroy. And the S3 backend keeping its state here, locked by a lock file written with
``If-None-Match: *``. Scenarios share a configuration where they can: every ``terraform``
command costs the provider and Terraform CPU whatever it does (the provider's schema, read
and validated at each command; the endpoints are in a shared config file, not in the provider
block, whose ``endpoints`` cost 2.5 s of CPU at each ValidateProviderConfig:
``terraform_kit.server_endpoint``).

The data bucket has two request metrics configurations (``aws_s3_bucket_metric``, one with
an ``And`` filter of a prefix, a tag and the access point: decision 0187).

The main configuration also holds SQS FIFO queues (``aws_sqs_queue`` with ``fifo_queue``,
content-based deduplication and a FIFO dead-letter queue: decision 0164), and a metric math
alarm (``aws_cloudwatch_metric_alarm`` with ``metric_query`` blocks: decision 0183) and a
dashboard beside it (``aws_cloudwatch_dashboard``: decision 0185), and a database password in
Secrets Manager (``aws_secretsmanager_secret`` under the data key and its
``aws_secretsmanager_secret_version``: decision 0190) and its host and password in Parameter
Store (``aws_ssm_parameter``, a String and a SecureString: decision 0229), and an anomaly detection
alarm (``threshold_metric_id``: decision 0189), and a log group under a
KMS key (``aws_cloudwatch_log_group``: decision 0186) with a metric filter
(``aws_cloudwatch_log_metric_filter``, its session 48 addendum), and an EventBridge rule
sending to a queue through an input transformer (``aws_cloudwatch_event_rule``,
``aws_cloudwatch_event_target``, ``aws_sqs_queue_policy``: decision 0192), an archive of a
custom bus (``aws_cloudwatch_event_bus``, ``aws_cloudwatch_event_archive`` with a pattern and a
retention: decision 0196) which the rule also feeds as a bus target (decision 0273), and an API
destination behind an API key connection, a rule's
target through a role (``aws_cloudwatch_event_connection``,
``aws_cloudwatch_event_api_destination``, ``aws_iam_role``: decision 0200), and SNS topics
(``aws_sns_topic`` standard and FIFO, ``aws_sns_topic_policy``, ``aws_sns_topic_subscription``
raw into queues through a filter policy: decision 0163's session 50 addendum), and the orders
as a Kinesis stream under the data key with a consumer and the data source, two Firehose
streams into the data bucket (Direct PUT under the data key, and one reading the Kinesis
stream), the log group's subscription filters into both, and a metric stream into Firehose
(``aws_kinesis_stream``, ``aws_kinesis_stream_consumer``,
``aws_kinesis_firehose_delivery_stream``, ``aws_cloudwatch_log_subscription_filter``,
``aws_cloudwatch_metric_stream``: decision 0240), the stream shared with another account for
writing (``aws_kinesis_resource_policy``: decision 0248), and the orders as a DynamoDB table
under the data key with an item, its stream piped into a queue, and an internal Application
Load Balancer in the default VPC with a target group and a fixed-response listener
(``aws_dynamodb_table``, ``aws_dynamodb_table_item``, ``aws_pipes_pipe``, ``aws_lb``,
``aws_lb_target_group``, ``aws_lb_listener``: decision 0274), and a Lambda function from a zip
the test makes, its alias and a permission on it, a Route 53 TCP health check of the server's
own port and a private zone on the default VPC (``aws_lambda_function``, ``aws_lambda_alias``,
``aws_lambda_permission``, ``aws_route53_health_check``, ``aws_route53_zone`` with ``vpc``:
decision 0297), a log group's subscription filter into the function, permitted for
``logs.amazonaws.com`` (decision 0304), ``aws_lambda_function_event_invoke_config`` and the
function's ``dead_letter_config`` (decision 0300), the function running with a layer
(``aws_lambda_layer_version``: decision 0302), provisioned concurrency on its alias
(``aws_lambda_provisioned_concurrency_config``: decision 0314), the alias's function URL
(``aws_lambda_function_url``: decision 0312), the public zone signed with a KSK in a KMS key
(``aws_route53_key_signing_key``, ``aws_route53_hosted_zone_dnssec``: decision 0317), a
delegation's ``aws_route53_record`` of type DS (decision 0324).

The EC2 scenarios are in ``test_terraform_ec2.py`` and ``test_terraform_vpc_lab.py``; what the
three share (the provider they attach to, the ``terraform`` command) in
``terraform_kit.py``.
"""

from __future__ import annotations

import base64
import json
import time
import zipfile
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
import requests
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization

from e2e.helpers import unique_bucket
from e2e.iam_helpers import client_for
from e2e.terraform_kit import DESTROY_AFTER_PLAN, Terraform, aws_provider, provider_values
from e2e.test_kms_api import kms_client
from e2e.test_s3control import s3control_client
from support.iam_recipes import server_certificate
from support.server import REGION, ServerProcess

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Terraform's AWS provider polls with its own delays (55 s of lifecycle re-reads, volume
# modifications, a guest's boot): 100 to 140 s a test on a quick machine, over 300 s on a slow
# one.
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

MATERIAL = base64.b64encode(b"thirty-two bytes of our own key!").decode()
# aws_lambda_function's code, zipped by the test (decision 0297).
STAMP_HANDLER = """import os

import stamp_kit


def handler(event, context):
    return {"stamp": os.environ["STAMP"], "order": event.get("order"), "kit": stamp_kit.NAME}
"""
# aws_lambda_layer_version's content (decision 0302): a module the handler imports.
STAMP_LAYER = "NAME = 'from the layer'\n"


CONFIGURATION = (
    # S3 Control's endpoint rules put the account id before the endpoint's host, which
    # resolves nowhere here: the provider sends through the server itself as its proxy,
    # which serves the absolute-form request target with the signed Host (decision 0152).
    aws_provider(proxy=True)
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
# The data bucket's request metrics of reports/ read through the access point by a team's
# tagged writes (aws_s3_bucket_metric, decision 0187): the provider writes them as an And.
resource "aws_s3_bucket_metric" "reports" {
  bucket = aws_s3_bucket.data.id
  name   = "reports"
  filter {
    prefix       = "reports/"
    access_point = aws_s3_access_point.app.arn
    tags         = { team = "finance" }
  }
}
resource "aws_s3_bucket_metric" "everything" {
  bucket = aws_s3_bucket.data.id
  name   = "everything"
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
# EventBridge (decision 0192): a rule on the default bus sending big orders to a queue whose
# policy lets events.amazonaws.com in for that rule.
resource "aws_sqs_queue" "big_orders" {
  name = "%(bucket)s-big-orders"
}
resource "aws_cloudwatch_event_rule" "big_orders" {
  name        = "%(bucket)s-big-orders"
  description = "Orders over 100"
  event_pattern = jsonencode({
    source = ["shop.orders"]
    detail = { amount = [{ numeric = [">", 100] }] }
  })
  tags = { team = "orders" }
}
resource "aws_sqs_queue_policy" "big_orders" {
  queue_url = aws_sqs_queue.big_orders.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = aws_sqs_queue.big_orders.arn
      Condition = { ArnEquals = { "aws:SourceArn" = aws_cloudwatch_event_rule.big_orders.arn } }
      }, {
      Effect    = "Allow"
      Principal = { Service = "sns.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = aws_sqs_queue.big_orders.arn
      Condition = { ArnEquals = { "aws:SourceArn" = aws_sns_topic.alerts.arn } }
    }]
  })
}
resource "aws_cloudwatch_event_target" "big_orders" {
  rule      = aws_cloudwatch_event_rule.big_orders.name
  target_id = "queue"
  arn       = aws_sqs_queue.big_orders.arn
  input_transformer {
    input_paths    = { amount = "$.detail.amount" }
    input_template = "{\\\"amount\\\": <amount>}"
  }
}
output "big_orders_url" { value = aws_sqs_queue.big_orders.url }
# SNS (decisions 0132, 0163, 0175): a tagged topic with a display name and a policy of its
# own, its big alerts raw into the big orders queue through a filter policy; a FIFO topic
# into the FIFO orders queue, whose policy lets SNS in for it, under the data key (0212).
resource "aws_sns_topic" "alerts" {
  name         = "%(bucket)s-alerts"
  display_name = "Order alerts"
  tags         = { team = "orders" }
}
resource "aws_sns_topic_policy" "alerts" {
  arn = aws_sns_topic.alerts.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "owner"
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.me.account_id}:root" }
      Action    = ["sns:Publish", "sns:Subscribe", "sns:GetTopicAttributes"]
      Resource  = aws_sns_topic.alerts.arn
    }]
  })
}
resource "aws_sns_topic_subscription" "big_alerts" {
  topic_arn            = aws_sns_topic.alerts.arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.big_orders.arn
  raw_message_delivery = true
  filter_policy        = jsonencode({ severity = ["high"] })
}
resource "aws_sns_topic" "order_events" {
  name                        = "%(bucket)s-order-events.fifo"
  fifo_topic                  = true
  content_based_deduplication = true
  kms_master_key_id           = aws_kms_alias.data.name
}
resource "aws_sqs_queue_policy" "orders" {
  queue_url = aws_sqs_queue.orders.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "sns.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = aws_sqs_queue.orders.arn
      Condition = { ArnEquals = { "aws:SourceArn" = aws_sns_topic.order_events.arn } }
    }]
  })
}
resource "aws_sns_topic_subscription" "order_events" {
  topic_arn            = aws_sns_topic.order_events.arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.orders.arn
  raw_message_delivery = true
}
output "alerts_arn" { value = aws_sns_topic.alerts.arn }
output "order_events_arn" { value = aws_sns_topic.order_events.arn }
output "big_alerts_subscription" { value = aws_sns_topic_subscription.big_alerts.arn }
# An archive of the orders bus's big orders, kept 30 days (decision 0196).
resource "aws_cloudwatch_event_bus" "orders" {
  name = "%(bucket)s-orders"
}
resource "aws_cloudwatch_event_archive" "big_orders" {
  name             = "%(bucket)s-big-orders"
  event_source_arn = aws_cloudwatch_event_bus.orders.arn
  description      = "Orders over 100"
  retention_days   = 30
  event_pattern = jsonencode({
    source = ["shop.orders"]
    detail = { amount = [{ numeric = [">", 100] }] }
  })
}
# The big orders rule also forwards them onto the orders bus, the account's own: no role
# (decision 0273); the bus's archive keeps them.
resource "aws_cloudwatch_event_target" "big_orders_bus" {
  rule      = aws_cloudwatch_event_rule.big_orders.name
  target_id = "orders-bus"
  arn       = aws_cloudwatch_event_bus.orders.arn
}
# An API destination behind an API key connection (decision 0200), a rule's target through a
# role EventBridge assumes.
resource "aws_cloudwatch_event_connection" "crm" {
  name               = "%(bucket)s-crm"
  description        = "The CRM's webhook key"
  authorization_type = "API_KEY"
  auth_parameters {
    api_key {
      key   = "x-api-key"
      value = "crm-secret-value"
    }
  }
}
resource "aws_cloudwatch_event_api_destination" "crm" {
  name                             = "%(bucket)s-crm"
  description                      = "The CRM's order hook"
  connection_arn                   = aws_cloudwatch_event_connection.crm.arn
  invocation_endpoint              = "https://crm.example.test/hooks/orders"
  http_method                      = "POST"
  invocation_rate_limit_per_second = 20
}
resource "aws_iam_role" "crm" {
  name = "%(bucket)s-crm-invoker"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}
resource "aws_iam_role_policy" "crm" {
  name = "invoke"
  role = aws_iam_role.crm.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = "events:InvokeApiDestination"
      Resource = aws_cloudwatch_event_api_destination.crm.arn
    }]
  })
}
# An IAM server certificate (decision 0205): its key goes in, never comes back.
resource "aws_iam_server_certificate" "web" {
  name             = "%(bucket)s-web"
  path             = "/web/"
  certificate_body = <<EOT
%(certificate)sEOT
  private_key      = <<EOT
%(certificate_key)sEOT
  tags = { team = "web" }
}
# The same certificate imported into ACM (decision 0230), its key sealed again.
resource "aws_acm_certificate" "web" {
  certificate_body = <<EOT
%(certificate)sEOT
  private_key      = <<EOT
%(certificate_key)sEOT
  tags = { team = "web" }
}
output "acm_certificate_arn" { value = aws_acm_certificate.web.arn }
# A service-linked role (decision 0208): Auto Scaling's, with a suffix of its own.
resource "aws_iam_service_linked_role" "fleet" {
  aws_service_name = "autoscaling.amazonaws.com"
  custom_suffix    = "%(bucket)s"
  description      = "the fleet's"
}
# On the orders bus, where this test puts nothing: no invocation of the unreachable host.
resource "aws_cloudwatch_event_rule" "crm" {
  name           = "%(bucket)s-crm"
  event_bus_name = aws_cloudwatch_event_bus.orders.name
  event_pattern  = jsonencode({ source = ["shop.orders"] })
}
resource "aws_cloudwatch_event_target" "crm" {
  rule           = aws_cloudwatch_event_rule.crm.name
  event_bus_name = aws_cloudwatch_event_bus.orders.name
  target_id = "crm"
  arn       = aws_cloudwatch_event_api_destination.crm.arn
  role_arn  = aws_iam_role.crm.arn
  http_target {
    header_parameters = { "x-source" = "terraform" }
  }
}
output "crm_destination_arn" { value = aws_cloudwatch_event_api_destination.crm.arn }
output "crm_connection_arn" { value = aws_cloudwatch_event_connection.crm.arn }
# A metric math alarm (decision 0183): the orders' error rate from two MetricStats.
resource "aws_cloudwatch_metric_alarm" "error_rate" {
  alarm_name          = "%(bucket)s-error-rate"
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 2
  threshold           = 10
  metric_query {
    id          = "e1"
    expression  = "100*m1/m2"
    label       = "Error rate"
    return_data = true
  }
  metric_query {
    id = "m1"
    metric {
      namespace   = "Orders"
      metric_name = "Errors"
      period      = 60
      stat        = "Sum"
      dimensions  = { Queue = "orders" }
    }
  }
  metric_query {
    id = "m2"
    metric {
      namespace   = "Orders"
      metric_name = "Requests"
      period      = 60
      stat        = "Sum"
      unit        = "Count"
    }
  }
}
# An anomaly detection alarm (decision 0189): the orders' requests against their band.
resource "aws_cloudwatch_metric_alarm" "requests_anomaly" {
  alarm_name          = "%(bucket)s-requests-anomaly"
  comparison_operator = "LessThanLowerOrGreaterThanUpperThreshold"
  evaluation_periods  = 2
  threshold_metric_id = "ad1"
  metric_query {
    id          = "ad1"
    expression  = "ANOMALY_DETECTION_BAND(m1, 2)"
    label       = "Requests (expected)"
    return_data = true
  }
  metric_query {
    id          = "m1"
    return_data = true
    metric {
      namespace   = "Orders"
      metric_name = "Requests"
      period      = 60
      stat        = "Sum"
    }
  }
}
# The orders' log group (decision 0186): a retention, sealed under the data key.
resource "aws_cloudwatch_log_group" "orders" {
  name              = "/%(bucket)s/orders"
  retention_in_days = 14
  kms_key_id        = aws_kms_key.data.arn
  tags              = { team = "orders" }
}
# Its 5xx lines counted into a metric (decision 0186, session 48).
resource "aws_cloudwatch_log_metric_filter" "orders_5xx" {
  name           = "orders-5xx"
  log_group_name = aws_cloudwatch_log_group.orders.name
  pattern        = "[ip, user, username, timestamp, request, status = 5*, size]"
  metric_transformation {
    name          = "Errors5xx"
    namespace     = "Orders"
    value         = "1"
    default_value = "0"
    unit          = "Count"
  }
}
# The clients behind the orders' 5xx lines (decision 0272): a Contributor Insights rule.
resource "aws_cloudwatch_contributor_insight_rule" "orders" {
  rule_name  = "%(bucket)s-5xx-clients"
  rule_state = "ENABLED"
  rule_definition = jsonencode({
    Schema        = { Name = "CloudWatchLogRule", Version = 1 }
    LogGroupNames = [aws_cloudwatch_log_group.orders.name]
    LogFormat     = "CLF"
    Fields        = { "1" = "ip", "6" = "status" }
    Contribution  = { Keys = ["ip"], Filters = [{ Match = "status", StartsWith = ["5"] }] }
    AggregateOn   = "Count"
  })
  tags = { team = "orders" }
}
# A dashboard beside the alarm (decision 0185): a metric widget and an alarm widget.
resource "aws_cloudwatch_dashboard" "orders" {
  dashboard_name = "%(bucket)s-orders"
  dashboard_body = jsonencode({
    widgets = [
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          metrics = [["Orders", "Errors", "Queue", "orders"], [".", "Requests", ".", "."]]
          region  = "%(region)s"
          stat    = "Sum"
          period  = 60
          title   = "Orders"
        }
      },
      {
        type = "alarm", x = 12, y = 0, width = 6, height = 6
        properties = { alarms = [aws_cloudwatch_metric_alarm.error_rate.arn] }
      },
    ]
  })
}
# A database password in Secrets Manager (decision 0190), under the data key, its value a
# version of its own; destroyed without a recovery window.
resource "aws_secretsmanager_secret" "db" {
  name                    = "%(bucket)s/db"
  description             = "the orders database"
  kms_key_id              = aws_kms_key.data.arn
  recovery_window_in_days = 0
  tags                    = { app = "orders" }
}
resource "aws_secretsmanager_secret_version" "db" {
  secret_id     = aws_secretsmanager_secret.db.id
  secret_string = jsonencode({ username = "orders", password = "correct horse" })
}
output "db_secret_arn" { value = aws_secretsmanager_secret.db.arn }
output "db_secret_version" { value = aws_secretsmanager_secret_version.db.version_id }
# The database's host and password in Parameter Store (decision 0229), the password a
# SecureString under the data key.
resource "aws_ssm_parameter" "db_host" {
  name  = "/%(bucket)s/db/host"
  type  = "String"
  value = "orders.db.internal"
  tags  = { app = "orders" }
}
resource "aws_ssm_parameter" "db_password" {
  name        = "/%(bucket)s/db/password"
  description = "the orders database's password"
  type        = "SecureString"
  value       = "correct horse"
  key_id      = aws_kms_key.data.arn
}
# The orders as a Kinesis stream (decision 0228) under the data key, two days kept; a
# registered consumer, and the stream read back through the data source.
resource "aws_kinesis_stream" "orders" {
  name             = "%(bucket)s-orders"
  shard_count      = 1
  retention_period = 48
  encryption_type  = "KMS"
  kms_key_id       = aws_kms_key.data.arn
  stream_mode_details {
    stream_mode = "PROVISIONED"
  }
  enforce_consumer_deletion = true
  shard_level_metrics       = ["IncomingBytes", "OutgoingBytes"]
  tags                      = { team = "orders" }
}
resource "aws_kinesis_stream_consumer" "audit" {
  name       = "audit"
  stream_arn = aws_kinesis_stream.orders.arn
}
data "aws_kinesis_stream" "orders" {
  name       = aws_kinesis_stream.orders.name
  depends_on = [aws_kinesis_stream_consumer.audit]
}
# The stream shared with a partner account for writing (decision 0248).
resource "aws_kinesis_resource_policy" "orders" {
  resource_arn = aws_kinesis_stream.orders.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "partner-writes"
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::111122223333:root" }
      Action    = ["kinesis:DescribeStreamSummary", "kinesis:PutRecord", "kinesis:PutRecords"]
      Resource  = aws_kinesis_stream.orders.arn
    }]
  })
}
output "orders_stream_arn" { value = aws_kinesis_stream.orders.arn }
output "orders_stream_shards" { value = data.aws_kinesis_stream.orders.open_shards }
# Firehose into the data bucket (decision 0223): Direct PUT under the data key, and a second
# stream reading the Kinesis stream (decision 0235), both as one role.
resource "aws_iam_role" "firehose" {
  name = "%(bucket)s-firehose"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "firehose.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}
resource "aws_iam_role_policy" "firehose" {
  name = "deliver"
  role = aws_iam_role.firehose.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["s3:PutObject", "s3:GetBucketLocation"]
      Resource = [aws_s3_bucket.data.arn, "${aws_s3_bucket.data.arn}/*"]
      }, {
      Effect = "Allow"
      Action = ["kinesis:DescribeStreamSummary", "kinesis:ListShards",
      "kinesis:GetShardIterator", "kinesis:GetRecords"]
      Resource = aws_kinesis_stream.orders.arn
      }, {
      Effect   = "Allow"
      Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
      Resource = aws_kms_key.data.arn
    }]
  })
}
resource "aws_kinesis_firehose_delivery_stream" "orders" {
  name        = "%(bucket)s-orders"
  destination = "extended_s3"
  extended_s3_configuration {
    role_arn            = aws_iam_role.firehose.arn
    bucket_arn          = aws_s3_bucket.data.arn
    prefix              = "firehose/"
    error_output_prefix = "firehose-errors/"
    buffering_interval  = 60
    buffering_size      = 1
    compression_format  = "GZIP"
  }
  server_side_encryption {
    enabled  = true
    key_type = "CUSTOMER_MANAGED_CMK"
    key_arn  = aws_kms_key.data.arn
  }
  tags = { team = "orders" }
}
resource "aws_kinesis_firehose_delivery_stream" "from_stream" {
  depends_on  = [aws_iam_role_policy.firehose]
  name        = "%(bucket)s-from-stream"
  destination = "extended_s3"
  kinesis_source_configuration {
    kinesis_stream_arn = aws_kinesis_stream.orders.arn
    role_arn           = aws_iam_role.firehose.arn
  }
  extended_s3_configuration {
    role_arn   = aws_iam_role.firehose.arn
    bucket_arn = aws_s3_bucket.data.arn
    prefix     = "stream/"
  }
}
output "orders_firehose_arn" { value = aws_kinesis_firehose_delivery_stream.orders.arn }
# The orders' log group subscribed (decision 0225): its errors into Firehose, everything into
# the Kinesis stream, as a role Logs assumes.
resource "aws_iam_role" "logs" {
  name = "%(bucket)s-logs"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "logs.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}
resource "aws_iam_role_policy" "logs" {
  name = "subscribe"
  role = aws_iam_role.logs.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect = "Allow"
      Action = ["firehose:PutRecord", "firehose:PutRecordBatch",
      "kinesis:PutRecord", "kinesis:PutRecords"]
      Resource = [aws_kinesis_firehose_delivery_stream.orders.arn, aws_kinesis_stream.orders.arn]
    }]
  })
}
resource "aws_cloudwatch_log_subscription_filter" "errors" {
  depends_on      = [aws_iam_role_policy.logs]
  name            = "errors-to-firehose"
  log_group_name  = aws_cloudwatch_log_group.orders.name
  filter_pattern  = "ERROR"
  destination_arn = aws_kinesis_firehose_delivery_stream.orders.arn
  role_arn        = aws_iam_role.logs.arn
}
resource "aws_cloudwatch_log_subscription_filter" "everything" {
  depends_on      = [aws_iam_role_policy.logs]
  name            = "all-to-stream"
  log_group_name  = aws_cloudwatch_log_group.orders.name
  filter_pattern  = ""
  destination_arn = aws_kinesis_stream.orders.arn
  role_arn        = aws_iam_role.logs.arn
  distribution    = "ByLogStream"
}
# The orders' metrics streamed into Firehose (decision 0233), their p99 too.
resource "aws_iam_role" "metric_stream" {
  name = "%(bucket)s-metric-stream"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "streams.metrics.cloudwatch.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}
resource "aws_iam_role_policy" "metric_stream" {
  name = "stream"
  role = aws_iam_role.metric_stream.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["firehose:PutRecord", "firehose:PutRecordBatch"]
      Resource = aws_kinesis_firehose_delivery_stream.orders.arn
    }]
  })
}
resource "aws_cloudwatch_metric_stream" "orders" {
  depends_on    = [aws_iam_role_policy.metric_stream]
  name          = "%(bucket)s-orders"
  role_arn      = aws_iam_role.metric_stream.arn
  firehose_arn  = aws_kinesis_firehose_delivery_stream.orders.arn
  output_format = "json"
  include_filter {
    namespace    = "Orders"
    metric_names = ["Errors", "Requests"]
  }
  statistics_configuration {
    additional_statistics = ["p99"]
    include_metric {
      namespace   = "Orders"
      metric_name = "Requests"
    }
  }
  tags = { team = "orders" }
}
# The orders as a DynamoDB table under the data key (decision 0274): a sort key, a global
# index, time to live, point-in-time recovery, a stream of both images, tags; an item in it.
resource "aws_dynamodb_table" "orders" {
  name         = "%(bucket)s-orders"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "customer"
  range_key    = "placed"
  attribute {
    name = "customer"
    type = "S"
  }
  attribute {
    name = "placed"
    type = "N"
  }
  attribute {
    name = "status"
    type = "S"
  }
  global_secondary_index {
    name            = "by_status"
    hash_key        = "status"
    range_key       = "placed"
    projection_type = "KEYS_ONLY"
  }
  ttl {
    attribute_name = "expires"
    enabled        = true
  }
  point_in_time_recovery {
    enabled = true
  }
  stream_enabled   = true
  stream_view_type = "NEW_AND_OLD_IMAGES"
  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.data.arn
  }
  deletion_protection_enabled = false
  tags                        = { team = "orders" }
}
resource "aws_dynamodb_table_item" "first" {
  table_name = aws_dynamodb_table.orders.name
  hash_key   = aws_dynamodb_table.orders.hash_key
  range_key  = aws_dynamodb_table.orders.range_key
  item = jsonencode({
    customer = { S = "c-1" }
    placed   = { N = "1700000000" }
    status   = { S = "new" }
    total    = { N = "42.5" }
  })
}
# The table's changes piped into a queue (EventBridge Pipes, decision 0258), as a role
# allowed to read the stream (under the data key) and send to the queue.
resource "aws_sqs_queue" "changes" {
  name = "%(bucket)s-changes"
}
resource "aws_iam_role" "pipe" {
  name = "%(bucket)s-pipe"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "pipes.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}
resource "aws_iam_role_policy" "pipe" {
  name = "changes"
  role = aws_iam_role.pipe.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect = "Allow"
      Action = ["dynamodb:DescribeStream", "dynamodb:GetShardIterator",
      "dynamodb:GetRecords", "dynamodb:ListStreams"]
      Resource = aws_dynamodb_table.orders.stream_arn
      }, {
      Effect   = "Allow"
      Action   = "sqs:SendMessage"
      Resource = aws_sqs_queue.changes.arn
      }, {
      Effect   = "Allow"
      Action   = "kms:Decrypt"
      Resource = aws_kms_key.data.arn
    }]
  })
}
resource "aws_pipes_pipe" "changes" {
  depends_on = [aws_iam_role_policy.pipe]
  name       = "%(bucket)s-changes"
  role_arn   = aws_iam_role.pipe.arn
  source     = aws_dynamodb_table.orders.stream_arn
  target     = aws_sqs_queue.changes.arn
  source_parameters {
    dynamodb_stream_parameters {
      starting_position = "TRIM_HORIZON"
      batch_size        = 10
    }
  }
  tags = { team = "orders" }
}
output "changes_url" { value = aws_sqs_queue.changes.url }
# An internal Application Load Balancer in the account's default VPC, in its default group
# (none named), answering 503 until the shop has instances (decision 0274).
data "aws_vpc" "default" {
  default = true
}
data "aws_subnet" "default" {
  vpc_id         = data.aws_vpc.default.id
  default_for_az = true
}
resource "aws_lb" "shop" {
  name               = "%(bucket)s"
  load_balancer_type = "application"
  internal           = true
  subnets            = [data.aws_subnet.default.id]
  tags               = { team = "web" }
}
resource "aws_lb_target_group" "shop" {
  name     = "%(bucket)s-web"
  port     = 8080
  protocol = "HTTP"
  vpc_id   = data.aws_vpc.default.id
  health_check {
    path    = "/healthz"
    matcher = "200"
  }
}
resource "aws_lb_listener" "shop" {
  load_balancer_arn = aws_lb.shop.arn
  port              = 80
  protocol          = "HTTP"
  default_action {
    type = "fixed-response"
    fixed_response {
      content_type = "text/plain"
      message_body = "closed"
      status_code  = "503"
    }
  }
}
output "shop_arn" { value = aws_lb.shop.arn }
output "default_vpc" { value = data.aws_vpc.default.id }
# A public Route 53 zone with an A record of two addresses and a TXT record (decision 0280).
resource "aws_route53_zone" "shop" {
  name    = "%(bucket)s.example.org"
  comment = "The shop's public names"
  tags    = { team = "web" }
}
resource "aws_route53_record" "www" {
  zone_id = aws_route53_zone.shop.zone_id
  name    = "www.%(bucket)s.example.org"
  type    = "A"
  ttl     = 300
  records = ["192.0.2.10", "192.0.2.11"]
}
resource "aws_route53_record" "verification" {
  zone_id = aws_route53_zone.shop.zone_id
  name    = "%(bucket)s.example.org"
  type    = "TXT"
  ttl     = 60
  records = ["v=spf1 -all"]
}
# Decision 0284: an alias to the shop's load balancer, and two weighted sets.
resource "aws_route53_record" "shop" {
  zone_id = aws_route53_zone.shop.zone_id
  name    = "shop.%(bucket)s.example.org"
  type    = "A"
  alias {
    name                   = aws_lb.shop.dns_name
    zone_id                = aws_lb.shop.zone_id
    evaluate_target_health = true
  }
}
resource "aws_route53_record" "api" {
  for_each       = { blue = "192.0.2.20", green = "192.0.2.21" }
  zone_id        = aws_route53_zone.shop.zone_id
  name           = "api.%(bucket)s.example.org"
  type           = "A"
  ttl            = 60
  set_identifier = each.key
  records        = [each.value]
  weighted_routing_policy {
    weight = each.key == "blue" ? 3 : 1
  }
}
output "zone_id" { value = aws_route53_zone.shop.zone_id }
# Decision 0305: the shop zone's DNS queries logged into a group Route 53 may write.
resource "aws_cloudwatch_log_group" "dns" {
  name              = "/aws/route53/%(bucket)s.example.org"
  retention_in_days = 7
}
resource "aws_cloudwatch_log_resource_policy" "route53" {
  policy_name = "route53-query-logs-%(bucket)s"
  policy_document = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "route53.amazonaws.com" }
      Action    = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource  = "arn:aws:logs:%(region)s:*:log-group:/aws/route53/*"
    }]
  })
}
resource "aws_route53_query_log" "shop" {
  depends_on               = [aws_cloudwatch_log_resource_policy.route53]
  cloudwatch_log_group_arn = aws_cloudwatch_log_group.dns.arn
  zone_id                  = aws_route53_zone.shop.zone_id
}
output "query_log_id" { value = aws_route53_query_log.shop.id }
# DNSSEC signing (decision 0317): a KSK in a KMS key AWS's key policy lets Route 53 use.
resource "aws_kms_key" "dnssec" {
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
    }, {
      Sid       = "Allow Route 53 DNSSEC Service"
      Effect    = "Allow"
      Principal = { Service = "dnssec-route53.amazonaws.com" }
      Action    = ["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign"]
      Resource  = "*"
      Condition = {
        StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.me.account_id }
        ArnLike      = { "aws:SourceArn" = "arn:aws:route53:::hostedzone/*" }
      }
    }]
  })
}
resource "aws_route53_key_signing_key" "shop" {
  hosted_zone_id             = aws_route53_zone.shop.id
  key_management_service_arn = aws_kms_key.dnssec.arn
  name                       = "shop_ksk"
}
resource "aws_route53_hosted_zone_dnssec" "shop" {
  hosted_zone_id = aws_route53_key_signing_key.shop.hosted_zone_id
}
output "ds_record" { value = aws_route53_key_signing_key.shop.ds_record }
# Decision 0324: a signed child delegated from the shop zone, its DS record beside its NS set.
resource "aws_route53_record" "child_ns" {
  zone_id = aws_route53_zone.shop.zone_id
  name    = "signed.%(bucket)s.example.org"
  type    = "NS"
  ttl     = 300
  records = ["ns1.child.example.net."]
}
resource "aws_route53_record" "child_ds" {
  depends_on = [aws_route53_record.child_ns]
  zone_id    = aws_route53_zone.shop.zone_id
  name       = "signed.%(bucket)s.example.org"
  type       = "DS"
  ttl        = 300
  records    = ["12345 13 2 3A5F0C2E9E3C1D1F64A3A02BA3A9A43D0C8CFAE1B5C66D2C9A74B1BC3D4E5F60"]
}
# Step Functions (decision 0271): an activity, and a state machine that passes an order on
# to a queue as a role trusting states.amazonaws.com.
resource "aws_sfn_activity" "review" {
  name = "%(bucket)s-review"
  tags = { team = "orders" }
}
resource "aws_iam_role" "states" {
  name = "%(bucket)s-states"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "states.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}
resource "aws_iam_role_policy" "states" {
  name = "send"
  role = aws_iam_role.states.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = "sqs:SendMessage"
      Resource = aws_sqs_queue.big_orders.arn
    }]
  })
}
resource "aws_sfn_state_machine" "orders" {
  depends_on = [aws_iam_role_policy.states]
  name       = "%(bucket)s-orders"
  role_arn   = aws_iam_role.states.arn
  definition = jsonencode({
    StartAt = "Stamp"
    States = {
      Stamp = {
        Type       = "Pass"
        Result     = { source = "terraform" }
        ResultPath = "$.stamp"
        Next       = "Send"
      }
      Send = {
        Type     = "Task"
        Resource = "arn:aws:states:::sqs:sendMessage"
        Parameters = {
          QueueUrl        = aws_sqs_queue.big_orders.url
          "MessageBody.$" = "$"
        }
        End = true
      }
    }
  })
  tags    = { team = "orders" }
  publish = true
}
resource "aws_sfn_alias" "live" {
  name        = "live"
  description = "what runs in production"
  routing_configuration {
    state_machine_version_arn = aws_sfn_state_machine.orders.state_machine_version_arn
    weight                    = 100
  }
}
output "activity_arn" { value = aws_sfn_activity.review.id }
output "state_machine_arn" { value = aws_sfn_state_machine.orders.arn }
output "alias_arn" { value = aws_sfn_alias.live.arn }
# Lambda (decision 0286) through Terraform (decision 0297): a Python handler zipped by the
# test, as a role trusting lambda.amazonaws.com, published, an alias on its version, and
# EventBridge's rule allowed to invoke the alias.
resource "aws_iam_role" "lambda" {
  name = "%(bucket)s-lambda"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}
resource "aws_lambda_layer_version" "kit" {
  layer_name          = "%(bucket)s-kit"
  filename            = "%(kit_zip)s"
  source_code_hash    = filebase64sha256("%(kit_zip)s")
  compatible_runtimes = ["python3.11"]
  description         = "the stamp's kit"
}
resource "aws_lambda_function" "stamp" {
  function_name    = "%(bucket)s-stamp"
  layers           = [aws_lambda_layer_version.kit.arn]
  role             = aws_iam_role.lambda.arn
  runtime          = "python3.11"
  handler          = "stamp.handler"
  filename         = "%(stamp_zip)s"
  source_code_hash = filebase64sha256("%(stamp_zip)s")
  timeout          = 10
  memory_size      = 256
  publish          = true
  environment {
    variables = { STAMP = "terraform" }
  }
  dead_letter_config {
    target_arn = aws_sqs_queue.stamp_failures.arn
  }
  tags       = { team = "orders" }
  depends_on = [aws_iam_role_policy.lambda_send]
}
# Its asynchronous invocations (decision 0300): failed events to a dead-letter queue, and
# the alias's own retries, event age and OnFailure destination; the role may send to both.
resource "aws_sqs_queue" "stamp_failures" {
  name = "%(bucket)s-stamp-failures"
}
resource "aws_iam_role_policy" "lambda_send" {
  name = "send-failures"
  role = aws_iam_role.lambda.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = "sqs:SendMessage"
      Resource = aws_sqs_queue.stamp_failures.arn
    }]
  })
}
resource "aws_lambda_function_event_invoke_config" "stamp" {
  function_name                = aws_lambda_function.stamp.function_name
  qualifier                    = aws_lambda_alias.stamp.name
  maximum_retry_attempts       = 1
  maximum_event_age_in_seconds = 600
  destination_config {
    on_failure {
      destination = aws_sqs_queue.stamp_failures.arn
    }
  }
}
output "stamp_failures_arn" { value = aws_sqs_queue.stamp_failures.arn }
resource "aws_lambda_alias" "stamp" {
  name             = "live"
  description      = "what runs in production"
  function_name    = aws_lambda_function.stamp.function_name
  function_version = aws_lambda_function.stamp.version
}
# Decision 0314: one execution of the alias kept initialised (the provider waits for READY).
resource "aws_lambda_provisioned_concurrency_config" "stamp" {
  function_name                     = aws_lambda_function.stamp.function_name
  qualifier                         = aws_lambda_alias.stamp.name
  provisioned_concurrent_executions = 1
}
resource "aws_lambda_permission" "rule" {
  statement_id  = "big-orders-rule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.stamp.function_name
  qualifier     = aws_lambda_alias.stamp.name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.big_orders.arn
}
# A log group whose errors the function receives (decision 0304): Logs allowed by the
# function's own policy, for this group only (AWS's ":*" form of the group's ARN).
resource "aws_cloudwatch_log_group" "shipped" {
  name              = "/%(bucket)s-shipped"
  retention_in_days = 1
}
resource "aws_lambda_permission" "logs" {
  statement_id  = "shipped-logs"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.stamp.function_name
  principal     = "logs.amazonaws.com"
  source_arn    = "${aws_cloudwatch_log_group.shipped.arn}:*"
}
resource "aws_cloudwatch_log_subscription_filter" "to_function" {
  depends_on      = [aws_lambda_permission.logs]
  name            = "errors-to-function"
  log_group_name  = aws_cloudwatch_log_group.shipped.name
  filter_pattern  = "ERROR"
  destination_arn = aws_lambda_function.stamp.arn
}
# Secrets Manager may invoke the function to rotate the database password (decision 0303):
# its schedule recorded, no rotation started (the stamp function is no rotation function);
# its testSecret invoked once to test the configuration, which it passes (decision 0308).
resource "aws_lambda_permission" "rotation" {
  statement_id  = "secrets-rotation"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.stamp.function_name
  principal     = "secretsmanager.amazonaws.com"
}
resource "aws_secretsmanager_secret_rotation" "db" {
  secret_id           = aws_secretsmanager_secret.db.id
  rotation_lambda_arn = aws_lambda_function.stamp.arn
  rotate_immediately  = false
  rotation_rules {
    automatically_after_days = 30
  }
  depends_on = [aws_lambda_permission.rotation]
}
# The alias's function URL (decision 0312), public, with CORS for one origin.
resource "aws_lambda_function_url" "stamp" {
  function_name      = aws_lambda_function.stamp.function_name
  qualifier          = aws_lambda_alias.stamp.name
  authorization_type = "NONE"
  cors {
    allow_origins = ["https://orders.example"]
    allow_methods = ["POST"]
    max_age       = 300
  }
}
output "function_url" { value = aws_lambda_function_url.stamp.function_url }
output "function_arn" { value = aws_lambda_function.stamp.arn }
output "function_version" { value = aws_lambda_function.stamp.version }
output "function_alias_arn" { value = aws_lambda_alias.stamp.arn }
output "layer_version_arn" { value = aws_lambda_layer_version.kit.arn }
# A Route 53 TCP health check of the server's own port (allowed to the session's checkers by
# route53_health_check_allow_cidrs: decision 0285), and a private zone on the default VPC.
resource "aws_route53_health_check" "shop" {
  type              = "TCP"
  ip_address        = "127.0.0.1"
  port              = %(health_port)d
  request_interval  = 30
  failure_threshold = 3
  tags              = { team = "web" }
}
resource "aws_route53_zone" "internal" {
  name    = "%(bucket)s.internal"
  comment = "The shop's private names"
  vpc {
    vpc_id = data.aws_vpc.default.id
  }
  tags = { team = "web" }
}
output "health_check_id" { value = aws_route53_health_check.shop.id }
output "private_zone_id" { value = aws_route53_zone.internal.zone_id }
"""
)


def test_terraform_applies_converges_and_destroys(
    server: ServerProcess, s3: S3Client, terraform: Terraform
) -> None:
    bucket = unique_bucket("tf")
    valid_to = (datetime.now(UTC) + timedelta(days=100)).replace(microsecond=0)
    certificate_body, certificate_key = server_certificate()
    (terraform.work / "main.tf").write_text(
        CONFIGURATION
        % {
            **provider_values(terraform.work, server),
            "endpoint": server.endpoint,
            "bucket": bucket,
            "material": MATERIAL,
            "valid_to": valid_to.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "certificate": certificate_body,
            "certificate_key": certificate_key,
            "health_port": server.port,
            # Absolute: the provider runs attached, in a folder of its own.
            "stamp_zip": terraform.work / "stamp.zip",
            "kit_zip": terraform.work / "kit.zip",
        }
    )
    with zipfile.ZipFile(terraform.work / "stamp.zip", "w") as archive:
        archive.writestr("stamp.py", STAMP_HANDLER)
    with zipfile.ZipFile(terraform.work / "kit.zip", "w") as archive:
        archive.writestr("python/stamp_kit.py", STAMP_LAYER)
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
    # aws_s3_bucket_metric (decision 0187), read back with boto3.
    metrics = s3.list_bucket_metrics_configurations(Bucket=bucket)["MetricsConfigurationList"]
    assert [m["Id"] for m in metrics] == ["everything", "reports"]
    assert "Filter" not in metrics[0]
    assert metrics[1]["Filter"]["And"] == {
        "Prefix": "reports/",
        "Tags": [{"Key": "team", "Value": "finance"}],
        "AccessPointArn": point["AccessPointArn"],
    }

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

    # aws_cloudwatch_metric_alarm with metric_query blocks (decision 0183).
    cloudwatch = client_for(server, "cloudwatch", *server.credentials())
    [alarm] = cloudwatch.describe_alarms(AlarmNames=[f"{bucket}-error-rate"])["MetricAlarms"]
    queries = {q["Id"]: q for q in alarm["Metrics"]}
    assert queries["e1"]["Expression"] == "100*m1/m2" and queries["e1"]["ReturnData"]
    assert queries["m2"]["MetricStat"]["Unit"] == "Count" and not queries["m2"]["ReturnData"]
    # An anomaly detection alarm (decision 0189): its band's query named, no threshold.
    [anomaly] = cloudwatch.describe_alarms(AlarmNames=[f"{bucket}-requests-anomaly"])[
        "MetricAlarms"
    ]
    assert anomaly["ThresholdMetricId"] == "ad1" and "Threshold" not in anomaly
    # aws_cloudwatch_dashboard (decision 0185), its body as Terraform wrote it.
    board = cloudwatch.get_dashboard(DashboardName=f"{bucket}-orders")
    assert board["DashboardArn"].endswith(f":dashboard/{bucket}-orders")
    widgets = json.loads(board["DashboardBody"])["widgets"]
    assert [w["type"] for w in widgets] == ["metric", "alarm"]
    assert widgets[1]["properties"]["alarms"] == [alarm["AlarmArn"]]
    # aws_secretsmanager_secret and _version (decision 0190), read back with boto3.
    secrets = client_for(server, "secretsmanager", *server.credentials())
    value = secrets.get_secret_value(SecretId=outputs["db_secret_arn"])
    assert json.loads(value["SecretString"])["password"] == "correct horse"
    assert value["VersionId"] == outputs["db_secret_version"]
    described = secrets.describe_secret(SecretId=f"{bucket}/db")
    assert described["KmsKeyId"].endswith(f":key/{outputs['data_key_id']}")
    assert described["Tags"] == [{"Key": "app", "Value": "orders"}]
    # aws_secretsmanager_secret_rotation (decision 0303): the schedule, no rotation run yet.
    assert described["RotationEnabled"] is True
    assert described["RotationLambdaARN"] == outputs["function_arn"]
    assert described["RotationRules"] == {"AutomaticallyAfterDays": 30}
    assert "NextRotationDate" in described and "LastRotatedDate" not in described
    # aws_ssm_parameter (decision 0229), read back with boto3.
    ssm = client_for(server, "ssm", *server.credentials())
    password = ssm.get_parameter(Name=f"/{bucket}/db/password", WithDecryption=True)
    assert password["Parameter"]["Value"] == "correct horse"
    by_path = ssm.get_parameters_by_path(Path=f"/{bucket}/db")["Parameters"]
    assert [p["Name"] for p in by_path] == [f"/{bucket}/db/host", f"/{bucket}/db/password"]
    host_tags = ssm.list_tags_for_resource(
        ResourceType="Parameter", ResourceId=f"/{bucket}/db/host"
    )
    assert host_tags["TagList"] == [{"Key": "app", "Value": "orders"}]

    # aws_cloudwatch_log_group (decision 0186): its retention, key and tags as written.
    logs = client_for(server, "logs", *server.credentials())
    [group] = logs.describe_log_groups(logGroupNamePrefix=f"/{bucket}/")["logGroups"]
    assert (group["retentionInDays"], group["kmsKeyId"]) == (14, outputs["data_key_arn"])
    tags = logs.list_tags_for_resource(resourceArn=group["logGroupArn"])["tags"]
    assert tags == {"team": "orders"}
    # aws_cloudwatch_log_metric_filter (session 48): counted by DescribeLogGroups too.
    [metric_filter] = logs.describe_metric_filters(logGroupName=group["logGroupName"])[
        "metricFilters"
    ]
    assert metric_filter["metricTransformations"] == [
        {
            "metricName": "Errors5xx",
            "metricNamespace": "Orders",
            "metricValue": "1",
            "defaultValue": 0.0,
            "unit": "Count",
        }
    ]
    assert group["metricFilterCount"] == 1
    # aws_cloudwatch_log_subscription_filter (decision 0225): errors into Firehose, all into
    # the Kinesis stream.
    subscribed = logs.describe_subscription_filters(logGroupName=group["logGroupName"])
    assert sorted(
        (f["filterName"], f["destinationArn"], f["distribution"])
        for f in subscribed["subscriptionFilters"]
    ) == [
        ("all-to-stream", outputs["orders_stream_arn"], "ByLogStream"),
        ("errors-to-firehose", outputs["orders_firehose_arn"], "ByLogStream"),
    ]

    # aws_kinesis_stream (decision 0228), its consumer, and the data source's shards.
    kinesis = client_for(server, "kinesis", *server.credentials())
    summary = kinesis.describe_stream_summary(StreamName=f"{bucket}-orders")[
        "StreamDescriptionSummary"
    ]
    assert (summary["StreamStatus"], summary["RetentionPeriodHours"]) == ("ACTIVE", 48)
    assert (summary["EncryptionType"], summary["KeyId"]) == ("KMS", outputs["data_key_arn"])
    assert (summary["OpenShardCount"], summary["ConsumerCount"]) == (1, 1)
    monitored = summary["EnhancedMonitoring"][0]["ShardLevelMetrics"]  # decision 0245
    assert sorted(monitored) == ["IncomingBytes", "OutgoingBytes"]
    assert outputs["orders_stream_shards"] == ["shardId-000000000000"]
    stream_tags = kinesis.list_tags_for_stream(StreamName=f"{bucket}-orders")["Tags"]
    assert stream_tags == [{"Key": "team", "Value": "orders"}]
    # aws_kinesis_resource_policy (decision 0248).
    shared = json.loads(
        kinesis.get_resource_policy(ResourceARN=outputs["orders_stream_arn"])["Policy"]
    )
    assert shared["Statement"][0]["Sid"] == "partner-writes"
    # aws_kinesis_firehose_delivery_stream (decisions 0223, 0235): under the data key, and
    # the second reading the stream.
    firehose = client_for(server, "firehose", *server.credentials())
    direct = firehose.describe_delivery_stream(DeliveryStreamName=f"{bucket}-orders")[
        "DeliveryStreamDescription"
    ]
    assert direct["DeliveryStreamStatus"] == "ACTIVE"
    assert direct["DeliveryStreamEncryptionConfiguration"] == {
        "Status": "ENABLED",
        "KeyType": "CUSTOMER_MANAGED_CMK",
        "KeyARN": outputs["data_key_arn"],
    }
    landing = direct["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert (landing["Prefix"], landing["CompressionFormat"]) == ("firehose/", "GZIP")
    sourced = firehose.describe_delivery_stream(DeliveryStreamName=f"{bucket}-from-stream")[
        "DeliveryStreamDescription"
    ]
    assert sourced["DeliveryStreamType"] == "KinesisStreamAsSource"
    source = sourced["Source"]["KinesisStreamSourceDescription"]
    assert source["KinesisStreamARN"] == outputs["orders_stream_arn"]
    # aws_cloudwatch_contributor_insight_rule (decision 0272): its definition as written, its
    # tags on the rule's ARN.
    [insight_rule] = [
        r
        for r in cloudwatch.describe_insight_rules()["InsightRules"]
        if r["Name"] == f"{bucket}-5xx-clients"
    ]
    assert insight_rule["State"] == "ENABLED"
    assert json.loads(insight_rule["Definition"])["Fields"] == {"1": "ip", "6": "status"}
    account = outputs["data_key_arn"].split(":")[4]
    rule_arn = f"arn:aws:cloudwatch:{REGION}:{account}:insight-rule/{bucket}-5xx-clients"
    assert cloudwatch.list_tags_for_resource(ResourceARN=rule_arn)["Tags"] == [
        {"Key": "team", "Value": "orders"}
    ]
    # aws_cloudwatch_metric_stream (decision 0233) into the Direct PUT stream.
    metric_stream = cloudwatch.get_metric_stream(Name=f"{bucket}-orders")
    assert (metric_stream["State"], metric_stream["FirehoseArn"]) == (
        "running",
        outputs["orders_firehose_arn"],
    )
    assert metric_stream["StatisticsConfigurations"][0]["AdditionalStatistics"] == ["p99"]

    # aws_cloudwatch_event_rule and _target (decision 0192): an event PutEvents puts reaches
    # the queue through the rule's input transformer.
    events = client_for(server, "events", *server.credentials())
    rule = events.describe_rule(Name=f"{bucket}-big-orders")
    assert (rule["State"], rule["Description"]) == ("ENABLED", "Orders over 100")
    events.put_events(
        Entries=[
            {"Source": "shop.orders", "DetailType": "Order", "Detail": json.dumps({"amount": n})}
            for n in (5, 250)
        ]
    )
    got = sqs.receive_message(QueueUrl=outputs["big_orders_url"], WaitTimeSeconds=10)
    assert [json.loads(m["Body"]) for m in got["Messages"]] == [{"amount": 250}]
    sqs.delete_message(
        QueueUrl=outputs["big_orders_url"], ReceiptHandle=got["Messages"][0]["ReceiptHandle"]
    )
    # aws_sns_topic, _topic_policy and _topic_subscription (decision 0163's session 50
    # addendum): what the provider wrote is served, and a high alert, only it, reaches the
    # queue raw through the filter policy.
    sns = client_for(server, "sns", *server.credentials())
    topic = sns.get_topic_attributes(TopicArn=outputs["alerts_arn"])["Attributes"]
    assert (topic["DisplayName"], topic["SubscriptionsConfirmed"]) == ("Order alerts", "1")
    assert json.loads(topic["Policy"])["Statement"][0]["Sid"] == "owner"
    assert sns.list_tags_for_resource(ResourceArn=outputs["alerts_arn"])["Tags"] == [
        {"Key": "team", "Value": "orders"}
    ]
    subscription = sns.get_subscription_attributes(
        SubscriptionArn=outputs["big_alerts_subscription"]
    )["Attributes"]
    assert (subscription["RawMessageDelivery"], subscription["PendingConfirmation"]) == (
        "true",
        "false",
    )
    for severity in ("low", "high"):
        sns.publish(
            TopicArn=outputs["alerts_arn"],
            Message=f"{severity} alert",
            MessageAttributes={"severity": {"DataType": "String", "StringValue": severity}},
        )
    got = sqs.receive_message(QueueUrl=outputs["big_orders_url"], WaitTimeSeconds=15)
    assert [m["Body"] for m in got["Messages"]] == ["high alert"]
    fifo = sns.get_topic_attributes(TopicArn=outputs["order_events_arn"])["Attributes"]
    assert (fifo["FifoTopic"], fifo["ContentBasedDeduplication"]) == ("true", "true")
    assert fifo["KmsMasterKeyId"] == f"alias/{bucket}"  # decision 0212, as written
    # A message through the topic's key into the FIFO queue (which holds "order 1" too).
    sns.publish(TopicArn=outputs["order_events_arn"], Message="order 2", MessageGroupId="c-2")
    bodies: list[str] = []
    deadline = time.monotonic() + 15
    while "order 2" not in bodies and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=orders, MaxNumberOfMessages=10, WaitTimeSeconds=2)
        bodies += [m["Body"] for m in got.get("Messages", [])]
    assert "order 2" in bodies
    # aws_cloudwatch_event_archive (decision 0196) on the orders bus, its pattern as written.
    archive = events.describe_archive(ArchiveName=f"{bucket}-big-orders")
    assert (archive["State"], archive["RetentionDays"]) == ("ENABLED", 30)
    # The big order forwarded onto the orders bus by the rule's bus target (decision 0273).
    deadline = time.monotonic() + 15
    while archive["EventCount"] < 1 and time.monotonic() < deadline:
        time.sleep(0.5)
        archive = events.describe_archive(ArchiveName=f"{bucket}-big-orders")
    assert archive["EventCount"] == 1
    assert archive["EventSourceArn"].endswith(f":event-bus/{bucket}-orders")
    assert json.loads(archive["EventPattern"])["source"] == ["shop.orders"]
    # aws_cloudwatch_event_connection and _api_destination (decision 0200): authorized at
    # once, the key's value never shown; a rule's target through the role.
    connection = events.describe_connection(Name=f"{bucket}-crm")
    assert connection["ConnectionState"] == "AUTHORIZED"
    assert connection["AuthParameters"]["ApiKeyAuthParameters"] == {"ApiKeyName": "x-api-key"}
    destination = events.describe_api_destination(Name=f"{bucket}-crm")
    assert (destination["ApiDestinationState"], destination["ConnectionArn"]) == (
        "ACTIVE",
        outputs["crm_connection_arn"],
    )
    [crm] = events.list_targets_by_rule(Rule=f"{bucket}-crm", EventBusName=f"{bucket}-orders")[
        "Targets"
    ]
    assert crm["Arn"] == outputs["crm_destination_arn"]
    assert crm["HttpParameters"]["HeaderParameters"] == {"x-source": "terraform"}

    iam = client_for(server, "iam", *server.credentials())
    web = iam.get_server_certificate(ServerCertificateName=f"{bucket}-web")["ServerCertificate"]
    assert web["ServerCertificateMetadata"]["Path"] == "/web/"
    assert web["CertificateBody"].strip() == certificate_body.strip()
    assert web["Tags"] == [{"Key": "team", "Value": "web"}]
    acm = client_for(server, "acm", *server.credentials())
    imported = acm.describe_certificate(CertificateArn=outputs["acm_certificate_arn"])
    assert (imported["Certificate"]["Type"], imported["Certificate"]["DomainName"]) == (
        "IMPORTED", "victim.example"
    )  # fmt: skip
    tags = acm.list_tags_for_certificate(CertificateArn=outputs["acm_certificate_arn"])["Tags"]
    assert tags == [{"Key": "team", "Value": "web"}]
    fleet = iam.get_role(RoleName=f"AWSServiceRoleForAutoScaling_{bucket}")["Role"]
    assert fleet["Path"] == "/aws-service-role/autoscaling.amazonaws.com/"
    assert fleet["Description"] == "the fleet's"

    # aws_dynamodb_table and _table_item (decision 0274): under the data key, its index, time
    # to live, recovery, stream and tags as written; the item's insert piped into the queue.
    dynamodb: Any = client_for(server, "dynamodb", *server.credentials())
    table = dynamodb.describe_table(TableName=f"{bucket}-orders")["Table"]
    assert table["SSEDescription"]["KMSMasterKeyArn"] == outputs["data_key_arn"]
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["by_status"]
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert table["DeletionProtectionEnabled"] is False
    time_to_live = dynamodb.describe_time_to_live(TableName=f"{bucket}-orders")
    assert time_to_live["TimeToLiveDescription"]["AttributeName"] == "expires"
    recovery = dynamodb.describe_continuous_backups(TableName=f"{bucket}-orders")
    assert (
        recovery["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"][
            "PointInTimeRecoveryStatus"
        ]
        == "ENABLED"
    )
    item = dynamodb.get_item(
        TableName=f"{bucket}-orders", Key={"customer": {"S": "c-1"}, "placed": {"N": "1700000000"}}
    )["Item"]
    assert item["total"] == {"N": "42.5"}
    pipes = client_for(server, "pipes", *server.credentials())
    assert pipes.describe_pipe(Name=f"{bucket}-changes")["CurrentState"] == "RUNNING"
    changes: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    while not changes and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=outputs["changes_url"], WaitTimeSeconds=5)
        changes += [json.loads(m["Body"]) for m in got.get("Messages", [])]
    assert [(c["eventName"], c["dynamodb"]["NewImage"]["status"]) for c in changes] == [
        ("INSERT", {"S": "new"})
    ]
    # aws_lb, _target_group and _listener (decision 0274): in the VPC's default group.
    elb = client_for(server, "elbv2", *server.credentials())
    [shop] = elb.describe_load_balancers(LoadBalancerArns=[outputs["shop_arn"]])["LoadBalancers"]
    ec2 = client_for(server, "ec2", *server.credentials())
    [default_group] = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [outputs["default_vpc"]]},
                 {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"]  # fmt: skip
    assert (shop["Type"], shop["SecurityGroups"]) == ("application", [default_group["GroupId"]])
    [listener] = elb.describe_listeners(LoadBalancerArn=outputs["shop_arn"])["Listeners"]
    assert listener["DefaultActions"][0]["FixedResponseConfig"]["StatusCode"] == "503"

    # aws_route53_zone and _record (decision 0280): public, commented, tagged; the A record's
    # two addresses and the TXT record quoted as DNS carries it.
    route53 = client_for(server, "route53", *server.credentials())
    zone = route53.get_hosted_zone(Id=outputs["zone_id"])["HostedZone"]
    assert (zone["Name"], zone["Config"]) == (
        f"{bucket}.example.org.",
        {"Comment": "The shop's public names", "PrivateZone": False},
    )
    zone_tags = route53.list_tags_for_resource(
        ResourceType="hostedzone", ResourceId=outputs["zone_id"]
    )
    assert zone_tags["ResourceTagSet"]["Tags"] == [{"Key": "team", "Value": "web"}]
    # aws_route53_query_log (decision 0305): the zone's queries into the group.
    query_log = route53.get_query_logging_config(Id=outputs["query_log_id"])["QueryLoggingConfig"]
    assert query_log["HostedZoneId"] == outputs["zone_id"]
    dnssec = route53.get_dnssec(HostedZoneId=outputs["zone_id"])
    assert dnssec["Status"]["ServeSignature"] == "SIGNING"
    assert [k["DSRecord"] for k in dnssec["KeySigningKeys"]] == [outputs["ds_record"]]
    assert query_log["CloudWatchLogsLogGroupArn"].endswith(
        f":log-group:/aws/route53/{bucket}.example.org"
    )
    record_sets = route53.list_resource_record_sets(HostedZoneId=outputs["zone_id"])
    records = {
        (r["Name"], r["Type"], r.get("SetIdentifier"), r.get("Weight")): sorted(
            v["Value"] for v in r.get("ResourceRecords", [])
        )
        for r in record_sets["ResourceRecordSets"]
        if r["Type"] in ("A", "TXT", "DS")
    }
    assert records == {
        (f"signed.{bucket}.example.org.", "DS", None, None): [
            "12345 13 2 3A5F0C2E9E3C1D1F64A3A02BA3A9A43D0C8CFAE1B5C66D2C9A74B1BC3D4E5F60"
        ],
        (f"www.{bucket}.example.org.", "A", None, None): ["192.0.2.10", "192.0.2.11"],
        (f"{bucket}.example.org.", "TXT", None, None): ['"v=spf1 -all"'],
        (f"api.{bucket}.example.org.", "A", "blue", 3): ["192.0.2.20"],
        (f"api.{bucket}.example.org.", "A", "green", 1): ["192.0.2.21"],
        (f"shop.{bucket}.example.org.", "A", None, None): [],
    }
    # The alias (decision 0284) names the load balancer as DescribeLoadBalancers gives it.
    shop_alias = next(
        r["AliasTarget"] for r in record_sets["ResourceRecordSets"] if "AliasTarget" in r
    )
    shop_lb = client_for(server, "elbv2", *server.credentials()).describe_load_balancers(
        LoadBalancerArns=[outputs["shop_arn"]]
    )["LoadBalancers"][0]
    assert (
        shop_alias["HostedZoneId"],
        shop_alias["DNSName"],
        shop_alias["EvaluateTargetHealth"],
    ) == (shop_lb["CanonicalHostedZoneId"], shop_lb["DNSName"].lower() + ".", True)
    # aws_sfn_activity and _state_machine (decision 0271): the definition as written, run to
    # the queue.
    states = client_for(server, "stepfunctions", *server.credentials())
    activity = states.describe_activity(activityArn=outputs["activity_arn"])
    assert activity["name"] == f"{bucket}-review"
    machine = states.describe_state_machine(stateMachineArn=outputs["state_machine_arn"])
    assert (machine["type"], machine["status"]) == ("STANDARD", "ACTIVE")
    assert json.loads(machine["definition"])["States"]["Send"]["Resource"] == (
        "arn:aws:states:::sqs:sendMessage"
    )
    assert machine["roleArn"].endswith(f":role/{bucket}-states")
    # aws_sfn_alias (decision 0283): routing all to the version published with the machine.
    alias = states.describe_state_machine_alias(stateMachineAliasArn=outputs["alias_arn"])
    assert alias["routingConfiguration"] == [
        {"stateMachineVersionArn": f"{outputs['state_machine_arn']}:1", "weight": 100}
    ]

    # aws_lambda_function, _alias and _permission (decision 0297): the zip the test made, run
    # through the alias on the version published with the function; the rule allowed on it.
    functions = client_for(server, "lambda", *server.credentials())
    stamp = functions.get_function(FunctionName=outputs["function_arn"])
    config = stamp["Configuration"]
    assert (config["Runtime"], config["Handler"], config["MemorySize"], config["Timeout"]) == (
        "python3.11",
        "stamp.handler",
        256,
        10,
    )
    assert config["Environment"]["Variables"] == {"STAMP": "terraform"}
    assert config["Role"].endswith(f":role/{bucket}-lambda")
    assert stamp["Tags"] == {"team": "orders"}
    alias_config = functions.get_alias(FunctionName=outputs["function_arn"], Name="live")
    assert (alias_config["AliasArn"], alias_config["FunctionVersion"]) == (
        outputs["function_alias_arn"],
        outputs["function_version"],
    )
    assert outputs["function_version"] == "1"
    # aws_lambda_provisioned_concurrency_config (decision 0314): READY, the provider waited.
    warm = functions.get_provisioned_concurrency_config(
        FunctionName=outputs["function_arn"], Qualifier="live"
    )
    assert (warm["Status"], warm["AllocatedProvisionedConcurrentExecutions"]) == ("READY", 1)
    invoked = functions.invoke(FunctionName=outputs["function_alias_arn"], Payload=b'{"order": 7}')
    assert json.loads(invoked["Payload"].read()) == {
        "stamp": "terraform",
        "order": 7,
        "kit": "from the layer",
    }
    # aws_lambda_layer_version (decision 0302): the function runs with the layer it names.
    assert [layer["Arn"] for layer in config["Layers"]] == [outputs["layer_version_arn"]]
    assert outputs["layer_version_arn"].endswith(f":layer:{bucket}-kit:1")
    policy = functions.get_policy(FunctionName=outputs["function_arn"], Qualifier="live")
    statements = {s["Sid"]: s for s in json.loads(policy["Policy"])["Statement"]}
    # The provider gives a NONE function URL its public statement itself (decision 0312).
    assert sorted(statements) == ["FunctionURLAllowPublicAccess", "big-orders-rule"]
    public = statements["FunctionURLAllowPublicAccess"]
    assert (public["Principal"], public["Action"], public["Condition"]) == (
        "*",
        "lambda:InvokeFunctionUrl",
        {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}},
    )
    permission = statements["big-orders-rule"]
    assert (permission["Sid"], permission["Principal"]) == (
        "big-orders-rule",
        {"Service": "events.amazonaws.com"},
    )
    assert permission["Resource"] == outputs["function_alias_arn"]
    # aws_cloudwatch_log_subscription_filter into the function (decision 0304), no role.
    [shipped] = logs.describe_subscription_filters(logGroupName=f"/{bucket}-shipped")[
        "subscriptionFilters"
    ]
    assert (shipped["filterName"], shipped["destinationArn"]) == (
        "errors-to-function",
        outputs["function_arn"],
    )
    assert "roleArn" not in shipped
    # aws_lambda_function's dead_letter_config and aws_lambda_function_event_invoke_config
    # (decision 0300), the alias's own.
    assert config["DeadLetterConfig"] == {"TargetArn": outputs["stamp_failures_arn"]}
    invoke_config = functions.get_function_event_invoke_config(
        FunctionName=outputs["function_arn"], Qualifier="live"
    )
    assert (invoke_config["MaximumRetryAttempts"], invoke_config["MaximumEventAgeInSeconds"]) == (
        1,
        600,
    )
    assert invoke_config["DestinationConfig"]["OnFailure"] == {
        "Destination": outputs["stamp_failures_arn"]
    }
    # aws_lambda_function_url (decision 0312): the alias's, as Lambda keeps it.
    url = functions.get_function_url_config(FunctionName=outputs["function_arn"], Qualifier="live")
    assert (url["FunctionUrl"], url["AuthType"]) == (outputs["function_url"], "NONE")
    cors = url["Cors"]
    assert (cors["AllowOrigins"], cors["AllowMethods"], cors["MaxAge"]) == (
        ["https://orders.example"], ["POST"], 300
    )  # fmt: skip
    served = requests.post(
        f"{server.endpoint}/", json={"order": 9}, timeout=60,
        headers={"Host": urlsplit(url["FunctionUrl"]).netloc, "Origin": "https://orders.example"},
    )  # fmt: skip
    assert served.status_code == 200, served.text
    assert served.json()["stamp"] == "terraform"  # the event's body is no "order" member
    assert served.headers["Access-Control-Allow-Origin"] == "https://orders.example"
    # aws_route53_health_check (decision 0285): the TCP check of the server's own port, which
    # the gateway's rounds find healthy; and the private zone on the default VPC.
    health = route53.get_health_check(HealthCheckId=outputs["health_check_id"])["HealthCheck"]
    checked = health["HealthCheckConfig"]
    assert (checked["Type"], checked["IPAddress"], checked["Port"]) == (
        "TCP",
        "127.0.0.1",
        server.port,
    )
    health_tags = route53.list_tags_for_resource(
        ResourceType="healthcheck", ResourceId=outputs["health_check_id"]
    )
    assert health_tags["ResourceTagSet"]["Tags"] == [{"Key": "team", "Value": "web"}]
    deadline = time.monotonic() + 20
    observations: list[Any] = []
    while not observations and time.monotonic() < deadline:
        observations = route53.get_health_check_status(HealthCheckId=outputs["health_check_id"])[
            "HealthCheckObservations"
        ]
        time.sleep(0 if observations else 1)
    assert observations[0]["StatusReport"]["Status"].startswith("Success")
    private = route53.get_hosted_zone(Id=outputs["private_zone_id"])
    assert private["HostedZone"]["Config"]["PrivateZone"] is True
    assert [v["VPCId"] for v in private["VPCs"]] == [outputs["default_vpc"]]
    by_vpc = route53.list_hosted_zones_by_vpc(VPCId=outputs["default_vpc"], VPCRegion=REGION)
    assert outputs["private_zone_id"] in [z["HostedZoneId"] for z in by_vpc["HostedZoneSummaries"]]

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
    assert cloudwatch.list_dashboards(DashboardNamePrefix=bucket)["DashboardEntries"] == []
    listed = secrets.list_secrets(IncludePlannedDeletion=True)["SecretList"]
    assert f"{bucket}/db" not in [s["Name"] for s in listed]
    assert logs.describe_log_groups(logGroupNamePrefix=f"/{bucket}/")["logGroups"] == []
    assert bucket not in " ".join(kinesis.list_streams()["StreamNames"])
    assert bucket not in " ".join(firehose.list_delivery_streams()["DeliveryStreamNames"])
    metric_streams = cloudwatch.list_metric_streams()["Entries"]
    assert [entry for entry in metric_streams if bucket in entry["Name"]] == []
    assert events.list_rules(NamePrefix=bucket)["Rules"] == []
    assert events.list_archives(NamePrefix=bucket)["Archives"] == []
    assert [t for t in sns.list_topics()["Topics"] if bucket in t["TopicArn"]] == []
    assert events.list_connections(NamePrefix=bucket)["Connections"] == []
    assert events.list_api_destinations(NamePrefix=bucket)["ApiDestinations"] == []
    with pytest.raises(ClientError) as unlinked:  # deleted through DeleteServiceLinkedRole
        iam.get_role(RoleName=f"AWSServiceRoleForAutoScaling_{bucket}")
    assert unlinked.value.response["Error"]["Code"] == "NoSuchEntity"
    with pytest.raises(ClientError) as unimported:
        acm.describe_certificate(CertificateArn=outputs["acm_certificate_arn"])
    assert unimported.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert f"{bucket}-orders" not in dynamodb.list_tables()["TableNames"]
    assert pipes.list_pipes(NamePrefix=bucket)["Pipes"] == []
    with pytest.raises(ClientError) as unbalanced:
        elb.describe_load_balancers(LoadBalancerArns=[outputs["shop_arn"]])
    assert unbalanced.value.response["Error"]["Code"] == "LoadBalancerNotFound"
    with pytest.raises(ClientError) as unzoned:
        route53.get_hosted_zone(Id=outputs["zone_id"])
    assert unzoned.value.response["Error"]["Code"] == "NoSuchHostedZone"
    with pytest.raises(ClientError) as unlogged:
        route53.get_query_logging_config(Id=outputs["query_log_id"])
    assert unlogged.value.response["Error"]["Code"] == "NoSuchQueryLoggingConfig"
    activities = states.list_activities()["activities"]
    assert [a for a in activities if bucket in a["name"]] == []
    with pytest.raises(ClientError) as unfunctioned:
        functions.get_function(FunctionName=outputs["function_arn"])
    assert unfunctioned.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as unchecked:
        route53.get_health_check(HealthCheckId=outputs["health_check_id"])
    assert unchecked.value.response["Error"]["Code"] == "NoSuchHealthCheck"
    with pytest.raises(ClientError) as unprivate:
        route53.get_hosted_zone(Id=outputs["private_zone_id"])
    assert unprivate.value.response["Error"]["Code"] == "NoSuchHostedZone"
    machines = states.list_state_machines()["stateMachines"]
    assert [m for m in machines if bucket in m["name"]] == []


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


BACKEND_TABLE = """
terraform {
  backend "s3" {
    bucket                      = "%(bucket)s"
    key                         = "team/data.tfstate"
    region                      = "%(region)s"
    shared_credentials_files    = ["%(credentials)s"]
    profile                     = "andromede"
    endpoints                   = { s3 = "%(endpoint)s", dynamodb = "%(endpoint)s" }
    use_path_style              = true
    dynamodb_table              = "%(table)s"
    skip_credentials_validation = true
    skip_requesting_account_id  = true
    skip_metadata_api_check     = true
    skip_region_validation      = true
  }
}
resource "terraform_data" "marker" {
  input = "%(marker)s"
}
resource "aws_dynamodb_table" "app" {
  name         = "app-%(bucket)s"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id"
  range_key    = "at"
  attribute {
    name = "id"
    type = "S"
  }
  attribute {
    name = "at"
    type = "N"
  }
  attribute {
    name = "owner"
    type = "S"
  }
  global_secondary_index {
    name               = "by_owner"
    hash_key           = "owner"
    range_key          = "at"
    projection_type    = "INCLUDE"
    non_key_attributes = ["title"]
  }
  ttl {
    attribute_name = "expires"
    enabled        = true
  }
  stream_enabled   = true
  stream_view_type = "NEW_AND_OLD_IMAGES"
  deletion_protection_enabled = %(protected)s
  point_in_time_recovery {
    enabled = true
  }
  tags = { team = "%(marker)s" }
}
"""


def test_the_s3_backend_locks_state_in_a_dynamodb_table(
    server: ServerProcess, s3: S3Client, terraform: Terraform
) -> None:
    """Terraform's S3 backend with ``dynamodb_table`` (decision 0237): the lock is an item put
    with ``attribute_not_exists(LockID)``, the state's digest an item beside it; a run finding
    the lock held stops, and runs once it is released. The configuration also holds an
    ``aws_dynamodb_table`` (a sort key, a global secondary index, time to live, a stream
    (decision 0246), tags, deletion protection turned on then off and point-in-time recovery
    (decision 0253)): applied, changed, destroyed."""
    bucket = unique_bucket("tfstate")
    s3.create_bucket(Bucket=bucket)
    dynamodb: Any = client_for(server, "dynamodb", *server.credentials())
    table = f"locks-{bucket}"
    dynamodb.create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
    )  # fmt: skip
    values = {**provider_values(terraform.work, server), "endpoint": server.endpoint,
              "bucket": bucket, "table": table}  # fmt: skip
    main = terraform.work / "main.tf"
    main.write_text((aws_provider() + BACKEND_TABLE) % {**values, "marker": "v1",
                                                         "protected": "true"})  # fmt: skip
    terraform("init", "-input=false")
    terraform("apply", "-auto-approve", "-input=false")
    lock_id = f"{bucket}/team/data.tfstate"
    held = dynamodb.scan(TableName=table)["Items"]
    assert [i["LockID"]["S"] for i in held] == [f"{lock_id}-md5"]  # the digest; lock released
    dynamodb.put_item(TableName=table, Item={"LockID": {"S": lock_id},
                                             "Info": {"S": '{"ID":"another-run"}'}})  # fmt: skip
    described = dynamodb.describe_table(TableName=f"app-{bucket}")["Table"]
    assert [k["AttributeName"] for k in described["KeySchema"]] == ["id", "at"]
    (index,) = described["GlobalSecondaryIndexes"]  # decision 0243
    assert (index["IndexName"], index["IndexStatus"]) == ("by_owner", "ACTIVE")
    assert described["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert "/stream/" in described["LatestStreamArn"]  # decision 0246
    assert described["DeletionProtectionEnabled"] is True  # decision 0253
    recovery = dynamodb.describe_continuous_backups(TableName=f"app-{bucket}")
    assert (
        recovery["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"][
            "PointInTimeRecoveryStatus"
        ]
        == "ENABLED"
    )
    main.write_text((aws_provider() + BACKEND_TABLE) % {**values, "marker": "v2",
                                                         "protected": "false"})  # fmt: skip
    blocked = terraform("apply", "-auto-approve", "-input=false", "-lock-timeout=0s", check=False)
    assert blocked.returncode != 0
    assert "Error acquiring the state lock" in blocked.stderr, blocked.stderr[-3000:]
    dynamodb.delete_item(TableName=table, Key={"LockID": {"S": lock_id}})
    terraform("apply", "-auto-approve", "-input=false", "-lock-timeout=0s")
    arn = dynamodb.describe_table(TableName=f"app-{bucket}")["Table"]["TableArn"]
    assert dynamodb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [
        {"Key": "team", "Value": "v2"}
    ]
    terraform("destroy", "-auto-approve", "-input=false")
    assert f"app-{bucket}" not in dynamodb.list_tables()["TableNames"]
    for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=item["Key"])
    s3.delete_bucket(Bucket=bucket)
    dynamodb.delete_table(TableName=table)
