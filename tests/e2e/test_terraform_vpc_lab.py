"""Terraform's AWS provider against a real ``andromede serve``: a VPC lab launched from a launch
template (its networks, gateways, addresses, ACLs, groups, endpoints, an Auto Scaling group and
a second interface; a step scaling policy and the CloudWatch alarm invoking it, decision
0177; a predictive scaling policy that only forecasts, decision 0197; a second, empty group
with a mixed instances policy, decision 0209), with two more VPCs
peered in its configuration. A module of its own, so
that a parallel run gives it a worker of its own: most of its time is the provider's waiting,
above all ``aws_network_interface_attachment``'s destroy, whose detach waiter counts twenty
"not found" reads of the detached attachment (10 s apart once its backoff has grown) before it
takes the attachment for gone, about 150 s, as it does against AWS
(hashicorp/terraform-provider-aws#45835; decision 0167).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.iam_helpers import client_for
from e2e.terraform_kit import (
    DEFAULT_TAGS,
    DESTROY_AFTER_PLAN,
    Terraform,
    aws_provider,
    server_endpoint,
    terraform_ec2_server,
)
from support.qemu_host import import_image
from support.server import REGION, ServerProcess

# Terraform's AWS provider polls with its own delays (55 s of lifecycle re-reads, volume
# modifications, a guest's boot): 100 to 140 s a test on a quick machine, over 300 s on a slow
# one.
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def ec2_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with terraform_ec2_server(tmp_path_factory) as server:
        yield server


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
    aws_provider(default_tags=DEFAULT_TAGS)
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
  # Decision 0182: instance protection, a suspended process and the group's metrics.
  protect_from_scale_in = true
  suspended_processes   = ["AZRebalance"]
  enabled_metrics       = ["GroupDesiredCapacity", "GroupInServiceInstances"]
  metrics_granularity   = "1Minute"
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
# A second group, empty (no instance to boot), whose mixed instances policy weighs two types
# and splits On-Demand and Spot (decision 0209 and its session-51 addendum).
resource "aws_autoscaling_group" "mixed" {
  name                = "%(name)s-mixed"
  min_size            = 0
  max_size            = 4
  desired_capacity    = 0
  vpc_zone_identifier = [aws_subnet.data.id]
  capacity_rebalance  = true
  mixed_instances_policy {
    launch_template {
      launch_template_specification {
        launch_template_id = aws_launch_template.pool.id
        version            = "$Latest"
      }
      override {
        instance_type     = "t3.nano"
        weighted_capacity = "1"
      }
      override {
        instance_type     = "t3.micro"
        weighted_capacity = "2"
      }
    }
    instances_distribution {
      on_demand_base_capacity                  = 1
      on_demand_percentage_above_base_capacity = 25
      spot_allocation_strategy                 = "capacity-optimized"
    }
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
# A predictive policy that only forecasts, from the group's CPU (decision 0197).
resource "aws_autoscaling_policy" "forecast" {
  name                   = "forecast"
  autoscaling_group_name = aws_autoscaling_group.pool.name
  policy_type            = "PredictiveScaling"
  predictive_scaling_configuration {
    mode = "ForecastOnly"
    metric_specification {
      target_value = 40
      predefined_metric_pair_specification {
        predefined_metric_type = "ASGCPUUtilization"
      }
    }
  }
}
# A step policy and the alarm that invokes it (decision 0177).
resource "aws_autoscaling_policy" "out" {
  name                      = "out"
  autoscaling_group_name    = aws_autoscaling_group.pool.name
  policy_type               = "StepScaling"
  adjustment_type           = "ChangeInCapacity"
  metric_aggregation_type   = "Maximum"
  estimated_instance_warmup = 120
  step_adjustment {
    scaling_adjustment          = 1
    metric_interval_lower_bound = 0
  }
}
resource "aws_cloudwatch_metric_alarm" "busy" {
  alarm_name          = "%(name)s-busy"
  namespace           = "Lab"
  metric_name         = "QueueDepth"
  dimensions          = { Pool = aws_autoscaling_group.pool.name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 2
  datapoints_to_alarm = 1
  threshold           = 100
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_autoscaling_policy.out.arn]
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
    0153), an ``aws_autoscaling_group`` of one instance over its own launch template (its
    instances protected from scale-in, AZRebalance suspended, two metrics collected: decision
    0182) and a second, empty one with a ``mixed_instances_policy`` (weighted overrides, an
    On-Demand base and percentage, a Spot strategy, ``capacity_rebalance``: decision 0209) with
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
        "endpoints": server_endpoint(terraform.work, ec2_server.endpoint),
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
    # protect_from_scale_in, suspended_processes, enabled_metrics (decision 0182).
    assert pool["NewInstancesProtectedFromScaleIn"] is True and member["ProtectedFromScaleIn"]
    assert [p["ProcessName"] for p in pool["SuspendedProcesses"]] == ["AZRebalance"]
    assert sorted(m["Metric"] for m in pool["EnabledMetrics"]) == [
        "GroupDesiredCapacity",
        "GroupInServiceInstances",
    ]
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
    # aws_autoscaling_group with a mixed_instances_policy (decision 0209): read back as written.
    [mixed] = autoscaling.describe_auto_scaling_groups(
        AutoScalingGroupNames=[f"{values['name']}-mixed"]
    )["AutoScalingGroups"]
    assert "LaunchTemplate" not in mixed and mixed["CapacityRebalance"] is True
    policy_template = mixed["MixedInstancesPolicy"]["LaunchTemplate"]
    mixed_template = policy_template["LaunchTemplateSpecification"]
    assert mixed_template["LaunchTemplateId"] == outputs["pool"]["template_id"]
    assert [(o["InstanceType"], o["WeightedCapacity"]) for o in policy_template["Overrides"]] == [
        ("t3.nano", "1"),
        ("t3.micro", "2"),
    ]
    distribution = mixed["MixedInstancesPolicy"]["InstancesDistribution"]
    assert (
        distribution["OnDemandBaseCapacity"],
        distribution["OnDemandPercentageAboveBaseCapacity"],
        distribution["SpotAllocationStrategy"],
    ) == (1, 25, "capacity-optimized")
    assert mixed["Instances"] == []
    # aws_autoscaling_policy and aws_cloudwatch_metric_alarm (decision 0177): the alarm
    # invokes the step policy, both as the provider wrote them.
    [policy] = autoscaling.describe_policies(
        AutoScalingGroupName=pool["AutoScalingGroupName"], PolicyNames=["out"]
    )["ScalingPolicies"]
    assert (policy["PolicyType"], policy["MetricAggregationType"]) == ("StepScaling", "Maximum")
    assert policy["StepAdjustments"] == [{"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 1}]
    cloudwatch = client_for(ec2_server, "cloudwatch", *ec2_server.credentials())
    [alarm] = cloudwatch.describe_alarms(AlarmNames=[f"{values['name']}-busy"])["MetricAlarms"]
    assert alarm["AlarmActions"] == [policy["PolicyARN"]]
    assert (alarm["DatapointsToAlarm"], alarm["TreatMissingData"]) == (1, "notBreaching")
    tags = cloudwatch.list_tags_for_resource(ResourceARN=alarm["AlarmArn"])["Tags"]
    assert {t["Key"]: t["Value"] for t in tags} == DEFAULT_TAGS
    # aws_autoscaling_policy of type PredictiveScaling, ForecastOnly (decision 0197).
    [forecast] = autoscaling.describe_policies(
        AutoScalingGroupName=pool["AutoScalingGroupName"], PolicyNames=["forecast"]
    )["ScalingPolicies"]
    predictive = forecast["PredictiveScalingConfiguration"]
    assert (forecast["PolicyType"], predictive["Mode"]) == ("PredictiveScaling", "ForecastOnly")
    assert "SchedulingBufferTime" not in predictive  # not given: AWS shows none (no drift)
    [specification] = predictive["MetricSpecifications"]
    assert specification["TargetValue"] == 40.0
    assert specification["PredefinedMetricPairSpecification"] == {
        "PredefinedMetricType": "ASGCPUUtilization"
    }
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
