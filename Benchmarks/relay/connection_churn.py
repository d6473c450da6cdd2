#!/usr/bin/env python3
# One client that opens connections in a loop for SECONDS, one at a time: each upgrades to a room
# socket, creates a room, and hangs up. With FORWARDED_FOR set, each upgrade carries
# `X-Forwarded-For: FORWARDED_FOR`, so a server that trusts loopback as its proxy (the default)
# counts them as that client's. Prints connections served and refused, and the server's CPU.
# Each room left behind stays open (vacant) for the reconnect window and counts against that
# client's `--max-rooms-per-address`: past it `create_room` is refused (counted as refused); give
# the server `--max-rooms-per-address 0` to measure the connections alone.
#   python3 Benchmarks/relay/connection_churn.py PORT SERVER_PID SECONDS [FORWARDED_FOR]
import os, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from wsprobe import WS, Refused, cpu_of

port, pid, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
forwarded = f"X-Forwarded-For: {sys.argv[4]}\r\n" if len(sys.argv) > 4 else ""

def one_connection():
    """True when the server upgraded the connection and answered; False when it refused it."""
    try:
        client = WS(port, headers=forwarded)
    except (Refused, ConnectionResetError):
        return False
    try:
        client.send_text('{"type":"create_room","player_name":"Churn"}')
        while (kind := client.recv_json().get("type")) != "room_created":
            if kind == "error":
                return False
        return True
    except (EOFError, ConnectionResetError):
        return False
    finally:
        client.close()

served = refused = 0
start, cpu = time.time(), cpu_of(pid)
while time.time() - start < seconds:
    if one_connection():
        served += 1
    else:
        refused += 1
elapsed = time.time() - start
print(f"connection_churn: {served} served, {refused} refused in {elapsed:.1f} s; "
      f"server CPU {cpu_of(pid) - cpu:.2f} s ({1000 * (cpu_of(pid) - cpu) / max(1, served + refused):.3f} ms each)")
