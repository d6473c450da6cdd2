#!/usr/bin/env python3
"""room_scores: a message type with state per room, kept true by room events (see PLUGINS.md).

`{"type":"add_score","points":N}` (N a whole number from 1 to 1000) adds N to the sender's score
in their room, and the whole room gets `{"type":"room_scores","scores":{player_id: points}}`.
The room events keep the table true: a member who leaves loses their score (one who drops keeps
it, and may come back), and a closed room is forgotten, since its code may be reused. If events of
a room were lost (the plugin fell behind), its next request keeps only the scores of the members
it lists: a departure or the room's closing may have been among them. A member away at that moment
is not listed, and loses their score too: the request cannot tell them from one who left. A room
not heard of for a day is forgotten as well: its closing may have been lost with events the server
could not even count (PLUGINS.md, "events_missed").
"""
import json
import sys
import time

FORGET_AFTER_SECONDS = 24 * 3600
scores = {}  # room_id -> {player_id: points}
unsure = set()  # rooms whose events were lost: checked against their next request
last_heard = {}  # room_id -> time.monotonic() of its last request or event, for the rooms in scores
next_sweep = 0.0

# The protocol is UTF-8 whatever locale the server was started in.
sys.stdin.reconfigure(encoding="utf-8")
sys.stdout.reconfigure(encoding="utf-8")


def say(line):
    sys.stdout.write(json.dumps(line, separators=(",", ":"), allow_nan=False) + "\n")
    sys.stdout.flush()


def forget(room_id):
    scores.pop(room_id, None)
    unsure.discard(room_id)
    last_heard.pop(room_id, None)


def forget_silent_rooms(now):
    """At most once a minute, so that a busy plugin does not walk every room per request."""
    global next_sweep
    if now < next_sweep:
        return
    next_sweep = now + 60
    for room_id in [room for room, heard in last_heard.items() if now - heard > FORGET_AFTER_SECONDS]:
        forget(room_id)


def actions(request):
    points = request["message"].get("points")
    if request["room"] is None:
        return [{"error": {"code": "not_in_room", "message": "Join a room to score"}}]
    if type(points) is not int or not 1 <= points <= 1000:
        return [{"error": {"code": "invalid_points", "message": "points must be a whole number from 1 to 1000"}}]
    room_id = request["room"]["room_id"]
    last_heard[room_id] = time.monotonic()
    table = scores.setdefault(room_id, {})
    if room_id in unsure:
        unsure.discard(room_id)
        members = {player["player_id"] for player in request["room"]["players"]}
        table = scores[room_id] = {player: points for player, points in table.items() if player in members}
    table[request["player_id"]] = table.get(request["player_id"], 0) + points
    return [{"send": "room", "message": {"type": "room_scores", "scores": table}}]


def hear(event):
    room_id = event["room_id"]
    if room_id in last_heard:
        last_heard[room_id] = time.monotonic()
    if event["event"] == "member_left":
        scores.get(room_id, {}).pop(event["player_id"], None)
    elif event["event"] == "room_closed":
        if room_id in scores:
            print(f"room_scores: room {room_id} closed, its scores forgotten", file=sys.stderr, flush=True)
        forget(room_id)
    elif event["event"] == "events_missed" and room_id in scores:
        unsure.add(room_id)


# An add_score takes some 30 bytes: longer ones are refused (too_long) before they cost json.loads anything.
say({"kind": "hello", "protocol": 1, "name": "room_scores", "handles": ["add_score"],
     "events": ["member_left", "room_closed", "events_missed"], "max_message_bytes": 256})
for line in sys.stdin:
    try:
        request = json.loads(line)
    except ValueError:
        print("room_scores: skipped an unreadable line", file=sys.stderr, flush=True)
        continue
    forget_silent_rooms(time.monotonic())
    if request.get("kind") == "event":
        hear(request)
    elif request.get("kind") == "message":
        say({"kind": "answer", "id": request["id"], "actions": actions(request)})
