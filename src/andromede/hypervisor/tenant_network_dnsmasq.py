"""A router's dnsmasq processes (:class:`DnsmasqMixin`): one DHCP server per subnet, bound
to its bridge, with a static lease per instance and the VPC's DHCP options, and the VPC's
resolver (:mod:`~andromede.hypervisor.vpc_dns`) with its upstream forwarder; started,
restarted and stopped through their pidfiles (:mod:`~andromede.hypervisor.dnsmasq_process`),
and the VPC's DNS settings (:meth:`DnsmasqMixin.set_vpc_dns`).

A layer of :class:`~andromede.hypervisor.tenant_network.TenantNetworks` (see
:mod:`~andromede.hypervisor.tenant_network`), split off for size (STYLE §10).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import sys
import time
from pathlib import Path

from andromede.compute.driver import SupervisedProcesses
from andromede.compute.driver_network import (
    VpcDns,
)
from andromede.hypervisor.dns_supervision import DnsProcess
from andromede.hypervisor.dnsmasq_process import ours_running, stop_pidfile
from andromede.hypervisor.netns_commands import (
    NetworkCommandError,
    _all,
    _namespace_exists,
    _run,
)
from andromede.hypervisor.network_state import NetworkRecord
from andromede.hypervisor.restart_counts import save_restarts
from andromede.hypervisor.tenant_network_rules import RulesMixin
from andromede.hypervisor.vpc_dns import (
    RESPONDER_PORT,
    ZONE_RESPONDER_ADDRESS,
    dhcp_option_args,
    forwarder_command,
    resolver_command,
)

__all__ = ["DnsmasqMixin"]

log = logging.getLogger(__name__)


class DnsmasqMixin(RulesMixin):
    """The DHCP servers and the resolver of a router, and the VPC's DNS settings."""

    def _dhcp_pidfile(self, network_id: str) -> Path:
        return self._dir / f"dnsmasq-{network_id}.pid"

    async def _stop_dhcp(self, network_id: str) -> None:
        """Stop the network's dnsmasq and wait for it to exit: its successor binds the same
        port, and a released network leaves no process behind."""
        await stop_pidfile(self._dhcp_pidfile(network_id))

    def _resolver_pidfile(self, router: str) -> Path:
        return self._dir / f"resolver-{router}.pid"

    def _forwarder_pidfile(self, router: str) -> Path:
        return self._dir / f"forwarder-{router}.pid"

    async def _stop_resolver(self, router: str) -> None:
        """Stop the router's resolver, its upstream forwarder and its zone responder."""
        await stop_pidfile(self._resolver_pidfile(router))
        await stop_pidfile(self._forwarder_pidfile(router))
        await self._stop_zone_responder(router)

    def _responder_files(self, router: str) -> tuple[Path, Path]:
        """The zone responder's pid file and document."""
        return self._dir / f"zones-{router}.pid", self._dir / f"zones-{router}.json"

    async def _stop_zone_responder(self, router: str) -> None:
        pidfile, document = self._responder_files(router)
        await stop_pidfile(pidfile)
        document.unlink(missing_ok=True)

    async def _start_zone_responder(self, router: str, dns: VpcDns) -> None:
        """(Re)start the router's zone responder (decision 0284) on the namespace's loopback,
        answering the VPC's private zones; none while it has none or DNS support is off."""
        await self._stop_zone_responder(router)
        if not dns.support or not dns.private_zones:
            return
        pidfile, document = self._responder_files(router)
        document.write_text(dns.zone_document)
        await _run(
            "ip", "netns", "exec", self.netns(router), sys.executable, "-m",
            "andromede.hypervisor.zone_responder", "--daemon", f"--document={document}",
            f"--pid-file={pidfile}", f"--listen={ZONE_RESPONDER_ADDRESS}",
            f"--port={RESPONDER_PORT}",
        )  # fmt: skip

    async def _start_resolver(self, router: str, *, restart: bool = True) -> None:
        """(Re)start the router's resolver (:mod:`~andromede.hypervisor.vpc_dns`), its zone
        responder and its upstream forwarder; without ``restart``, only when it is not
        running. Stopped while the VPC's DNS support is off."""
        pidfile, forwarder_pidfile = self._resolver_pidfile(router), self._forwarder_pidfile(router)
        forwarder = self._forwarder_command(router)
        # A resolver running without the forwarder it needs (it died, or an older agent
        # started the resolver asking the upstream resolvers itself) is started again.
        if (
            not restart
            and ours_running(pidfile)
            and (forwarder is None or ours_running(forwarder_pidfile))
        ):
            return
        await stop_pidfile(pidfile)
        await stop_pidfile(forwarder_pidfile)
        if not self._members(router):
            await self._stop_zone_responder(router)
            return
        await self._start_zone_responder(router, self._dns(router))
        # The forwarder first: the resolver sends it every name not the VPC's own from the
        # moment it answers (decision 0373).
        if forwarder is not None:
            await _run("ip", "netns", "exec", self.netns(router), *forwarder)
        await self._launch_resolver(router)

    def _forwarder_command(self, router: str) -> list[str] | None:
        return forwarder_command(
            pidfile=self._forwarder_pidfile(router),
            dns=self._dns(router),
            upstream=self._layout.dns_upstream,
        )

    def _resolver_command(self, router: str) -> list[str] | None:
        subnets = self._members(router)
        if not subnets:
            return None
        return resolver_command(
            pidfile=self._resolver_pidfile(router),
            vpc_cidr=subnets[0].vpc_cidr or subnets[0].cidr,
            dns=self._dns(router),
            upstream=self._layout.dns_upstream,
        )

    async def _launch_resolver(self, router: str) -> None:
        command = self._resolver_command(router)
        if command is not None:
            await _run("ip", "netns", "exec", self.netns(router), *command)

    async def supervise_dns(self) -> None:
        """Check every built router's DNS processes (decision 0375) and its subnets' DHCP
        servers (decision 0378) once, and start again, with its current configuration, each
        one found dead whose backoff allows it: a killed resolver, zone responder or
        upstream forwarder answers again within a round, a killed DHCP server hands out the
        subnet's static leases again. The others are left running; a dead one's stale
        pidfile is cleared first (its successor's start refuses none, and never two copies
        run: the pidfile's process is checked gone, else stopped)."""
        records = list(self._state.networks.values())
        self._dns_backoff.keep({r.router for r in records} | {r.network_id for r in records})
        for router in sorted({record.router for record in records}):
            async with self._lock:
                if not self._members(router) or not _namespace_exists(self.netns(router)):
                    self._dns_backoff.forget(router)
                    continue
                for owner, process, pidfile in self._supervised(router):
                    await self._supervise(owner, router, process, pidfile)

    def _supervised(self, router: str) -> list[tuple[str, DnsProcess, Path]]:
        """The processes of a built router that should run now, each with its owner (the
        router for its DNS processes, the subnet for its DHCP server) and its pidfile."""
        found = [(router, process, pidfile) for process, pidfile in self._expected_dns(router)]
        found += [
            (record.network_id, DnsProcess.DHCP, self._dhcp_pidfile(record.network_id))
            for record in self._members(router)
        ]
        return found

    async def _supervise(self, owner: str, router: str, process: DnsProcess, pidfile: Path) -> None:
        """One process of ``owner`` (the router, or one of its subnets): left alone while it
        runs, else started again when its backoff allows."""
        if ours_running(pidfile):
            self._dns_backoff.running(owner, process)
            return
        now = time.monotonic()
        if not self._dns_backoff.due(owner, process, now):
            return
        where = f"router {router}" if owner == router else f"subnet {owner} of router {router}"
        first = self._dns_backoff.restarting(owner, process, now)
        try:
            # Kept before the start: a restart an agent's crash interrupts is counted still.
            save_restarts(self._restarts_file(), self._dns_backoff.restarts)
        except OSError:
            log.warning("the restart counts could not be kept", exc_info=True)
        if first:
            log.warning(
                "%s: its %s was found dead and is started again (%d such restarts on this"
                " host)",
                where, process.value, self._dns_backoff.restarts[process],
            )  # fmt: skip
        try:
            if process is DnsProcess.DHCP:
                # Its static leases come from the subnet's record (--leasefile-ro): the
                # restarted server hands each MAC the address it had, and no other.
                await self._restart_dhcp(self._state.networks[owner])  # stops it first
            else:
                await self._revive(router, process)
        except NetworkCommandError:
            log.warning("%s: its %s could not be started", where, process.value, exc_info=True)

    def process_restarts(self) -> dict[str, int]:
        """How many times each kind of supervised process (``resolver``, ``responder``,
        ``forwarder``, ``dhcp``) was found dead and started again on this host (decision
        0378), the agents before this one included (decision 0389)."""
        counted = self._dns_backoff.restarts
        return {process.name.lower(): count for process, count in counted.items()}

    def supervised_processes(self) -> dict[str, SupervisedProcesses]:
        """Each kind's restarts (:meth:`process_restarts`) and how many of the processes
        that should run now (those the supervision checks) run, and do not, read from their
        pidfiles at once: the host's answer to
        :meth:`~andromede.compute.driver.HypervisorDriver.supervised_processes` (decision
        0389). Not under the networks' lock, which a router's build holds for long: a process
        being restarted at this very moment is seen down, as it is."""
        up, down = dict.fromkeys(DnsProcess, 0), dict.fromkeys(DnsProcess, 0)
        for router in sorted({record.router for record in self._state.networks.values()}):
            if not self._members(router) or not _namespace_exists(self.netns(router)):
                continue
            for _owner, process, pidfile in self._supervised(router):
                if ours_running(pidfile):
                    up[process] += 1
                else:
                    down[process] += 1
        return {
            process.name.lower(): SupervisedProcesses(count, up[process], down[process])
            for process, count in self._dns_backoff.restarts.items()
        }

    def _expected_dns(self, router: str) -> list[tuple[DnsProcess, Path]]:
        """The router's DNS processes that should run now, with their pidfiles."""
        dns = self._dns(router)
        expected = []
        if dns.support and dns.private_zones:
            expected.append((DnsProcess.RESPONDER, self._responder_files(router)[0]))
        if self._forwarder_command(router) is not None:
            expected.append((DnsProcess.FORWARDER, self._forwarder_pidfile(router)))
        if self._resolver_command(router) is not None:
            expected.append((DnsProcess.RESOLVER, self._resolver_pidfile(router)))
        return expected

    async def _revive(self, router: str, process: DnsProcess) -> None:
        """Start ``process`` of the router again, alone, after making sure no copy of it is
        left (a pidfile whose process is gone, or one stopped hung)."""
        if process is DnsProcess.RESPONDER:
            await self._start_zone_responder(router, self._dns(router))  # stops it first
        elif process is DnsProcess.FORWARDER:
            await stop_pidfile(self._forwarder_pidfile(router))
            forwarder = self._forwarder_command(router)
            if forwarder is not None:
                await _run("ip", "netns", "exec", self.netns(router), *forwarder)
        else:
            await stop_pidfile(self._resolver_pidfile(router))
            await self._launch_resolver(router)

    async def supervise_dns_forever(self) -> None:
        """:meth:`supervise_dns` every ``dns_supervise_interval`` seconds until cancelled; a
        round that fails is logged and the next one tried."""
        while True:
            await asyncio.sleep(self._layout.dns_supervise_interval)
            try:
                await self.supervise_dns()
            except Exception:
                log.exception("the DNS supervision round failed")

    async def set_vpc_dns(self, router_id: str, dns: VpcDns) -> None:
        """Replace what a VPC's router serves of DNS and hands out by DHCP: kept when the VPC
        is not built here yet, else its resolver, input rules and DHCP servers restart with
        it (leases are static: a guest's next renewal sees the new options)."""
        async with self._lock:
            if self._state.dns.get(router_id) == dns:
                return  # the periodic resync's push of what is in force already
            self._state.dns[router_id] = dns
            self._save()
            subnets = self._members(router_id)
            if not subnets or not _namespace_exists(self.netns(router_id)):
                return
            await _all(
                self._apply_firewall(router_id),
                self._start_resolver(router_id),
                *(self._restart_dhcp(record) for record in subnets),
            )

    async def _restart_dhcp(self, record: NetworkRecord) -> None:
        # Restarted rather than reloaded: dnsmasq re-reads host files after dropping its
        # privileges, and the state directory is not for others to read. Static leases only,
        # so a restart loses nothing. One per subnet, bound to its bridge (SO_BINDTODEVICE:
        # several serve DHCP in one namespace).
        await self._stop_dhcp(record.network_id)
        cidr = ipaddress.IPv4Network(record.cidr)
        command = [
            "ip", "netns", "exec", self.netns(record.router), "dnsmasq",
            f"--pid-file={self._dhcp_pidfile(record.network_id)}",
            f"--interface={record.bridge}", "--bind-interfaces", "--except-interface=lo",
            "--port=0", "--leasefile-ro", "--dhcp-authoritative", "--no-hosts", "--no-resolv",
            f"--dhcp-range={cidr.network_address},static,{cidr.netmask},12h",
            f"--dhcp-option=option:router,{next(cidr.hosts())}",
        ]  # fmt: skip
        if self._overlay(record):
            command.append(f"--dhcp-option=option:mtu,{self._layout.overlay_mtu}")
        command += dhcp_option_args(record.vpc_cidr or record.cidr, self._dns(record.router))
        nics = self._nics_of(record.network_id)
        if record.ipv6_cidr:
            # IPv6 (decision 0217): router advertisements of the /64 as off-link (the guests
            # send everything through the router, whose firewall judges it, as their IPv4
            # goes: they never meet at layer 2) and managed (the M flag, no SLAAC): DHCPv6
            # gives each NIC the address its record holds, nothing made up.
            block = ipaddress.IPv6Network(record.ipv6_cidr)
            command += [
                "--enable-ra",
                f"--dhcp-range={block.network_address},static,off-link,{block.prefixlen},12h",
            ]
        command += [
            f"--dhcp-host={nic.mac},{nic.private_ip}"
            + (f",[{nic.ipv6_addresses[0]}]" if record.ipv6_cidr and nic.ipv6_addresses else "")
            for nic in nics
        ]
        await _run(*command)
