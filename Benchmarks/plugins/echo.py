#!/usr/bin/env python3
"""echo: the benchmark plugin. `echo` {seq} -> the sender gets `echoed` {seq}.

Reads stdin in large chunks and writes every answer of a chunk in one write: the pattern
PLUGINS.md recommends for plugins that must keep up with many messages a second.
"""
import json
import os

HELLO = b'{"kind":"hello","protocol":1,"name":"echo","handles":["echo"]}\n'


def write_all(data):
    while data:
        data = data[os.write(1, data):]


write_all(HELLO)
pending = b""
while True:
    chunk = os.read(0, 1 << 16)
    if not chunk:
        break
    *lines, pending = (pending + chunk).split(b"\n")
    answers = []
    for line in lines:
        request = json.loads(line)
        answers.append(json.dumps({
            "kind": "answer", "id": request["id"],
            "actions": [{"send": "sender", "message": {"type": "echoed", "seq": request["message"].get("seq")}}],
        }, separators=(",", ":")))
    if answers:
        write_all(("\n".join(answers) + "\n").encode())
