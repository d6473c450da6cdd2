// A plain Node.js room relay on the `ws` package (the server under Socket.IO and Colyseus), reduced
// to what relay-bench's `relay` scenario uses, as fastapi_relay.py and go_relay/main.go beside it:
// `create_room`, `join_room`, `player_state` (relayed to the others as `player_state_update`, floats
// rounded to 2 decimals as PROTOCOL.md §2 asks) and `ping`. A broadcast encodes the message once;
// a client with over 1 MiB unsent is dropped. Measured in BENCHMARKS.md, "Session 28".
//
//   apt-get install -y node-ws     # Debian's ws, in /usr/share/nodejs
//   NODE_PATH=/usr/share/nodejs taskset -c 1 node Benchmarks/reference/node_relay.cjs 8003
'use strict';
const http = require('http');
const crypto = require('crypto');
const { WebSocketServer } = require('ws');

const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const rooms = new Map();

function newRoomCode() {
    let code;
    do {
        code = Array.from({ length: 6 }, () => ALPHABET[crypto.randomInt(ALPHABET.length)]).join('');
    } while (rooms.has(code));
    return code;
}

function rounded(value) {
    if (typeof value === 'number') return Number.isInteger(value) ? value : Math.round(value * 100) / 100;
    if (Array.isArray(value)) return value.map(rounded);
    if (value !== null && typeof value === 'object') {
        for (const key of Object.keys(value)) value[key] = rounded(value[key]);
    }
    return value;
}

function deliver(socket, text) {
    if (socket.bufferedAmount > 1 << 20) socket.terminate();
    else socket.send(text);
}

function roomInfo(room) {
    return {
        room_id: room.id, room_name: room.name, host_id: room.hostID, player_count: room.players.size,
        max_players: room.maxPlayers, game_started: false,
        players: [...room.players.values()].map((p) => ({
            player_id: p.id, player_name: p.name, player_number: p.number,
        })),
    };
}

function broadcast(room, message, exclude) {
    const text = JSON.stringify(message);
    for (const p of room.players.values()) if (p.id !== exclude) deliver(p.socket, text);
}

function textField(message, key, fallback) {
    return typeof message[key] === 'string' && message[key] !== '' ? message[key] : fallback;
}

function serve(socket, pathCode) {
    let room = null;
    let playerID = null;
    socket.on('message', (data) => {
        let message;
        try {
            message = JSON.parse(data);
        } catch {
            deliver(socket, JSON.stringify({ type: 'error', message: 'Invalid JSON' }));
            return;
        }
        if (message === null || typeof message !== 'object') return;
        switch (message.type) {
            case 'create_room': {
                playerID = textField(message, 'player_id', crypto.randomBytes(8).toString('hex'));
                const maxPlayers = Number.isInteger(message.max_players) && message.max_players > 0
                    ? message.max_players : 2;
                room = { id: newRoomCode(), name: textField(message, 'room_name', 'Room'), maxPlayers,
                    hostID: playerID, players: new Map() };
                room.players.set(playerID, {
                    id: playerID, name: textField(message, 'player_name', 'Player'), number: 1, socket,
                });
                rooms.set(room.id, room);
                const info = roomInfo(room);
                deliver(socket, JSON.stringify({ type: 'player_joined', player_id: playerID, room_info: info }));
                deliver(socket, JSON.stringify({
                    type: 'room_created', room_id: room.id, player_id: playerID, player_number: 1, room_info: info,
                }));
                break;
            }
            case 'join_room': {
                const code = textField(message, 'room_id', pathCode);
                const target = rooms.get(code);
                if (!target || target.players.size >= target.maxPlayers) {
                    deliver(socket, JSON.stringify({ type: 'error', message: 'Failed to join room.' }));
                    return;
                }
                const id = textField(message, 'player_id', crypto.randomBytes(8).toString('hex'));
                const number = target.players.size + 1;
                target.players.set(id, { id, name: textField(message, 'player_name', 'Player'), number, socket });
                room = target;
                playerID = id;
                const info = roomInfo(room);
                broadcast(room, { type: 'player_joined', player_id: id, player_number: number, room_info: info });
                deliver(socket, JSON.stringify({
                    type: 'room_joined', room_id: code, player_id: id, player_number: number, room_info: info,
                }));
                break;
            }
            case 'player_state': {
                const state = message.state;
                if (!room || state === null || typeof state !== 'object') return;
                broadcast(room, { type: 'player_state_update', player_id: playerID, state: rounded(state) }, playerID);
                break;
            }
            case 'ping':
                deliver(socket, JSON.stringify({ type: 'pong' }));
                break;
        }
    });
    socket.on('close', () => {
        if (!room) return;
        room.players.delete(playerID);
        if (room.players.size === 0) rooms.delete(room.id);
    });
}

const port = Number(process.argv[2] || 8003);
const server = http.createServer((request, response) => response.end('{"message":"node relay"}'));
const sockets = new WebSocketServer({ noServer: true, perMessageDeflate: false });
server.on('upgrade', (request, socket, head) => {
    const path = new URL(request.url, 'http://localhost').pathname;
    if (!path.startsWith('/ws/room/')) return socket.destroy();
    sockets.handleUpgrade(request, socket, head, (ws) => serve(ws, path.slice('/ws/room/'.length)));
});
server.listen(port, '127.0.0.1');
