# SPDX-License-Identifier: MIT
"""Configurable SMTP servers for the tests of gate26's SMTP client.

Peer(**options) is an aiosmtpd server on 127.0.0.1 (a free port; or
Peer(host="127.0.0.25", port=25, ...) as an MX host would listen), run on
its own event loop in a thread of the test process; start() returns it with
.port set and stop() ends it and every connection. Each connection is
recorded in .conns (a Conn): the command lines, the raw packets as they
arrived, the envelope with its parameters, and the content.

RawPeer(script) sends fixed bytes instead (replies no SMTP server library
would send), at once or as the client's lines arrive, and keeps what comes
back.

Options of Peer (all optional):
  greeting      a reply instead of the 220, e.g. "421 4.3.2 busy" (421: the
                peer then closes, as RFC 5321 3.8 says) or "554 5.7.1 no"
  hang          never greet (and never answer anything)
  ehlo          a whole reply to EHLO instead of the extension list, e.g.
                "502 5.5.1 EHLO not implemented" (HELO still works)
  pipelining, eightbitmime, smtputf8, dsn
                advertise the extension (default: PIPELINING and 8BITMIME)
  size          None: no SIZE; 0: "SIZE"; n: "SIZE n"
  ehlo_extra    more extension lines, as they are
  mail_reply    a reply to MAIL instead of "250 2.1.0 Ok", e.g. "550 5.7.1 no"
  rcpt_replies  {address: reply} for the RCPTs to refuse
  users         the addresses this server knows (any case), as an internal
                server does: RCPT to any other gets "550 5.1.1 <addr>:
                Recipient address rejected: User unknown in local recipient
                table" (None: every address is known)
  rcpt_gate     a threading.Event: RCPT is answered only once it is set
  data_reply    a reply to DATA instead of 354
  end_reply     the reply to the end of data (default "250 2.0.0 Ok: queued")
  drop_at       "MAIL", "RCPT", "DATA" or "DOT": close the connection without
                a reply when that command (or the end of data) arrives
  hang_at       the same commands: never answer it
  max_rcpts     take at most this many RCPTs per transaction, 452 4.5.3 to the rest
  close_after_message
                close the connection right after answering the end of data
                (as a server whose idle timeout is very short)
  tls           (cert, key) paths: offer STARTTLS with that certificate
  drop_second_mail
                close without a reply when MAIL comes on a connection that
                has carried a message already (a reused connection found dead)
  auth          {user: password}: offer AUTH (inside TLS only, as aiosmtpd
                does by default) and check logins against it; each try is
                recorded in Conn.auths as (mechanism, user, password, ok)
  auth_mechs    the mechanisms listed after AUTH (default PLAIN LOGIN); only
                PLAIN and LOGIN work, others are listed and refused (504)
  auth_in_clear offer and take AUTH outside TLS too
  auth_reply    a reply to every AUTH instead of checking, e.g. "454 4.7.0 later"
  auth_required MAIL without a login gets 530 5.7.0
  implicit_tls  (cert, key) paths: TLS from the first byte (smtps, RFC 8314)
"""
import asyncio
import collections
import re
import socket
import threading
from dataclasses import dataclass, field

from aiosmtpd.smtp import SMTP, AuthResult

DEFAULTS = dict(greeting=None, hang=False, ehlo=None, pipelining=True, eightbitmime=True,
                smtputf8=False, dsn=False, size=None, ehlo_extra=(), mail_reply=None,
                rcpt_replies=None, data_reply=None, end_reply="250 2.0.0 Ok: queued",
                drop_at=None, hang_at=None, max_rcpts=None, close_after_message=False,
                drop_second_mail=False, tls=None, auth=None, auth_mechs=("PLAIN", "LOGIN"),
                auth_in_clear=False, auth_reply=None, auth_required=False, implicit_tls=None,
                 users=None, rcpt_gate=None)


@dataclass
class Message:
    """One transaction that carried a message (a connection may carry several)."""
    helo: str
    mail_from: str
    mail_params: list
    rcpts: list
    accepted: list
    data: bytes


@dataclass
class Conn:
    """What one connection received."""
    commands: list = field(default_factory=list)  # command lines, without CRLF
    packets: list = field(default_factory=list)   # bytes, as each read returned them
    helo: str = None                               # "EHLO name" or "HELO name"
    mail_from: str = None
    mail_params: list = field(default_factory=list)
    rcpts: list = field(default_factory=list)      # (address, [params]) of every RCPT
    accepted: list = field(default_factory=list)   # the addresses answered 250
    data: bytes = None                             # the content, dot-stuffing undone
    msgs: list = field(default_factory=list)       # a Message per transaction with content
    quit: bool = False
    tls: bool = False                              # an EHLO came inside TLS
    auths: list = field(default_factory=list)      # (mechanism, user, password, ok) per AUTH

    def packet_with(self, needle):
        """The first packet that holds needle (bytes)."""
        return next((p for p in self.packets if needle in p), None)


class _Handler:
    def __init__(self, session):
        self.session = session

    async def handle_DATA(self, server, session, envelope):
        s = self.session
        s.conn.data = bytes(envelope.original_content)
        c = s.conn
        c.msgs.append(Message(c.helo, c.mail_from, list(c.mail_params), list(c.rcpts),
                              list(c.accepted), c.data))
        if await s.stage("DOT"):
            return "421 4.3.0 not sent: the connection is gone"
        if s.opt["close_after_message"]:
            s.loop.call_later(0.05, s.transport.close)
        return s.opt["end_reply"]


class _Session(SMTP):
    """One connection, following the peer's options."""

    def __init__(self, peer):
        mechs = {"PLAIN", "LOGIN"}
        super().__init__(_Handler(self), hostname="peer.test", ident="peer",
                         enable_SMTPUTF8=True, decode_data=False, data_size_limit=None,
                         timeout=60, loop=peer.loop, tls_context=peer.tls_context,
                         require_starttls=False, authenticator=self._check_auth,
                         auth_require_tls=not (peer.opt["auth_in_clear"] or peer.opt["implicit_tls"]),
                         auth_exclude_mechanism=mechs - set(peer.opt["auth_mechs"]))
        self.peer = peer
        self.opt = peer.opt
        self.conn = Conn()
        self.greeted = False
        # Commands with DSN parameters are longer than RFC 5321's 512.
        self.command_size_limit = 4096
        self.command_size_limits = collections.defaultdict(lambda: 4096)
        peer.conns.append(self.conn)
        peer.sessions.add(self)

    def data_received(self, data):
        self.conn.packets.append(bytes(data))
        super().data_received(data)

    def connection_lost(self, error):
        self.peer.sessions.discard(self)
        super().connection_lost(error)

    def _check_auth(self, server, session, envelope, mechanism, data):
        user = data.login.decode("utf-8", "replace")
        password = data.password.decode("utf-8", "replace")
        if self.opt["auth_reply"] is not None:
            self.conn.auths.append((mechanism, user, password, False))
            return AuthResult(success=False, handled=False, message=self.opt["auth_reply"])
        ok = (self.opt["auth"] or {}).get(user) == password
        self.conn.auths.append((mechanism, user, password, ok))
        return AuthResult(success=ok, handled=False)

    def _in_tls(self):
        return self._tls_protocol is not None or bool(self.opt["implicit_tls"])

    async def smtp_AUTH(self, arg):
        self.conn.commands.append(f"AUTH {arg}")
        if not self.opt["auth"] and self.opt["auth_reply"] is None:
            await super().push("502 5.5.1 AUTH not offered")
            return
        await super().smtp_AUTH(arg)

    async def stage(self, name):
        """Applies drop_at / hang_at to a command. True when it is not to be answered."""
        if self.opt["drop_at"] == name:
            self.transport.abort()
            self._handler_coroutine.cancel()
            return True
        if self.opt["hang_at"] == name:
            await asyncio.sleep(3600)  # cancelled when the client goes
            return True
        return False

    async def push(self, status):
        if not self.greeted:
            self.greeted = True
            if self.opt["hang"]:
                await asyncio.sleep(3600)
                return
            if self.opt["greeting"] is not None:
                await super().push(self.opt["greeting"])
                if self.opt["greeting"].startswith("421"):
                    self.transport.close()
                    self._handler_coroutine.cancel()
                return
        await super().push(status)

    async def smtp_HELO(self, arg):
        self.conn.commands.append(f"HELO {arg}")
        self.conn.helo = f"HELO {arg}"
        await super().smtp_HELO(arg)

    async def smtp_EHLO(self, arg):
        self.conn.commands.append(f"EHLO {arg}")
        self.conn.helo = f"EHLO {arg}"
        self.conn.tls = self.conn.tls or self._in_tls()
        if await self.stage("EHLO"):
            return
        if self.opt["ehlo"] is not None:
            await super().push(self.opt["ehlo"])
            return
        self._set_rset_state()
        self.session.extended_smtp = True
        self.session.host_name = arg
        lines = [self.hostname]
        if self.opt["pipelining"]:
            lines.append("PIPELINING")
        if self.opt["size"] is not None:
            lines.append("SIZE" if self.opt["size"] == 0 else f"SIZE {self.opt['size']}")
        if self.opt["eightbitmime"]:
            lines.append("8BITMIME")
        if self.opt["smtputf8"]:
            lines.append("SMTPUTF8")
        if self.opt["dsn"]:
            lines.append("DSN")
        if self.tls_context and not self._in_tls():
            lines.append("STARTTLS")
        if (self.opt["auth"] or self.opt["auth_reply"]) and \
                (self._in_tls() or self.opt["auth_in_clear"]):
            lines.append("AUTH " + " ".join(self.opt["auth_mechs"]))
        lines.extend(self.opt["ehlo_extra"])
        lines.append("ENHANCEDSTATUSCODES")
        for i, line in enumerate(lines):
            await super().push(("250 " if i == len(lines) - 1 else "250-") + line)

    async def smtp_MAIL(self, arg):
        self.conn.commands.append(f"MAIL {arg}")
        if await self.stage("MAIL"):
            return
        if self.opt["auth_required"] and not self.session.authenticated:
            await super().push("530 5.7.0 Authentication required")
            return
        if self.opt["drop_second_mail"] and self.conn.msgs:
            self.transport.abort()
            self._handler_coroutine.cancel()
            return
        m = re.fullmatch(r"FROM:<([^>]*)>((?: \S+)*)", arg or "", re.I)
        if not m:
            await super().push("501 5.5.4 Syntax: MAIL FROM:<address>")
            return
        self.conn.mail_from = m.group(1)
        self.conn.mail_params = m.group(2).split()
        self.conn.rcpts, self.conn.accepted = [], []  # a new transaction
        if self.opt["mail_reply"] is not None:
            await super().push(self.opt["mail_reply"])
            return
        self.envelope.mail_from = m.group(1)
        self.envelope.mail_options = m.group(2).split()
        await super().push("250 2.1.0 Ok")

    async def smtp_RCPT(self, arg):
        self.conn.commands.append(f"RCPT {arg}")
        if await self.stage("RCPT"):
            return
        if self.envelope.mail_from is None:
            await super().push("503 5.5.1 Error: need MAIL command")
            return
        m = re.fullmatch(r"TO:<([^>]*)>((?: \S+)*)", arg or "", re.I)
        if not m:
            await super().push("501 5.5.4 Syntax: RCPT TO:<address>")
            return
        addr = m.group(1)
        self.conn.rcpts.append((addr, m.group(2).split()))
        gate = self.opt["rcpt_gate"]
        while gate is not None and not gate.is_set():
            await asyncio.sleep(0.02)  # cancelled when the client goes
        refuse = (self.opt["rcpt_replies"] or {}).get(addr)
        users = self.opt["users"]
        if refuse is None and users is not None \
                and addr.lower() not in {u.lower() for u in users}:
            refuse = (f"550 5.1.1 <{addr}>: Recipient address rejected: "
                      "User unknown in local recipient table")
        if refuse is None and self.opt["max_rcpts"] is not None \
                and len(self.envelope.rcpt_tos) >= self.opt["max_rcpts"]:
            refuse = "452 4.5.3 Error: too many recipients"
        if refuse is not None:
            await super().push(refuse)
            return
        self.envelope.rcpt_tos.append(addr)
        self.conn.accepted.append(addr)
        await super().push("250 2.1.5 Ok")

    async def smtp_DATA(self, arg):
        self.conn.commands.append("DATA" if arg is None else f"DATA {arg}")
        if await self.stage("DATA"):
            return
        if self.opt["data_reply"] is not None:
            await super().push(self.opt["data_reply"])
            return
        await super().smtp_DATA(arg)

    async def smtp_QUIT(self, arg):
        self.conn.commands.append("QUIT")
        self.conn.quit = True
        await super().smtp_QUIT(arg)


class Peer:
    def __init__(self, host="127.0.0.1", port=0, **options):
        unknown = set(options) - set(DEFAULTS)
        if unknown:
            raise TypeError(f"unknown peer options {sorted(unknown)}")
        self.opt = dict(DEFAULTS, **options)
        self.tls_context = None
        self.implicit_context = None
        if self.opt["tls"]:
            import ssl
            self.tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls_context.load_cert_chain(*self.opt["tls"])
        if self.opt["implicit_tls"]:
            import ssl
            self.implicit_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.implicit_context.load_cert_chain(*self.opt["implicit_tls"])
        self.host = host
        self.want_port = port
        self.conns = []
        self.sessions = set()
        self.loop = None
        self.server = None
        self.thread = None
        self.port = None

    def start(self):
        ready = threading.Event()
        failure = []

        def run():
            self.loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self.loop)
            try:
                self.server = self.loop.run_until_complete(
                    self.loop.create_server(lambda: _Session(self), self.host, self.want_port,
                                            reuse_address=True, ssl=self.implicit_context))
                self.port = self.server.sockets[0].getsockname()[1]
            except Exception as e:  # reported to start()
                failure.append(e)
                ready.set()
                return
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, name="smtp-peer", daemon=True)
        self.thread.start()
        if not ready.wait(10) or failure:
            raise RuntimeError(f"smtp peer did not start: {failure}")
        return self

    def messages(self):
        """Every message received (a Message each), over every connection."""
        return [m for c in list(self.conns) for m in list(c.msgs)]

    def contents(self):
        """Every content received, over every connection, in order."""
        return [m.data for m in self.messages()]

    @property
    def hop(self):
        """The --hop argument of deliver_try for this peer."""
        return f"peer.test,127.0.0.1:{self.port}"

    def stop(self):
        if self.thread is None:
            return

        async def shutdown():
            self.server.close()
            for s in list(self.sessions):
                if s.transport is not None:
                    s.transport.abort()
            me = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not me]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
        self.thread = None


class RawPeer:
    """A server that sends fixed bytes (hostile replies the aiosmtpd peer
    cannot make) and keeps what the client sends until it closes. script is
    bytes, sent on each connection at once, or a list of (lines, bytes): each
    bytes is sent once the client has sent that many lines in all. start()
    returns it with .port set."""

    def __init__(self, script):
        self.steps = script if isinstance(script, list) else [(0, script)]
        self.received = []  # bytes per connection, once it has ended
        self.sock = None
        self.thread = None
        self.port = None
        self.stopping = False

    def start(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, name="raw-peer", daemon=True)
        self.thread.start()
        return self

    @property
    def hop(self):
        return f"raw.test,127.0.0.1:{self.port}"

    def _serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                self.received.append(self._talk(conn))

    def _talk(self, conn):
        got = b""
        steps = list(self.steps)
        while not self.stopping:
            while steps and steps[0][0] <= got.count(b"\r\n"):
                conn.settimeout(5)
                try:
                    conn.sendall(steps.pop(0)[1])
                except OSError:
                    pass  # the client gave up on us first
            conn.settimeout(0.2)
            try:
                chunk = conn.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not chunk:
                break
            got += chunk
        return got

    def stop(self):
        self.stopping = True
        if self.thread is not None:
            self.thread.join(10)
        self.sock.close()
