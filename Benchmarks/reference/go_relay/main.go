// A plain Go room relay on gorilla/websocket, reduced to what relay-bench's `relay` scenario uses:
// the "hand-written Go server" a game developer might write instead of this project, measured with
// the same bench on the same cores (BENCHMARKS.md, "Session 28"). Only `create_room`, `join_room`,
// `player_state` (relayed to the others as `player_state_update`, floats rounded to 2 decimals as
// PROTOCOL.md §2 asks) and `ping` are here, as in fastapi_relay.py beside it.
//
// Written the way gorilla's own chat example is: one goroutine reads each connection and one writes
// it from a buffered channel; a broadcast encodes the message once and hands it to every other
// player's channel without waiting (a full channel drops that player, as the example does).
//
// With -raw, a `player_state` is relayed without being parsed into values: its `state` is copied
// into the update as it came, unrounded (so not as PROTOCOL.md asks); what Go and gorilla cost
// per message with the least JSON work.
//
//	apt-get install golang-go golang-github-gorilla-websocket-dev
//	bash Benchmarks/reference/run-reference.sh go relay --rooms 500 --players 2 --hz 30 --duration 20s --quiet
package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"log"
	"math"
	"math/big"
	"net/http"
	"strings"
	"sync"

	"github.com/gorilla/websocket"
)

const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

type client struct {
	conn *websocket.Conn
	send chan []byte
}

type player struct {
	id     string
	name   string
	number int
	client *client
}

type room struct {
	mu         sync.Mutex
	id         string
	name       string
	maxPlayers int
	hostID     string
	players    []*player
}

var (
	raw      = flag.Bool("raw", false, "relay player_state's state as sent, without parsing or rounding it")
	roomsMu  sync.Mutex
	rooms    = map[string]*room{}
	upgrader = websocket.Upgrader{
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
		CheckOrigin:     func(*http.Request) bool { return true },
	}
)

func randomHex(bytes int) string {
	buffer := make([]byte, bytes)
	_, _ = rand.Read(buffer)
	return hex.EncodeToString(buffer)
}

func newRoomCode() string {
	code := make([]byte, 6)
	for index := range code {
		choice, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		code[index] = alphabet[choice.Int64()]
	}
	return string(code)
}

// rounded rounds every number with a fraction or an exponent to 2 decimals; integers stay as sent
// (relay-bench's send time `t` is an integer of microseconds, beyond float64's exact 2 decimals).
func rounded(value any) any {
	switch typed := value.(type) {
	case json.Number:
		text := typed.String()
		if !strings.ContainsAny(text, ".eE") {
			return typed
		}
		number, err := typed.Float64()
		if err != nil {
			return typed
		}
		return math.Round(number*100) / 100
	case map[string]any:
		for key, item := range typed {
			typed[key] = rounded(item)
		}
		return typed
	case []any:
		for index, item := range typed {
			typed[index] = rounded(item)
		}
		return typed
	default:
		return value
	}
}

func encode(message map[string]any) []byte {
	data, err := json.Marshal(message)
	if err != nil {
		log.Printf("encode: %v", err)
		return nil
	}
	return data
}

// deliver queues data for a client without waiting; a client too slow to keep up is closed.
func (c *client) deliver(data []byte) {
	select {
	case c.send <- data:
	default:
		c.conn.Close()
	}
}

func (r *room) info() map[string]any {
	players := make([]any, 0, len(r.players))
	for _, p := range r.players {
		players = append(players, map[string]any{
			"player_id": p.id, "player_name": p.name, "player_number": p.number,
		})
	}
	return map[string]any{
		"room_id": r.id, "room_name": r.name, "host_id": r.hostID, "player_count": len(r.players),
		"max_players": r.maxPlayers, "game_started": false, "players": players,
	}
}

// broadcast encodes message once and queues it for every player but exclude. Call with r.mu held.
func (r *room) broadcast(message map[string]any, exclude string) {
	r.send(encode(message), exclude)
}

// send queues data for every player but exclude. Call with r.mu held.
func (r *room) send(data []byte, exclude string) {
	for _, p := range r.players {
		if p.id != exclude {
			p.client.deliver(data)
		}
	}
}

func (r *room) remove(id string) (empty bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for index, p := range r.players {
		if p.id == id {
			r.players = append(r.players[:index], r.players[index+1:]...)
			break
		}
	}
	return len(r.players) == 0
}

func stringField(message map[string]any, key, fallback string) string {
	if text, ok := message[key].(string); ok && text != "" {
		return text
	}
	return fallback
}

func serveRoom(w http.ResponseWriter, request *http.Request) {
	conn, err := upgrader.Upgrade(w, request, nil)
	if err != nil {
		return
	}
	c := &client{conn: conn, send: make(chan []byte, 256)}
	go c.writeLoop()
	c.readLoop(strings.TrimPrefix(request.URL.Path, "/ws/room/"))
}

func (c *client) writeLoop() {
	defer c.conn.Close()
	for data := range c.send {
		if err := c.conn.WriteMessage(websocket.TextMessage, data); err != nil {
			return
		}
	}
}

func (c *client) readLoop(pathCode string) {
	var current *room
	var playerID string
	defer func() {
		if current != nil && current.remove(playerID) {
			roomsMu.Lock()
			delete(rooms, current.id)
			roomsMu.Unlock()
		}
		close(c.send)
	}()
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		if *raw && current != nil && c.relayRaw(current, playerID, data) {
			continue
		}
		decoder := json.NewDecoder(bytes.NewReader(data))
		decoder.UseNumber()
		var message map[string]any
		if decoder.Decode(&message) != nil {
			c.deliver(encode(map[string]any{"type": "error", "message": "Invalid JSON"}))
			continue
		}
		// One room per connection: a room that kept a connection closed here would send to a closed channel.
		if kind := message["type"]; current != nil && (kind == "create_room" || kind == "join_room") {
			c.deliver(encode(map[string]any{"type": "error", "message": "Already in a room."}))
			continue
		}
		switch message["type"] {
		case "create_room":
			playerID = stringField(message, "player_id", randomHex(8))
			maxPlayers := 2
			if number, ok := message["max_players"].(json.Number); ok {
				if value, err := number.Int64(); err == nil && value > 0 {
					maxPlayers = int(value)
				}
			}
			current = &room{name: stringField(message, "room_name", "Room"), maxPlayers: maxPlayers, hostID: playerID}
			name := stringField(message, "player_name", "Player")
			current.players = []*player{{id: playerID, name: name, number: 1, client: c}}
			roomsMu.Lock()
			for current.id == "" || rooms[current.id] != nil {
				current.id = newRoomCode()
			}
			rooms[current.id] = current
			roomsMu.Unlock()
			current.mu.Lock()
			info := current.info()
			current.mu.Unlock()
			c.deliver(encode(map[string]any{"type": "player_joined", "player_id": playerID, "room_info": info}))
			c.deliver(encode(map[string]any{
				"type": "room_created", "room_id": current.id, "player_id": playerID, "player_number": 1,
				"room_info": info,
			}))
		case "join_room":
			code := stringField(message, "room_id", pathCode)
			roomsMu.Lock()
			target := rooms[code]
			roomsMu.Unlock()
			id := stringField(message, "player_id", randomHex(8))
			if target == nil {
				c.deliver(encode(map[string]any{"type": "error", "message": "Failed to join room."}))
				continue
			}
			target.mu.Lock()
			if len(target.players) >= target.maxPlayers {
				target.mu.Unlock()
				c.deliver(encode(map[string]any{"type": "error", "message": "Failed to join room."}))
				continue
			}
			number := len(target.players) + 1
			target.players = append(target.players, &player{
				id: id, name: stringField(message, "player_name", "Player"), number: number, client: c,
			})
			info := target.info()
			target.broadcast(map[string]any{
				"type": "player_joined", "player_id": id, "player_number": number, "room_info": info,
			}, "")
			target.mu.Unlock()
			current, playerID = target, id
			c.deliver(encode(map[string]any{
				"type": "room_joined", "room_id": code, "player_id": id, "player_number": number, "room_info": info,
			}))
		case "player_state":
			state, ok := message["state"].(map[string]any)
			if current == nil || !ok {
				continue
			}
			update := map[string]any{"type": "player_state_update", "player_id": playerID, "state": rounded(state)}
			current.mu.Lock()
			current.broadcast(update, playerID)
			current.mu.Unlock()
		case "ping":
			c.deliver(encode(map[string]any{"type": "pong"}))
		}
	}
}

// relayRaw relays a `player_state` with its `state` copied as it came; false for any other message.
func (c *client) relayRaw(current *room, playerID string, data []byte) bool {
	var envelope struct {
		Type  string          `json:"type"`
		State json.RawMessage `json:"state"`
	}
	if json.Unmarshal(data, &envelope) != nil || envelope.Type != "player_state" || len(envelope.State) == 0 ||
		envelope.State[0] != '{' {
		return false
	}
	id, _ := json.Marshal(playerID)
	update := make([]byte, 0, len(data)+len(id)+48)
	update = append(update, `{"type":"player_state_update","player_id":`...)
	update = append(update, id...)
	update = append(update, `,"state":`...)
	update = append(update, envelope.State...)
	update = append(update, '}')
	current.mu.Lock()
	current.send(update, playerID)
	current.mu.Unlock()
	return true
}

func main() {
	address := flag.String("addr", "127.0.0.1:8002", "address to listen on")
	flag.Parse()
	http.HandleFunc("/ws/room/", serveRoom)
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"message":"go relay"}`))
	})
	log.Fatal(http.ListenAndServe(*address, nil))
}
