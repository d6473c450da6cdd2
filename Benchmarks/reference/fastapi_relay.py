"""The old FastAPI backend's room relay, reduced to what relay-bench's `relay` scenario uses.

Written the way the project's seed document (outside this repository) shows the game's
`backend/main.py`: one
`websocket_room_endpoint` per connection that loops on `receive_json()`, a room manager of
dictionaries, and a `broadcast` that awaits `send_json` for each other player. Only
`create_room`, `join_room` and `player_state` (floats rounded to 2 decimals, PROTOCOL.md §2) are
here; everything else the real backend does per message is left out, so this is a lower bound
on its cost, not the backend itself.

    pip install fastapi 'uvicorn[standard]'
    cd Benchmarks/reference   # uvicorn imports `fastapi_relay` from the current folder
    taskset -c 1 uvicorn fastapi_relay:app --host 127.0.0.1 --port 8001 --log-level warning & server=$!
    until curl -s -o /dev/null 127.0.0.1:8001/; do sleep 0.1; done
    taskset -c 0 ../../.build/release/relay-bench step ws://127.0.0.1:8001 --server-pid $server

BENCHMARKS.md ("Session 12") has the runs.
"""

import secrets

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

app = FastAPI()
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def rounded(value):
    if isinstance(value, float):
        return round(value, 2)
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [rounded(item) for item in value]
    return value


class GameRoom:
    def __init__(self, room_id, room_name, max_players=2):
        self.room_id = room_id
        self.room_name = room_name
        self.max_players = max_players
        self.players = {}  # player_id -> state
        self.connections = {}  # player_id -> WebSocket
        self.host_id = None

    def room_info(self):
        return {
            "room_id": self.room_id,
            "room_name": self.room_name,
            "host_id": self.host_id,
            "player_count": len(self.players),
            "max_players": self.max_players,
            "game_started": False,
            "players": [
                {"player_id": pid, "player_name": p["player_name"], "player_number": p["player_number"]}
                for pid, p in self.players.items()
            ],
        }

    def add_player(self, player_id, player_name, websocket):
        if len(self.players) >= self.max_players:
            return False
        if self.host_id is None:
            self.host_id = player_id
        self.players[player_id] = {"player_name": player_name, "player_number": len(self.players) + 1}
        self.connections[player_id] = websocket
        return True

    def update_player_state(self, player_id, state):
        player = self.players.get(player_id)
        if player is not None:
            for key in ("x", "y", "velocity_x", "velocity_y", "facing_right", "is_jumping"):
                if key in state:
                    player[key] = state[key]

    async def broadcast(self, message, exclude=None):
        for player_id, websocket in list(self.connections.items()):
            if player_id != exclude:
                try:
                    await websocket.send_json(message)
                except Exception:
                    pass

    def remove_player(self, player_id):
        self.players.pop(player_id, None)
        self.connections.pop(player_id, None)


rooms = {}


@app.websocket("/ws/room/{room_id}")
async def websocket_room_endpoint(websocket: WebSocket, room_id: str):
    await websocket.accept()
    player_id = None
    current_room = None
    try:
        while True:
            data = await websocket.receive_json()
            message_type = data.get("type")
            if message_type == "create_room":
                player_id = data.get("player_id") or secrets.token_hex(8)
                code = "".join(secrets.choice(ALPHABET) for _ in range(6))
                current_room = rooms[code] = GameRoom(code, data.get("room_name", "Room"), data.get("max_players", 2))
                current_room.add_player(player_id, data.get("player_name", "Player"), websocket)
                info = current_room.room_info()
                await websocket.send_json({"type": "player_joined", "player_id": player_id, "room_info": info})
                await websocket.send_json(
                    {"type": "room_created", "room_id": code, "player_id": player_id, "player_number": 1, "room_info": info}
                )
            elif message_type == "join_room":
                code = data.get("room_id") or room_id
                room = rooms.get(code)
                player_id = data.get("player_id") or secrets.token_hex(8)
                if room is None or not room.add_player(player_id, data.get("player_name", "Player"), websocket):
                    await websocket.send_json(
                        {"type": "error", "message": "Failed to join room. Room may be full or game already started."}
                    )
                    continue
                current_room = room
                info = room.room_info()
                number = room.players[player_id]["player_number"]
                await room.broadcast({"type": "player_joined", "player_id": player_id, "player_number": number, "room_info": info})
                await websocket.send_json(
                    {"type": "room_joined", "room_id": code, "player_id": player_id, "player_number": number, "room_info": info}
                )
            elif message_type == "player_state":
                if current_room and player_id:
                    state_update = rounded(data.get("state", {}))
                    current_room.update_player_state(player_id, state_update)
                    await current_room.broadcast(
                        {"type": "player_state_update", "player_id": player_id, "state": state_update}, exclude=player_id
                    )
            elif message_type == "ping":
                await websocket.send_json({"type": "pong"})
    except WebSocketDisconnect:
        pass
    finally:
        if current_room and player_id:
            current_room.remove_player(player_id)
            if not current_room.players:
                rooms.pop(current_room.room_id, None)
