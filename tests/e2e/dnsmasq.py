# SPDX-License-Identifier: MIT
"""dnsmasq as the DNS server of the tests: one process per Dnsmasq, in the
foreground, listening on 127.0.0.1 (and ::1 when asked) on a port free for
both UDP and TCP, answering only from its command line (no resolv.conf, no
/etc/hosts, no upstream unless given). Started and waited for until it
answers a query; stopped by its PID.

Fixture:
  dnsmasq      factory: dnsmasq(*args, v6=False) -> Dnsmasq (started, stopped at teardown)
Helpers:
  free_udp_tcp_port()  a port nobody uses on 127.0.0.1 for UDP and TCP
  dns_query(port, name, qtype)  one raw UDP query: (rcode, answer count)

Useful dnsmasq options: --local=/test/ makes dnsmasq the authority for
.test (unknown names are NXDOMAIN, known names without the type asked are
NODATA); --mx-host=NAME,HOST,PREF; --mx-host=NAME,.,0 is a null MX (RFC
7505: the wire rdata is 0000 00, pref 0 and the root); --dns-rr=NAME,15,HEX
any raw MX rdata; --host-record=NAME,IPv4,IPv6.
"""
import socket
import struct
import subprocess
import time

import pytest

DNSMASQ = "/usr/sbin/dnsmasq"


def free_udp_tcp_port(host="127.0.0.1"):
    """A port on host that nobody uses right now, for UDP and for TCP."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind((host, 0))
            port = u.getsockname()[1]
            with socket.socket() as t:
                try:
                    t.bind((host, port))
                except OSError:
                    continue
                return port
    raise AssertionError("no free UDP+TCP port")


def dns_query(port, name, qtype=15, host="127.0.0.1", timeout=0.5):
    """Sends one query (class IN) over UDP; returns (rcode, ancount), or None
    when nothing answered within timeout."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    qname = b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0"
    packet = struct.pack(">HHHHHH", 0x2606, 0x0100, 1, 0, 0, 0) + qname + struct.pack(">HH", qtype, 1)
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(packet, (host, port))
            reply = s.recv(4096)
        except (socket.timeout, ConnectionRefusedError):
            return None
    if len(reply) < 12 or reply[:2] != packet[:2]:
        return None
    return reply[3] & 0x0F, struct.unpack(">H", reply[6:8])[0]


class Dnsmasq:
    def __init__(self, logpath, args, v6=False):
        self.logpath = logpath
        self.args = list(args)
        self.v6 = v6
        self.port = None
        self.proc = None
        self.output = ""

    def start(self):
        # The port may be taken between the check and dnsmasq's bind: try again.
        for _ in range(5):
            self.port = free_udp_tcp_port()
            listen = "127.0.0.1,::1" if self.v6 else "127.0.0.1"
            cmd = [DNSMASQ, "--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                   "--no-poll", "--bind-interfaces", f"--listen-address={listen}",
                   f"--port={self.port}", "--pid-file=", "--log-queries", *self.args]
            # A file, not a pipe: dnsmasq must never block on its log. It
            # appends; we read through a descriptor of our own.
            with open(self.logpath, "ab") as logf:
                self.proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and self.proc.poll() is None:
                # Any answer will do: even REFUSED says it is listening.
                if dns_query(self.port, "ready.invalid", timeout=0.1) is not None:
                    return self
                time.sleep(0.02)
            self.stop()
            if "Address already in use" not in self.output:
                raise AssertionError(f"dnsmasq did not start:\n{self.output}")
        raise AssertionError(f"dnsmasq found no free port:\n{self.output}")

    def log(self):
        """What dnsmasq printed so far (with --log-queries: one line per query)."""
        if self.proc is None:
            return self.output
        return self.logpath.read_text(errors="replace")

    @property
    def server(self):
        return f"127.0.0.1:{self.port}"

    def stop(self):
        """SIGTERM by PID, then SIGKILL if it lingers; keeps what it printed."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.output = self.log()
        self.proc = None


@pytest.fixture
def dnsmasq(tmp_path):
    started = []

    def make(*args, v6=False):
        d = Dnsmasq(tmp_path / f"dnsmasq{len(started)}.log", args, v6=v6)
        started.append(d)
        return d.start()

    yield make
    for d in started:
        d.stop()
