"""Attacks on the network layer: the sandbox has a network namespace of its
own whose only interface is a loopback that is down, and no route.

No test sends anything outside 127.0.0.0/8: "other hosts" are checked on the
interface list and the routing table, and the one connect() to an outside
address happens only after the same job proved there is no interface but lo
and no route (the kernel then fails it with ENETUNREACH before any packet
exists).
"""

import json
import socket
import uuid

# errnos that mean "nothing there to talk to" (never: connected)
UNREACHABLE = {"ENETUNREACH", "EADDRNOTAVAIL", "ECONNREFUSED", "EHOSTUNREACH"}

CONNECT_PAYLOAD = r'''
import errno, json, socket, sys
targets = json.loads(sys.argv[1])
for host, port in targets:
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        s.connect((host, port))
    except OSError as e:
        print("%s %d %s" % (host, port, errno.errorcode.get(e.errno, e.errno)))
        continue
    # it connected: show what answers, so the failure says what leaked
    try:
        s.sendall(b"PING\r\nGET / HTTP/1.0\r\n\r\n")
        print("%s %d CONNECTED %r" % (host, port, s.recv(200)))
    except OSError as e:
        print("%s %d CONNECTED (then %s)" % (host, port, e))
'''


def check_unreachable(body, targets):
    assert body["status"] == "ok", body
    lines = body["stdout"].splitlines()
    assert len(lines) == len(targets), body          # every attempt reported
    for (host, port), line in zip(targets, lines):
        h, p, result = line.split(" ", 2)
        assert (h, int(p)) == (host, port), line
        assert "CONNECTED" not in result, "the sandbox reached %s:%d: %s" % (host, port, line)
        assert result in UNREACHABLE, line


def test_connect_to_redis_port(api, sid, stack):
    targets = [["127.0.0.1", stack.redis_port], ["::1", stack.redis_port],
               ["0.0.0.0", stack.redis_port], ["127.0.0.53", stack.redis_port]]
    body = api.run_py(sid, CONNECT_PAYLOAD, args="'%s'" % json.dumps(targets))
    check_unreachable(body, targets)
    assert "PONG" not in body["stdout"] and "NOAUTH" not in body["stdout"], body


def test_connect_to_nginx_port(api, sid, stack):
    targets = [["127.0.0.1", stack.http_port], ["::1", stack.http_port],
               ["127.1.2.3", stack.http_port]]
    body = api.run_py(sid, CONNECT_PAYLOAD, args="'%s'" % json.dumps(targets))
    check_unreachable(body, targets)
    assert "HTTP/" not in body["stdout"] and "ping" not in body["stdout"]


def test_udp_to_redis_port_is_unreachable(api, sid, stack):
    body = api.run_py(sid, r'''
        import errno, socket
        for fam, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            s = socket.socket(fam, socket.SOCK_DGRAM)
            try:
                s.sendto(b"PING\r\n", (host, %d))
                print(host, "SENT")
            except OSError as e:
                print(host, errno.errorcode.get(e.errno, e.errno))
    ''' % stack.redis_port)
    assert body["status"] == "ok", body
    lines = body["stdout"].splitlines()
    assert len(lines) == 2, body
    for line in lines:
        assert line.split()[1] in UNREACHABLE, body


def test_api_unix_socket_is_not_visible(api, sid, stack):
    body = api.run_py(sid, r'''
        import errno, socket
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(%r)
            print("CONNECTED")
        except OSError as e:
            print(errno.errorcode.get(e.errno, e.errno))
    ''' % stack.api_socket)
    assert body["status"] == "ok", body
    assert body["stdout"].strip() == "ENOENT", body


def test_host_abstract_unix_socket_is_not_reachable(api, sid):
    """An abstract socket the host listens on lives in the host's network
    namespace: the sandbox's connect() finds nothing."""
    name = "evald-sec-" + uuid.uuid4().hex
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind("\0" + name)
    srv.listen(4)
    srv.setblocking(False)
    try:
        body = api.run_py(sid, r'''
            import errno, socket
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect("\0%s")
                print("CONNECTED")
            except OSError as e:
                print(errno.errorcode.get(e.errno, e.errno))
        ''' % name)
        try:
            conn, _ = srv.accept()
            conn.close()
            accepted = True
        except BlockingIOError:
            accepted = False
    finally:
        srv.close()
    assert body["status"] == "ok", body
    assert body["stdout"].strip() == "ECONNREFUSED", body
    assert not accepted


def test_no_interface_but_a_down_loopback_and_no_route(api, sid):
    body = api.run(sid, "cat /proc/net/dev; echo ==; ip -o link; echo ==; ip -o addr; "
                        "echo ==; cat /proc/net/route; echo ==; cat /proc/net/ipv6_route; "
                        "echo ==; ip route; ip -6 route; echo END")
    assert body["status"] == "ok", body
    dev, links, addrs, route4, route6, rest = body["stdout"].split("==\n")
    assert rest.strip().endswith("END")
    # /proc/net/dev: two header lines, then interfaces: only lo
    ifaces = [l.split(":")[0].strip() for l in dev.splitlines()[2:] if l.strip()]
    assert ifaces == ["lo"], dev
    link_lines = [l for l in links.splitlines() if l.strip()]
    assert len(link_lines) == 1 and ": lo:" in link_lines[0], links
    assert "state DOWN" in link_lines[0] and ",UP" not in link_lines[0], links
    # no address is usable: lo's own (if listed) is on a down link
    for l in addrs.splitlines():
        assert " lo " in l, addrs
    # routing tables: header at most, no entry
    assert [l for l in route4.splitlines() if l.strip() and not l.startswith("Iface")] == [], route4
    # IPv6 always has the kernel's "unreachable" null entries (RTF_REJECT,
    # 0x0200, metric ffffffff, on lo); any other entry would be a route.
    for l in route6.splitlines():
        f = l.split()
        assert int(f[8], 16) & 0x0200 and f[5] == "ffffffff" and f[9] == "lo", route6
    assert rest.strip() == "END", rest


def test_other_hosts_unreachable_without_sending(api, sid):
    """connect() to an outside address, only after proving (in the same job)
    that there is no interface but lo and no route: the kernel then fails it
    with ENETUNREACH before any packet is built."""
    body = api.run_py(sid, r'''
        import errno, socket
        ifaces = [l.split(":")[0].strip() for l in open("/proc/net/dev").read().splitlines()[2:]]
        routes = [l for l in open("/proc/net/route").read().splitlines()[1:] if l.strip()]
        # IPv6's null entries (RTF_REJECT) are not routes: they answer ENETUNREACH
        routes6 = [l for l in open("/proc/net/ipv6_route").read().splitlines()
                   if l.strip() and not int(l.split()[8], 16) & 0x0200]
        if ifaces != ["lo"] or routes or routes6:
            print("NOT-ISOLATED", ifaces, routes, routes6)
            raise SystemExit(0)
        for host in ("10.255.255.1", "192.0.2.1"):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect((host, 9))
                print(host, "CONNECTED")
            except OSError as e:
                print(host, errno.errorcode.get(e.errno, e.errno))
        try:
            socket.getaddrinfo("example.com", 80)
            print("dns RESOLVED")
        except OSError as e:
            print("dns", type(e).__name__)
    ''')
    assert body["status"] == "ok", body
    out = body["stdout"]
    assert "NOT-ISOLATED" not in out, out
    lines = out.splitlines()
    assert lines == ["10.255.255.1 ENETUNREACH", "192.0.2.1 ENETUNREACH",
                     "dns gaierror"], out


def test_cannot_bring_loopback_up_or_add_routes(api, sid):
    body = api.run(sid, "ip link set lo up; echo rc1=$?; ip addr add 10.9.9.9/24 dev lo; "
                        "echo rc2=$?; ip route add default dev lo; echo rc3=$?; "
                        "ip link add dummy0 type dummy; echo rc4=$?; ip -o link")
    assert body["status"] == "ok", body
    out = body["stdout"]
    for rc in ("rc1=", "rc2=", "rc3=", "rc4="):
        assert rc in out and rc + "0" not in out, out
    assert "Operation not permitted" in body["stderr"], body
    links = [l for l in out.splitlines() if ": " in l and not l.startswith("rc")]
    assert len(links) == 1 and "state DOWN" in links[0], out


def test_raw_socket(api, sid):
    body = api.run_py(sid, r'''
        import errno, socket
        for proto in (socket.IPPROTO_ICMP, socket.IPPROTO_TCP, socket.IPPROTO_RAW):
            for fam in (socket.AF_INET, socket.AF_INET6):
                try:
                    socket.socket(fam, socket.SOCK_RAW, proto)
                    print("OPENED")
                except OSError as e:
                    print(errno.errorcode.get(e.errno, e.errno))
    ''')
    assert body["status"] == "ok", body
    assert body["stdout"].split() == ["EPERM"] * 6, body


def test_packet_socket(api, sid):
    body = api.run_py(sid, r'''
        import errno, socket
        for kind in (socket.SOCK_RAW, socket.SOCK_DGRAM):
            try:
                socket.socket(socket.AF_PACKET, kind, socket.htons(0x0003))
                print("OPENED")
            except OSError as e:
                print(errno.errorcode.get(e.errno, e.errno))
    ''')
    assert body["status"] == "ok", body
    assert body["stdout"].split() == ["EPERM", "EPERM"], body


def test_icmp_ping_socket(api, sid):
    body = api.run_py(sid, r'''
        import errno, socket
        try:
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
            print("OPENED")
        except OSError as e:
            print(errno.errorcode.get(e.errno, e.errno))
    ''')
    assert body["status"] == "ok", body
    assert body["stdout"].strip() in ("EACCES", "EPERM"), body


def test_host_sockets_are_not_listed(api, sid, stack):
    """/proc/net belongs to the job's network namespace: none of the host's
    listening sockets (Redis, nginx, the API's unix socket) is listed, while
    a socket the job itself makes is."""
    body = api.run_py(sid, r'''
        import socket
        mine = socket.socket(socket.AF_UNIX)
        mine.bind("\0job-own-socket")
        for f in ("tcp", "tcp6", "udp", "udp6", "unix", "raw", "packet"):
            print("==", f)
            print(open("/proc/net/" + f).read())
    ''')
    assert body["status"] == "ok", body
    out = body["stdout"]
    assert "@job-own-socket" in out, out                      # control: our own shows
    for port in (stack.redis_port, stack.http_port):
        assert (":%04X " % port) not in out, (port, out)
    assert stack.api_socket not in out and str(stack.dir) not in out, out
    tcp = out.split("== tcp\n", 1)[1].split("== tcp6", 1)[0]
    assert [l for l in tcp.splitlines()[1:] if l.strip()] == [], tcp
