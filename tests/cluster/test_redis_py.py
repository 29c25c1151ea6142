#!/usr/bin/python3
"""tests/cluster/test_redis_py.py — redis-py (Debian python3-redis) against
a real cluster: pipelines that read their own writes, binary-safe keys and
values, scan_iter over everything, MSET/MGET, INCR races from several
threads (no lost update), and the same through every node.

Usage: test_redis_py.py PORT [PORT...].  Prints ok/FAIL lines and
"N passed, N failed".
"""
import sys
import threading

import redis

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


def main():
    ports = [int(p) for p in sys.argv[1:]]
    rs = [redis.Redis(host="127.0.0.1", port=p, socket_timeout=10) for p in ports]
    r = rs[-1]
    check("ping", r.ping() is True)

    p = r.pipeline(transaction=False)
    for i in range(500):
        p.set("pipe:%d" % i, i)
        p.get("pipe:%d" % i)
    out = p.execute()
    sets = out[0::2]
    gets = out[1::2]
    check("a 1000-command pipeline: every SET OK", all(x is True for x in sets))
    check("a pipeline reads its own writes", gets == [str(i).encode() for i in range(500)],
          repr(gets[:5]))

    # More requests than a connection may have in flight (1024): the
    # server stops reading the socket until replies drain, then must read
    # on.  Sent to the leader and to a follower (forwarded requests).
    for name, client in (("this node", r), ("another node", rs[0])):
        p = client.pipeline(transaction=False)
        for i in range(3000):
            p.set("deep:%d" % i, i)
            p.get("deep:%d" % i)
        try:
            out = p.execute()
        except redis.RedisError as e:
            out = [e]
        check("a 6000-command pipeline to %s gets every reply" % name,
              len(out) == 6000 and all(x is True for x in out[0::2]) and
              out[1::2] == [str(i).encode() for i in range(3000)],
              repr(out[:3]) + " ... %d replies" % len(out))

    key = bytes(range(256))
    val = bytes(reversed(range(256))) * 100
    check("binary key and value: SET", r.set(key, val) is True)
    check("binary key and value: GET on another node", rs[0].get(key) == val)
    check("empty value is not absent", r.set("empty", b"") and rs[0].get("empty") == b"")
    check("absent is None", rs[0].get("absent-key") is None)

    mapping = {"m:%d" % i: "v%d" % i for i in range(100)}
    check("MSET 100 keys", r.mset(mapping) is True)
    check("MGET 100 keys", rs[0].mget(list(mapping)) == [v.encode() for v in mapping.values()])

    want = set(k.encode() for k in mapping) | set(("pipe:%d" % i).encode() for i in range(500)) | \
        set(("deep:%d" % i).encode() for i in range(3000)) | {key, b"empty"}
    got = set(rs[0].scan_iter(count=37))
    check("scan_iter returns every key exactly once", got == want,
          "missing %d, extra %d" % (len(want - got), len(got - want)))
    got_m = set(rs[0].scan_iter(match="m:*", count=10))
    check("scan_iter with MATCH", got_m == set(k.encode() for k in mapping))
    check("dbsize", rs[0].dbsize() == len(want))

    r.set("counter", 0)
    errors = []

    def incr(node):
        try:
            for _ in range(200):
                node.incr("counter")
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=incr, args=(rs[i % len(rs)],)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check("6 threads x 200 INCR through all nodes: no lost update",
          int(r.get("counter")) == 1200 and not errors, "%s %s" % (r.get("counter"), errors[:2]))

    check("DEL of many keys", r.delete(*list(mapping)) == 100)
    check("deleted keys are gone everywhere", all(n.exists("m:1") == 0 for n in rs))
    try:
        r.execute_command("MULTI")
        check("MULTI is refused clearly", False)
    except redis.exceptions.ResponseError as e:
        check("MULTI is refused clearly", "unknown command" in str(e), str(e))
    info = r.info("consensus")
    check("INFO consensus parses", "role" in info and "term" in info, repr(info))
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
