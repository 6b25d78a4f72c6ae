"""What the real-kernel tests of IPv6 on tenant networks share (decision 0217:
``tests/contract/test_ipv6_networks.py``; decision 0368: ``test_flow_capture.py``): a guest
given its IPv6 address as DHCPv6 and the off-link advertisement would give it, TCP servers
on its IPv6 addresses, connections and ICMPv6 echoes from it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from support.tenant_networks import ANSWERED_WITHIN, DROPPED_AFTER, Guest

__all__ = ["connect6", "echo6", "serving6", "take_ipv6"]


@contextmanager
def serving6(netns: str, *ports: int) -> Iterator[None]:
    """TCP servers on every IPv6 address of a namespace answering each connection with the
    peer's address, one per port."""
    code = (
        "import socket,sys,threading\n"
        "def serve(s):\n"
        "  while True:\n"
        "    c,a=s.accept(); c.sendall(('peer '+a[0]).encode()); c.close()\n"
        "for port in map(int, sys.argv[1:]):\n"
        "  s=socket.socket(socket.AF_INET6)\n"
        "  s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        "  s.bind(('::',port)); s.listen(16)\n"
        "  threading.Thread(target=serve, args=(s,), daemon=True).start()\n"
        "print('ready', flush=True)\n"
        "threading.Event().wait()\n"
    )
    command = ["ip", "netns", "exec", netns, sys.executable, "-c", code, *map(str, ports)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
            yield
        finally:
            process.kill()


def take_ipv6(member: Guest, address: str, router: str) -> None:
    """What the guest's DHCPv6 client and the off-link advertisement make of it: a /128,
    the router the way to everything. The namespace accepts router advertisements, so the
    default route the subnet's dnsmasq advertises (through the router's link-local address)
    may already be there, or come later: replaced, not added (which fails on it), and the
    router either way."""
    for command in (
        ["ip", "-6", "addr", "add", f"{address}/128", "dev", "eth0", "nodad"],
        ["ip", "-6", "route", "add", f"{router}/128", "dev", "eth0"],
        ["ip", "-6", "route", "replace", "default", "via", router, "dev", "eth0"],
    ):
        done = member.run(*command)
        assert done.returncode == 0, done.stderr


def connect6(member: Guest, address: str, port: int, *, source: str = "", reach: bool) -> str:
    """What the server at ``address`` says to the guest's connection, "" when it cannot
    connect; ``reach``: an answer is expected (it may be slow to come)."""
    timeout = ANSWERED_WITHIN if reach else DROPPED_AFTER
    code = (
        "import socket\n"
        "try:\n"
        "  s=socket.socket(socket.AF_INET6); s.settimeout("
        + repr(timeout)
        + ")\n"
        + (f"  s.bind(({source!r},0))\n" if source else "")
        + f"  s.connect(({address!r},{port}))\n"
        "  print(s.recv(200).decode(), end='')\n"
        "except OSError: print('', end='')\n"
    )
    return member.run(sys.executable, "-c", code, timeout=timeout + 5).stdout


# ICMPv6 echo requests (type 128) over a raw socket (the kernel fills ICMPv6's checksum in);
# prints how many echo replies (type 129) came back from the address. A new identifier each
# run: conntrack tracks an echo by it, and an earlier run's, still tracked, would pass as
# established whatever the groups say now.
_ECHO = """
import secrets, socket, sys, time
address, count, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
identifier = secrets.token_bytes(2)
replies = 0
for sequence in range(count):
    echo = identifier + bytes([0, sequence])
    s.sendto(bytes([128, 0, 0, 0]) + echo + b"andromede", (address, 0))
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        s.settimeout(left)
        try:
            packet, peer = s.recvfrom(1500)
        except OSError:
            break
        if packet[0] == 129 and peer[0] == address and packet[4:8] == echo:
            replies += 1
            break
print(replies)
"""


def echo6(member: Guest, address: str, count: int, *, reach: bool) -> int:
    """How many of ``count`` ICMPv6 echo requests from the guest ``address`` answered."""
    timeout = ANSWERED_WITHIN if reach else DROPPED_AFTER
    done = member.run(
        sys.executable, "-c", _ECHO, address, str(count), str(timeout),
        timeout=count * timeout + 10,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return int(done.stdout)
