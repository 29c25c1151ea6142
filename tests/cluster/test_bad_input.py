#!/usr/bin/python3
"""tests/cluster/test_bad_input.py — bad input on the client port of a real
node: every case gets a RESP error (and the connection is closed after a
protocol error), the node never crashes, and its memory stays bounded.
Also RESP3 through HELLO 3, AUTH, the client limit and the output limit.

Usage: test_bad_input.py PORT — PORT is a node started with --max-clients 40
--client-output-limit 1mb --max-value-bytes 64kb --max-inline-bytes 1kb
--max-multibulk-count 1000;  test_bad_input.py --auth PORT PASSWORD — a node
started with --requirepass PASSWORD (only the AUTH cases).  Prints ok/FAIL lines and "N passed, N failed".
"""
import socket
import sys
import time

passed = 0
failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok   " + name)
    else:
        failed += 1
        print("FAIL %s %s" % (name, detail))


def conn(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_some(s, timeout=3.0):
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data, True  # closed
            data += chunk
            if data.endswith(b"\r\n"):
                s.settimeout(0.2)
    except socket.timeout:
        return data, False


def cmd(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def alive(port):
    s = conn(port)
    s.sendall(cmd("PING"))
    data, _ = recv_some(s)
    s.close()
    return data == b"+PONG\r\n"


def rss(port):
    s = conn(port)
    s.sendall(cmd("INFO", "memory"))
    data, _ = recv_some(s)
    s.close()
    for line in data.split(b"\r\n"):
        if line.startswith(b"used_memory_rss:"):
            return int(line.split(b":")[1])
    return 0


def protocol_error(port, name, payload):
    s = conn(port)
    s.sendall(payload)
    data, closed = recv_some(s)
    s.close()
    check(name + ": error reply", data.startswith(b"-ERR Protocol error") or
          data.startswith(b"-ERR"), repr(data[:120]))
    check(name + ": connection closed", closed, repr(data[:120]))


def main():
    if sys.argv[1] == "--auth":
        auth_cases(int(sys.argv[2]), sys.argv[3])
    else:
        limit_cases(int(sys.argv[1]))
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


def limit_cases(port):
    protocol_error(port, "bulk length over the limit", b"*2\r\n$3\r\nGET\r\n$99999999\r\n")
    protocol_error(port, "multibulk count over the limit", b"*100000\r\n")
    protocol_error(port, "malformed bulk length", b"*1\r\n$abc\r\n")
    protocol_error(port, "missing $", b"*1\r\n:12\r\n")
    protocol_error(port, "inline line over the limit", b"GET " + b"x" * 5000 + b"\r\n")
    protocol_error(port, "unbalanced quotes", b'SET "abc def\r\n')
    protocol_error(port, "binary garbage", b"*1\r\n$1\r\nx\rX" + bytes(range(256)))

    s = conn(port)
    s.sendall(cmd("NOSUCH", "a") + cmd("GET") + cmd("SET", "k") + cmd("SET", "k", "v", "BOGUS") +
              cmd("INCRBY", "k", "notanumber") + cmd("PING"))
    data, closed = recv_some(s)
    lines = data.split(b"\r\n")
    check("unknown command: error, connection kept", lines[0].startswith(b"-ERR unknown command"),
          repr(lines[0]))
    check("wrong arity (GET)", lines[1].startswith(b"-ERR wrong number of arguments"), repr(lines[1]))
    check("wrong arity (SET k)", lines[2].startswith(b"-ERR wrong number of arguments"), repr(lines[2]))
    check("syntax error (SET option)", lines[3].startswith(b"-ERR syntax error"), repr(lines[3]))
    check("not an integer", lines[4].startswith(b"-ERR value is not an integer"), repr(lines[4]))
    check("the connection still works after command errors", lines[5] == b"+PONG" and not closed,
          repr(data))
    s.close()

    s = conn(port)
    big = b"v" * (64 * 1024 + 1)
    s.sendall(cmd("SET", "big", big))
    data, _ = recv_some(s)
    check("value over --max-value-bytes refused", data.startswith(b"-ERR"), repr(data[:80]))
    s.close()

    s = conn(port)
    s.sendall(cmd("HELLO", "3"))
    data, _ = recv_some(s)
    check("HELLO 3 answers a RESP3 map", data.startswith(b"%"), repr(data[:40]))
    s.sendall(cmd("GET", "nosuchkey"))
    data, _ = recv_some(s)
    check("RESP3 null for a missing key", data == b"_\r\n", repr(data))
    s.sendall(cmd("HELLO", "4"))
    data, _ = recv_some(s)
    check("HELLO 4 refused", data.startswith(b"-NOPROTO"), repr(data))
    s.close()

    # A client that pipelines big replies and never reads them is cut off
    # at the output limit, not allowed to grow the server's memory.
    before = rss(port)
    s = conn(port)
    s.sendall(cmd("SET", "fat", b"f" * 60000))
    recv_some(s, 2)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    closed = False
    try:
        for _ in range(400):
            s.sendall(cmd("GET", "fat") * 10)
    except OSError:
        closed = True
    time.sleep(1.0)
    try:
        s.settimeout(1)
        while s.recv(1 << 20):
            pass
        closed = True
    except socket.timeout:
        pass
    except OSError:
        closed = True
    s.close()
    check("a client that does not read its replies is disconnected", closed)
    after = rss(port)
    check("memory stays bounded (RSS grew %d KiB)" % ((after - before) // 1024),
          after - before < 64 * 1024 * 1024, "before %d after %d" % (before, after))

    # Claimed lengths cost nothing until the bytes come.
    before = rss(port)
    socks = []
    for _ in range(30):
        t = conn(port)
        t.sendall(b"*1000\r\n$65000\r\n" + b"x" * 100)
        socks.append(t)
    time.sleep(0.5)
    after = rss(port)
    check("30 half-sent huge requests hold little memory (%d KiB)" % ((after - before) // 1024),
          after - before < 32 * 1024 * 1024)
    # The client limit (40): the extra connections get an error.
    extra = []
    got_limit = False
    for _ in range(20):
        try:
            t = conn(port)
            t.sendall(cmd("PING"))
            data, _ = recv_some(t, 1)
            if data.startswith(b"-ERR max number of clients"):
                got_limit = True
            extra.append(t)
        except OSError:
            pass
    check("connections beyond --max-clients get an error", got_limit)
    for t in socks + extra:
        t.close()
    time.sleep(0.3)
    check("the node is alive after all of it", alive(port))


def auth_cases(aport, pw):
    if True:
        s = conn(aport)
        s.sendall(cmd("GET", "k"))
        data, _ = recv_some(s)
        check("NOAUTH before AUTH", data.startswith(b"-NOAUTH"), repr(data))
        s.sendall(cmd("AUTH", "wrong"))
        data, _ = recv_some(s)
        check("AUTH with a wrong password", data.startswith(b"-WRONGPASS"), repr(data))
        s.sendall(cmd("AUTH", pw) + cmd("PING"))
        data, _ = recv_some(s)
        check("AUTH with the password", data == b"+OK\r\n+PONG\r\n", repr(data))
        s.close()
        s = conn(aport)
        s.sendall(cmd("HELLO", "3", "AUTH", "default", pw))
        data, _ = recv_some(s)
        check("HELLO 3 AUTH", data.startswith(b"%"), repr(data[:40]))
        s.close()


if __name__ == "__main__":
    main()
