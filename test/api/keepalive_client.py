#!/usr/bin/env python3
"""One HTTP/1.1 connection kept open: a GET every INTERVAL for SECONDS.

Usage: keepalive_client.py HOST PORT SECONDS [INTERVAL]
Prints "ok N" when every request got its answer on the one connection, else
"failed after K of N: ERROR" (exit 1). A connection that is reset or hangs shows
that its packets stopped reaching a node that knows it.
"""
import http.client
import sys
import time


def main():
    host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    interval = float(sys.argv[4]) if len(sys.argv) > 4 else 0.1
    conn = http.client.HTTPConnection(host, port, timeout=2)
    done = 0
    end = time.time() + seconds
    while time.time() < end:
        try:
            conn.request("GET", "/")
            body = conn.getresponse().read()
            if not body:
                raise RuntimeError("empty answer")
        except Exception as e:  # noqa: BLE001 - any failure ends the run
            print("failed after %d requests at %.3f: %r" % (done, time.time(), e))
            return 1
        done += 1
        time.sleep(interval)
    print("ok %d" % done)
    return 0


if __name__ == "__main__":
    sys.exit(main())
