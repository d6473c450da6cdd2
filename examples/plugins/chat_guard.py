#!/usr/bin/env python3
"""chat_guard: a filter plugin for `chat` (see PLUGINS.md).

Masks listed words with asterisks and rejects chat that carries a link. Every other
chat message passes unchanged; the server's own `chat` handler then relays it.
"""
import json
import re
import sys

BLOCKED_WORDS = ("darn", "heck", "noob")  # a real game loads its own list
# Escaped: a listed "a.s" would mask "abs", and a "*bad" would stop the plugin before its hello.
WORD = re.compile(r"\b(" + "|".join(map(re.escape, BLOCKED_WORDS)) + r")\b", re.IGNORECASE)
LINK = re.compile(r"https?://|www\.", re.IGNORECASE)


# The protocol is UTF-8 whatever locale the server was started in (a Latin-1 one garbled every
# rewritten "Ça va" and emoji).
sys.stdin.reconfigure(encoding="utf-8")
sys.stdout.reconfigure(encoding="utf-8")


def say(line):
    sys.stdout.write(json.dumps(line, separators=(",", ":"), allow_nan=False) + "\n")
    sys.stdout.flush()


def judge(message):
    text = message.get("message")
    if not isinstance(text, str):
        return {"verdict": "pass"}  # the chat handler reports a wrong type itself
    if LINK.search(text):
        return {"verdict": "reject",
                "error": {"code": "chat_link_blocked", "message": "Links are not allowed in chat"}}
    masked = WORD.sub(lambda match: "*" * len(match.group(0)), text)
    if masked == text:
        return {"verdict": "pass"}
    return {"verdict": "rewrite", "message": dict(message, message=masked)}


# "reject" (the default): while the plugin restarts or runs late, chat gets plugin_unavailable or
# plugin_timeout rather than passing unchecked; "pass" would keep chat flowing unchecked instead.
say({"kind": "hello", "protocol": 1, "name": "chat_guard", "filters": ["chat"], "filter_failure": "reject"})
for line in sys.stdin:
    try:
        request = json.loads(line)
    except ValueError:
        print("chat_guard: skipped an unreadable request", file=sys.stderr, flush=True)
        continue
    answer = judge(request.get("message") or {})
    answer.update(kind="answer", id=request["id"])
    say(answer)
