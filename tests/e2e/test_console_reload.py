# SPDX-License-Identifier: MIT
"""The console's reload (docs/console.md, "Reload"): SIGHUP reads the
configuration again, as the console's user. A new admin may act at once,
in the session already open, and an admin removed may not; a renewed
certificate is served to new connections; the doors page shows the new
configuration. What the start fixes (the console address, the spool) is
refused naming it, and so are a file that does not load and a
certificate that cannot be read: the running configuration stays, and the
console serves on."""
import signal
import ssl

from console_web import ADMIN, USER, USERS, setup  # noqa: F401 (setup: a fixture)
from console_web import ca  # noqa: F401 (a fixture)
from conftest import free_port, wait_for


def hup(con, n):
    """SIGHUP, then waits for the n-th event=console-reload line; returns that line."""
    con.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: con.log().count("event=console-reload") >= n, 20, "the console's reload")
    return [line for line in con.log().splitlines() if "event=console-reload" in line][n - 1]


def served_cert_cn(port):
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    import socket
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with c.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            der = s.getpeercert(binary_form=True)
    from cryptography import x509
    cert = x509.load_der_x509_certificate(der)
    return cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)[0].value


def test_admins_change_in_open_sessions(setup):
    g, con = setup()
    bob, alice = con.client(), con.client()
    assert bob.login(USER, USERS[USER])[0] == 303
    assert alice.login(ADMIN, USERS[ADMIN])[0] == 303
    assert bob.request("GET", "/alerts")[0] == 403
    g.write_config(extra=g.extra.replace(f"admins {ADMIN}", f"admins {USER}"))
    line = hup(con, 1)
    assert "status=ok, admins=1, admin_sessions=1" in line, line
    status, _, text = bob.request("GET", "/alerts")
    assert status == 200, text
    assert alice.request("GET", "/alerts")[0] == 403  # no longer an admin, same session
    assert con.proc.poll() is None


def test_a_renewed_certificate_is_served_to_new_connections(setup, ca):
    g, con = setup()
    assert served_cert_cn(con.port) == "gate26.test"
    g.write_config(tls=ca.issue("renewed.test", "127.0.0.1"))
    assert "status=ok" in hup(con, 1)
    assert served_cert_cn(con.port) == "renewed.test"
    assert con.client().request("GET", "/login")[0] == 200


def test_what_the_start_fixes_is_refused_and_the_console_serves_on(setup):
    g, con = setup()
    web = con.client()
    assert web.login(ADMIN, USERS[ADMIN])[0] == 303
    good = g.extra
    other = free_port()
    g.write_config(extra=good.replace(f"127.0.0.1:{con.port}", f"127.0.0.1:{other}"))
    line = hup(con, 1)
    assert "status=failed" in line and "console address changed: that takes a restart" in line
    assert "action=kept-running" in line
    g.write_config(extra=good + "nonsense-key yes\n")
    line = hup(con, 2)
    assert "status=failed" in line and "nonsense-key" in line, line
    spool = g.spool
    g.write_config(extra=good, spool=g.dir / "another-spool")
    line = hup(con, 3)
    assert "spool changed: that takes a restart" in line, line
    g.write_config(spool=spool)
    # Still the running configuration: the session, HTTPS, the admin's pages.
    assert web.request("GET", "/alerts")[0] == 200
    assert con.proc.poll() is None


def test_an_unreadable_certificate_keeps_the_running_one(setup, ca, tmp_path):
    g, con = setup()
    cert, key = ca.issue("broken.test", "127.0.0.1")
    missing = str(tmp_path / "no-such-key.pem")
    g.write_config(tls=(cert, missing))
    line = hup(con, 1)
    assert "status=failed" in line and "cannot read key" in line, line
    assert served_cert_cn(con.port) == "gate26.test"
    assert con.client().request("GET", "/login")[0] == 200


def test_the_doors_page_shows_the_reloaded_configuration(setup):
    g, con = setup()
    web = con.client()
    assert web.login(ADMIN, USERS[ADMIN])[0] == 303
    assert 'id="door-internal"' not in web.request("GET", "/doors")[2]
    g.ports["internal"] = free_port()
    g.write_config(doors={**g.doors, "internal": {"allow": "127.0.0.0/8", "tls": "none"}})
    assert "status=ok" in hup(con, 1)
    assert 'id="door-internal"' in web.request("GET", "/doors")[2]
