"""Tenant networks end to end, with real guests: boto3 against ``andromede serve`` with
``hypervisor = qemu`` on a host that can build bridges (root; skipped otherwise).

- two instances of one tenant reach each other (the default security group lets members in);
- another tenant's instance, on the same private range (a VPC and subnet of its own: its DHCP
  lease comes from that subnet), cannot reach the first tenant's instance at the public
  address the host reaches it at, even with its port open to all;
- an instance launched with an instance profile reads its role's credentials from
  169.254.169.254 (IMDSv2: a token first), and those credentials read the tenant's bucket;
  its metadata options (decision 0145) show it its tags and refuse it a read without a token;
- that instance's DHCP lease names its VPC's resolver and the Region's domain, through which it
  resolves the other instance's private DNS name and its own, until the VPC's DNS hostnames are
  turned off (decision 0143);
- that other tenant's instance has a public address, yet the host does not reach it until
  its VPC has an internet gateway and its subnet's route table a route to it, nor once the
  route is deleted (decision 0121); an Elastic IP associated with it reaches it too — unless
  a deny entry of its subnet's network ACL keeps the host out (decision 0128) — and no longer
  once disassociated (decision 0125);
- routed to a NAT gateway in another subnet of its VPC (decision 0129), what it sends to the
  Internet — an address of the host's own, here — arrives from the gateway's Elastic IP, not
  from its own public address;
- once its VPC has a gateway endpoint to the object store on its subnet's route table
  (decision 0160), the reader reads an object at the store's address as guests see it
  (``vpc_endpoint_s3_addresses``, an address no host has) — kernel DNAT, the agent's endpoint
  listener and forwarder, the gateway's gate, S3 — anonymously, under a bucket policy that
  allows only ``aws:SourceVpce``; the same read from the test process is refused 403;
- then an Interface endpoint with private DNS in its subnet (decision 0166): the reader
  resolves the store's name to the endpoint's address and reads the object through it.

The guest is the busybox image of tests/support/guest_images.py; its shell user data speaks
HTTP by hand over ``nc`` (busybox-static's wget crashes in its resolver).
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from e2e.iam_helpers import client_for, new_tenant
from support.guest_images import GuestImage
from support.qemu_host import (
    bridged_server,
    ec2_client,
    import_image,
    outside_address,
    tenant_networks_guest_image,
)
from support.server import REGION, ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1200)]

WAIT = {"Delay": 1, "MaxAttempts": 240}
CONSOLE_TIMEOUT = 300.0  # TCG on a loaded 2-core machine

TRUST_EC2 = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)

DHCP = """#!/bin/sh
printf '#!/bin/sh\\n[ "$1" = bound ] || exit 0\\nip addr add "$ip/$mask" dev "$interface"\\n' \\
  > /run/dhcp-event
printf '[ -z "$router" ] || ip route add default via "$router"\\n' >> /run/dhcp-event
printf 'echo "andromede-dhcp ip=$ip"\\n' >> /run/dhcp-event
printf 'echo "andromede-dhcp-dns dns=$dns domain=$domain"\\n' >> /run/dhcp-event
printf 'for d in $dns; do echo "nameserver $d"; done > /etc/resolv.conf\\n' >> /run/dhcp-event
printf 'echo "$ip $domain" > /run/dhcp-lease\\n' >> /run/dhcp-event
chmod +x /run/dhcp-event
ip link set eth0 up
udhcpc -i eth0 -n -q -t 30 -s /run/dhcp-event
"""

LISTENER = (
    DHCP
    + """
(while true; do echo hello-from-listener | nc -l -p 8000; done) > /dev/null 2>&1 &
echo andromede-listening
"""
)


def probe_loop(address: str, label: str = "probe") -> str:
    return f"""
(while true; do
  r=$(nc -w 2 {address} 8000 </dev/null 2>/dev/null | head -c 40)
  echo "andromede-{label} got=$r"
  sleep 1
done) &
"""


@contextmanager
def _outside_server(outside: str) -> Iterator[None]:
    """ "The Internet" for the NAT gateway step: ``outside``, an address of the host's own, of no
    range of its networks (support.qemu_host.outside_address, the server's own on the machine),
    answering each connection on port 8000 with the peer's address."""
    subprocess.run(["ip", "addr", "add", f"{outside}/32", "dev", "lo"], check=True)
    listener = socket.create_server((outside, 8000))
    listener.settimeout(0.5)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, (peer, _) = listener.accept()
            except OSError:
                continue
            with connection:
                connection.sendall(f"peer {peer}\n".encode())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        listener.close()
        subprocess.run(["ip", "addr", "del", f"{outside}/32", "dev", "lo"], check=False)


def resolving(other_name: str) -> str:
    """Looks up ``other_name`` and its own private DNS name (its address and the domain
    from its DHCP lease) every two seconds through the resolver its lease named, printing
    ``andromede-dns#<n> <name>=<address or none>``."""
    return f"""
(n=0; read ip domain < /run/dhcp-lease; own="ip-$(echo "$ip" | tr . -).$domain"
while true; do
  n=$((n + 1))
  for name in {other_name} "$own"; do
    r=$(nslookup "$name" 2>/dev/null | sed -n 's/^Address: \\([0-9.]*\\)$/\\1/p' | tail -n 1)
    echo "andromede-dns#$n $name=${{r:-none}}"
  done
  sleep 2
done) &
"""


def prober(address: str) -> str:
    return DHCP + probe_loop(address)


def listening_prober(answer: str, address: str) -> str:
    """Listens on port 8000 (answering ``answer``) and probes ``address``'s."""
    serve = f"(while true; do echo {answer} | nc -l -p 8000; done) > /dev/null 2>&1 &\n"
    return DHCP + serve + probe_loop(address)


IMDS = r"""
imds() { # method path [token]
  h=""
  [ -n "$3" ] && h="X-aws-ec2-metadata-token: $3\r\n"
  [ "$1" = PUT ] && h="X-aws-ec2-metadata-token-ttl-seconds: 300\r\n"
  # busybox nc exits when its input ends: keep it open until the answer came (and the
  # server closed: HTTP/1.0), or the first credentials (issued then) would be cut off.
  (printf "$1 $2 HTTP/1.0\r\nHost: 169.254.169.254\r\n${h}\r\n"; sleep 8) |
    nc -w 30 169.254.169.254 80 2>/dev/null | sed '1,/^\r*$/d' | tr -d '\r\n'
}
(i=0; while [ $i -lt 120 ]; do
  t=$(imds PUT /latest/api/token)
  if [ -n "$t" ]; then
    role=$(imds GET /latest/meta-data/iam/security-credentials/ "$t")
    echo "andromede-imds-role=$role"
    echo "andromede-imds-creds=$(imds GET "/latest/meta-data/iam/security-credentials/$role" "$t")"
    echo "andromede-imds-tag=$(imds GET /latest/meta-data/tags/instance/Name "$t")"
    echo "andromede-imds-v1=$(imds GET /latest/meta-data/instance-id)"
    echo "andromede-imds-ip=$(imds GET /latest/meta-data/local-ipv4 "$t")"
    break
  fi
  i=$((i + 1)); sleep 1
done) &
"""


@pytest.fixture(scope="module")
def guest_image() -> GuestImage:
    return tenant_networks_guest_image()


# The object store as the guests see it (decision 0160): an address of no host (the
# benchmarking range), which only a VPC endpoint's router redirects to the endpoint listener.
STORE = "198.18.0.80"
# The store's name as clients use it (the server's s3_domain), which an Interface endpoint's
# private DNS answers inside the VPC.
STORE_NAME = "s3.localhost"


def vpce_reader(bucket: str) -> str:
    """Reads ``bucket``'s hello.txt at the store's address every two seconds (path-style,
    anonymous), printing each answer's status line and, once it is a 200, the body."""
    return f"""
(i=0; while [ $i -lt 900 ]; do
  r=$( (printf "GET /{bucket}/hello.txt HTTP/1.0\\r\\nHost: {STORE}\\r\\n\\r\\n"; sleep 6) |
    nc -w 10 {STORE} 80 2>/dev/null | tr -d '\\r')
  if [ -n "$r" ]; then
    echo "andromede-vpce status=$(echo "$r" | head -n 1)"
    case "$r" in
      "HTTP/1.1 200"*) echo "andromede-vpce got=$(echo "$r" | sed '1,/^$/d')"; break;;
    esac
  fi
  i=$((i + 1)); sleep 2
done
# Then by the store's name, which the VPC's resolver answers with an Interface endpoint's
# address once one has private DNS (decision 0166).
while [ $i -lt 900 ]; do
  a=$(nslookup {STORE_NAME} 2>/dev/null | sed -n 's/^Address: \\([0-9.]*\\)$/\\1/p' |
    grep -v '^127\\.' | tail -n 1)
  if [ -n "$a" ]; then
    r=$( (printf "GET /{bucket}/hello.txt HTTP/1.0\\r\\nHost: {STORE_NAME}\\r\\n\\r\\n"; sleep 6) |
      nc -w 10 "$a" 80 2>/dev/null | tr -d '\\r')
    echo "andromede-vpce-if address=$a status=$(echo "$r" | head -n 1)"
    case "$r" in
      "HTTP/1.1 200"*) echo "andromede-vpce-if got=$(echo "$r" | sed '1,/^$/d')"; break;;
    esac
  fi
  i=$((i + 1)); sleep 2
done) &
"""


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, guest_image: GuestImage
) -> Iterator[ServerProcess]:
    # Public DNS names (decision 0151): the reader resolves the listener's inside the VPC.
    env = {
        "ANDROMEDE_PUBLIC_DNS_DOMAIN": "cloud.example.test",
        "ANDROMEDE_VPC_ENDPOINT_S3_ADDRESSES": json.dumps([f"{STORE}/32"]),
    }
    with bridged_server(tmp_path_factory.mktemp("ec2n") / "data", "net", env) as running:
        yield running


def _run(ec2: Any, image_id: str, user_data: str, **params: Any) -> dict[str, Any]:
    run = ec2.run_instances(ImageId=image_id, InstanceType="t3.nano", MinCount=1, MaxCount=1,
                            UserData=user_data, **params)  # fmt: skip
    instance_id = run["Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=WAIT)
    found = ec2.describe_instances(InstanceIds=[instance_id])
    instance: dict[str, Any] = found["Reservations"][0]["Instances"][0]
    return instance


def _host_reads(address: str, port: int) -> bytes:
    deadline = time.monotonic() + 120
    while True:
        try:
            with socket.create_connection((address, port), timeout=3) as connection:
                data = connection.recv(64)
                if data:
                    return data
        except OSError:
            pass
        if time.monotonic() > deadline:
            return b""
        time.sleep(1)


def _host_refused(address: str, port: int, seconds: float) -> bool:
    """Whether no connection from the host to ``address:port`` got an answer for ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((address, port), timeout=2) as connection:
                if connection.recv(64):
                    return False
        except OSError:
            pass
        time.sleep(1)
    return True


def _host_refused_soon(address: str, port: int) -> bool:
    """Whether the host stops reaching ``address:port`` within a minute (a firewall push is
    asynchronous) and stays refused for five seconds after."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if _host_refused(address, port, 5):
            return True
    return False


def _console_until(ec2: Any, instance_id: str, pattern: str) -> str:
    deadline = time.monotonic() + CONSOLE_TIMEOUT
    while True:
        console = str(ec2.get_console_output(InstanceId=instance_id).get("Output") or "")
        if re.search(pattern, console):
            return console
        if time.monotonic() > deadline:
            raise AssertionError(f"console of {instance_id}:\n{console}")
        time.sleep(2)


def test_tenants_isolated_members_reach_each_other_and_profiles_give_credentials(
    server: ServerProcess, guest_image: GuestImage
) -> None:
    image_id = import_image(server, guest_image.disk, "busybox")
    root = server.credentials()
    ec2 = ec2_client(server, root)
    iam = client_for(server, "iam", *root)
    s3 = client_for(server, "s3", *root)
    bucket = f"net-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="hello.txt", Body=b"hello from the bucket")
    iam.create_role(RoleName="reader", AssumeRolePolicyDocument=TRUST_EC2)
    iam.put_role_policy(RoleName="reader", PolicyName="read", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject",
             "Resource": f"arn:aws:s3:::{bucket}/*"}]}))  # fmt: skip
    iam.create_instance_profile(InstanceProfileName="reader")
    iam.add_role_to_instance_profile(InstanceProfileName="reader", RoleName="reader")

    launched: list[tuple[Any, str]] = []
    try:
        _check_networks(server, ec2, image_id, bucket, launched)
    finally:
        for client, instance_id in launched:
            client.terminate_instances(InstanceIds=[instance_id])
        for client, instance_id in launched:
            client.get_waiter("instance_terminated").wait(
                InstanceIds=[instance_id], WaiterConfig=WAIT
            )


def _check_networks(
    server: ServerProcess, ec2: Any, image_id: str, bucket: str, launched: list[tuple[Any, str]]
) -> None:
    listener = _run(ec2, image_id, LISTENER)
    launched.append((ec2, listener["InstanceId"]))
    if not listener.get("PublicIpAddress", "").startswith("100.65."):
        pytest.skip("the host fell back to user-mode networking")
    # Its metadata options (decision 0145): tokens required, its tags shown.
    named = [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "reader-vm"}]}]
    names = f"{listener['PrivateDnsName']} {listener['PublicDnsName']}"
    user_data = prober(listener["PrivateIpAddress"]) + IMDS + resolving(names) + vpce_reader(bucket)
    reader = _run(ec2, image_id, user_data,
                  IamInstanceProfile={"Name": "reader"},
                  MetadataOptions={"HttpTokens": "required", "InstanceMetadataTags": "enabled"},
                  TagSpecifications=named)  # fmt: skip
    launched.append((ec2, reader["InstanceId"]))
    # Open the listener's port to everyone: only the network's isolation stands in the way.
    ec2.authorize_security_group_ingress(
        GroupId=listener["SecurityGroups"][0]["GroupId"],
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 8000, "ToPort": 8000,
                        "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )  # fmt: skip
    other_tenant = new_tenant(server, "net")
    other = ec2_client(server, (other_tenant.access_key_id, other_tenant.secret_access_key))
    outside = outside_address(server.extra_env)
    # The other tenant launches into a VPC and subnet of its own, over the very range of the
    # first tenant's default subnet (decision 0100).
    vpc_id = other.create_vpc(CidrBlock="172.31.0.0/16")["Vpc"]["VpcId"]
    subnet = other.create_subnet(VpcId=vpc_id, CidrBlock="172.31.5.0/24")["Subnet"]
    stranger = _run(
        other,
        image_id,
        listening_prober("hello-from-stranger", listener["PublicIpAddress"])
        + probe_loop(outside, "out"),
        NetworkInterfaces=[
            {"DeviceIndex": 0, "SubnetId": subnet["SubnetId"], "AssociatePublicIpAddress": True}
        ],
    )
    launched.append((other, stranger["InstanceId"]))
    assert stranger["PrivateIpAddress"] == "172.31.5.4"  # the same range, its own network
    assert (stranger["SubnetId"], stranger["VpcId"]) == (subnet["SubnetId"], vpc_id)
    # A public address, asked for (decision 0106).
    assert stranger["PublicIpAddress"].startswith("100.65.")
    # The host reaches the listener at its public address.
    assert _host_reads(listener["PublicIpAddress"], 8000).startswith(b"hello-from-listener")

    # Same tenant, default group: the reader reaches the listener.
    _console_until(ec2, reader["InstanceId"], r"andromede-probe got=hello-from-listener")
    # The reader's role credentials from 169.254.169.254, usable against S3.
    # (the last of its three reads: the role, its credentials, the instance's address)
    console = _console_until(ec2, reader["InstanceId"], r"andromede-imds-ip=\S+")
    assert "andromede-imds-role=reader" in console
    # Its tag, read with a token; a read without one (IMDSv1) refused with EC2's 401.
    assert "andromede-imds-tag=reader-vm" in console
    refused = re.search(r"andromede-imds-v1=(.*)", console)
    assert refused is not None and "401 - Unauthorized" in refused.group(1)
    assert reader["InstanceId"] not in refused.group(1)
    assert f"andromede-imds-ip={reader['PrivateIpAddress']}" in console
    found = re.search(r"andromede-imds-creds=(\{.*\})", console)
    assert found is not None
    creds = json.loads(found.group(1))
    guest_s3 = client_for(
        server, "s3", creds["AccessKeyId"], creds["SecretAccessKey"], creds["Token"]
    )
    body = guest_s3.get_object(Bucket=bucket, Key="hello.txt")["Body"].read()
    assert body == b"hello from the bucket"
    _check_vpc_dns(ec2, reader, listener)
    _check_vpc_endpoint(server, ec2, reader, bucket)
    _check_interface_endpoint(server, ec2, reader, bucket)
    # The other tenant's instance, probing the public address the host reaches, never does.
    # Five of its probes (its probes of the outside interleaved, for the NAT gateway's step).
    five = r"(andromede-probe got=.*\n(andromede-out got=.*\n)*){5}"
    console = _console_until(other, stranger["InstanceId"], five)
    assert "hello-from-listener" not in console
    # Its lease came from its own subnet's DHCP server.
    assert "andromede-dhcp ip=172.31.5.4" in console
    _check_internet_gateway(other, vpc_id, stranger, outside)


def _check_vpc_dns(ec2: Any, reader: dict[str, Any], listener: dict[str, Any]) -> None:
    """Decision 0143: the reader's lease names its VPC's resolver (the default VPC's
    172.31.0.2) and the Region's domain; through it, the reader resolves the listener's private
    DNS name and its own to their addresses — the names DescribeInstances gives —, and the
    listener's public DNS name to its private address (decision 0151). Once the VPC's DNS
    hostnames are off, the listener's name no longer resolves."""
    listener_name = re.escape(listener["PrivateDnsName"])
    public_name = listener["PublicDnsName"]
    dashed = listener["PublicIpAddress"].replace(".", "-")
    assert public_name == f"ec2-{dashed}.{REGION}.compute.cloud.example.test"
    own = re.escape(reader["PrivateDnsName"])
    domain = reader["PrivateDnsName"].split(".", 1)[1]
    private = re.escape(listener["PrivateIpAddress"])
    console = _console_until(
        ec2, reader["InstanceId"], rf"andromede-dns#\d+ {listener_name}=\S+\r?\n"
        rf"andromede-dns#\d+ {re.escape(public_name)}={private}\r?\n"
        rf"andromede-dns#\d+ {own}={re.escape(reader['PrivateIpAddress'])}\r?\n",
    )  # fmt: skip
    assert f"andromede-dhcp-dns dns=172.31.0.2 domain={domain}" in console
    assert f"{listener['PrivateDnsName']}={listener['PrivateIpAddress']}" in console
    last = max(int(n) for n in re.findall(r"andromede-dns#(\d+) ", console))
    vpc_id = listener["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": False})
    try:
        deadline = time.monotonic() + 60
        while True:
            console = str(ec2.get_console_output(InstanceId=reader["InstanceId"]).get("Output"))
            unresolved = [
                int(n) for n in re.findall(rf"andromede-dns#(\d+) {listener_name}=none", console)
            ]
            if any(n > last for n in unresolved):
                break
            assert time.monotonic() < deadline, f"console of the reader:\n{console}"
            time.sleep(2)
    finally:
        ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})


def _check_vpc_endpoint(
    server: ServerProcess, ec2: Any, reader: dict[str, Any], bucket: str
) -> None:
    """Decision 0160 on the real path: a gateway endpoint on the reader's route table, and a
    bucket policy allowing an anonymous read through it only. The reader, which reached no
    store at the store's address until then, reads the object there; the test process is
    refused the same read."""
    vpc_id = reader["VpcId"]
    tables = ec2.describe_route_tables(
        Filters=[{"Name": "association.subnet-id", "Values": [reader["SubnetId"]]}]
    )["RouteTables"] or ec2.describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                 {"Name": "association.main", "Values": ["true"]}]
    )["RouteTables"]  # fmt: skip
    console = str(ec2.get_console_output(InstanceId=reader["InstanceId"]).get("Output"))
    assert "andromede-vpce" not in console  # nothing answers there without the endpoint
    endpoint = ec2.create_vpc_endpoint(
        VpcId=vpc_id,
        ServiceName=f"com.amazonaws.{REGION}.s3",
        RouteTableIds=[tables[0]["RouteTableId"]],
    )["VpcEndpoint"]["VpcEndpointId"]
    s3 = client_for(server, "s3", *server.credentials())
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(
        {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
             "Resource": f"arn:aws:s3:::{bucket}/hello.txt",
             "Condition": {"StringEquals": {"aws:SourceVpce": endpoint}}}]}))  # fmt: skip
    try:
        console = _console_until(
            ec2, reader["InstanceId"], r"andromede-vpce got=hello from the bucket"
        )
        assert "andromede-vpce status=HTTP/1.1 200" in console
        direct = httpx.get(f"{server.endpoint}/{bucket}/hello.txt")
        assert direct.status_code == 403, direct.text
        assert "<Code>AccessDenied</Code>" in direct.text
    finally:
        s3.delete_bucket_policy(Bucket=bucket)
        ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint])


def _check_interface_endpoint(
    server: ServerProcess, ec2: Any, reader: dict[str, Any], bucket: str
) -> None:
    """Decision 0166 on the real path: an Interface endpoint in the reader's subnet, with
    private DNS, under a group open on port 80, and a bucket policy allowing an anonymous
    read through it only. The reader, now resolving the store's name, reaches the endpoint's
    address and reads the object."""
    group = ec2.create_security_group(
        GroupName="store-endpoint", Description="the store's endpoint", VpcId=reader["VpcId"]
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
                        "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )  # fmt: skip
    made = ec2.create_vpc_endpoint(
        VpcEndpointType="Interface",
        VpcId=reader["VpcId"],
        ServiceName=f"com.amazonaws.{REGION}.s3",
        SubnetIds=[reader["SubnetId"]],
        SecurityGroupIds=[group],
    )["VpcEndpoint"]
    endpoint = made["VpcEndpointId"]
    s3 = client_for(server, "s3", *server.credentials())
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(
        {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
             "Resource": f"arn:aws:s3:::{bucket}/hello.txt",
             "Condition": {"StringEquals": {"aws:SourceVpce": endpoint}}}]}))  # fmt: skip
    try:
        [eni] = ec2.describe_network_interfaces(NetworkInterfaceIds=made["NetworkInterfaceIds"])[
            "NetworkInterfaces"
        ]
        console = _console_until(
            ec2, reader["InstanceId"], r"andromede-vpce-if got=hello from the bucket"
        )
        assert f"andromede-vpce-if address={eni['PrivateIpAddress']} status=HTTP/1.1 200" in (
            console
        )
    finally:
        s3.delete_bucket_policy(Bucket=bucket)
        ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint])
        ec2.delete_security_group(GroupId=group)


def _check_internet_gateway(
    other: Any, vpc_id: str, stranger: dict[str, Any], outside: str
) -> None:
    """Decision 0121: a new VPC has no internet gateway; the stranger's port open to all and
    its public address are not enough for the host to reach it. A gateway and a route to it
    are; the route deleted, the host is refused again."""
    address = stranger["PublicIpAddress"]
    other.authorize_security_group_ingress(
        GroupId=stranger["SecurityGroups"][0]["GroupId"],
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 8000, "ToPort": 8000,
                        "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )  # fmt: skip
    assert _host_refused(address, 8000, 10)
    gateway = other.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    other.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc_id)
    [table] = other.describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                 {"Name": "association.main", "Values": ["true"]}]
    )["RouteTables"]  # fmt: skip
    route = {"RouteTableId": table["RouteTableId"], "DestinationCidrBlock": "0.0.0.0/0"}
    other.create_route(**route, GatewayId=gateway)
    assert _host_reads(address, 8000).startswith(b"hello-from-stranger")
    other.delete_route(**route)
    assert _host_refused_soon(address, 8000)
    _check_elastic_ip(other, stranger, route, gateway, outside)


def _check_elastic_ip(
    other: Any, stranger: dict[str, Any], route: dict[str, str], gateway: str, outside: str
) -> None:
    """Decision 0125: an Elastic IP associated with the stranger is routed to it by its host
    (its groups deciding, the route out restored); disassociated, the host is refused at it."""
    other.create_route(**route, GatewayId=gateway)
    allocation = other.allocate_address(Domain="vpc")
    elastic_ip = allocation["PublicIp"]
    other.associate_address(
        AllocationId=allocation["AllocationId"], InstanceId=stranger["InstanceId"]
    )
    assert _host_reads(elastic_ip, 8000).startswith(b"hello-from-stranger")
    [reservation] = other.describe_instances(InstanceIds=[stranger["InstanceId"]])["Reservations"]
    assert reservation["Instances"][0]["PublicIpAddress"] == elastic_ip
    _check_network_acl(other, stranger, elastic_ip)
    other.disassociate_address(PublicIp=elastic_ip)
    assert _host_refused_soon(elastic_ip, 8000)
    other.release_address(AllocationId=allocation["AllocationId"])
    _check_nat_gateway(other, stranger, route, outside)


def _check_nat_gateway(
    other: Any, stranger: dict[str, Any], route: dict[str, str], outside: str
) -> None:
    """Decision 0129: the stranger reaches the outside from its own public address while its
    table routes to the internet gateway; once it routes to a NAT gateway (in a subnet of its
    own whose table routes to the internet gateway), from the gateway's Elastic IP."""
    [table] = other.describe_route_tables(RouteTableIds=[route["RouteTableId"]])["RouteTables"]
    gateway = next(
        r["GatewayId"] for r in table["Routes"] if r.get("GatewayId", "local") != "local"
    )
    public = other.create_subnet(VpcId=table["VpcId"], CidrBlock="172.31.6.0/24")["Subnet"]
    public_table = other.create_route_table(VpcId=table["VpcId"])["RouteTable"]["RouteTableId"]
    other.create_route(RouteTableId=public_table, DestinationCidrBlock="0.0.0.0/0",
                       GatewayId=gateway)  # fmt: skip
    other.associate_route_table(RouteTableId=public_table, SubnetId=public["SubnetId"])
    allocation = other.allocate_address(Domain="vpc")
    made = other.create_nat_gateway(
        SubnetId=public["SubnetId"], AllocationId=allocation["AllocationId"]
    )
    nat = made["NatGateway"]
    other.get_waiter("nat_gateway_available").wait(
        NatGatewayIds=[nat["NatGatewayId"]], WaiterConfig=WAIT
    )
    with _outside_server(outside):
        own = stranger["PublicIpAddress"]
        _console_until(other, stranger["InstanceId"], rf"andromede-out got=peer {re.escape(own)}")
        other.replace_route(**route, NatGatewayId=nat["NatGatewayId"])
        translated = re.escape(allocation["PublicIp"])
        _console_until(other, stranger["InstanceId"], rf"andromede-out got=peer {translated}\b")


def _check_network_acl(other: Any, stranger: dict[str, Any], address: str) -> None:
    """Decision 0128: a deny entry of its subnet's ACL, numbered before the default's allow,
    keeps the host out though the security group lets everyone in; deleted, the host reaches
    the instance again."""
    [acl] = other.describe_network_acls(
        Filters=[{"Name": "association.subnet-id", "Values": [stranger["SubnetId"]]}]
    )["NetworkAcls"]
    entry = {"NetworkAclId": acl["NetworkAclId"], "RuleNumber": 50, "Egress": False}
    other.create_network_acl_entry(
        **entry, Protocol="6", RuleAction="deny", CidrBlock="0.0.0.0/0",
        PortRange={"From": 8000, "To": 8000},
    )  # fmt: skip
    assert _host_refused_soon(address, 8000)
    other.delete_network_acl_entry(**entry)
    assert _host_reads(address, 8000).startswith(b"hello-from-stranger")
