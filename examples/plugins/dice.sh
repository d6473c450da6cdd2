#!/usr/bin/env bash
# dice: a message-type plugin in plain bash (see PLUGINS.md).
#
# `roll_dice` {sides?} -> the whole room gets `dice_rolled` {player_id, sides, value};
# a player outside a room gets the roll to themselves. Requests are read with bash's own
# pattern matching: the server writes "kind", "id" and "player_id" before the nested
# objects, so the first match of each is the top-level field (null outside a room: the
# pattern takes null too, so that a "player_id" the client put in its message is not read),
# and "sides" is looked for only in the client's message, the last field. Patterns cannot tell
# a message's own "sides" from one nested deeper in it: a plugin that must read messages
# exactly parses them as JSON (chat_guard.py).
#
# bash's `read` takes a pipe one byte per system call: a roll_dice padded to the 64 KiB frame
# limit would cost this plugin ~50 ms, against ~0.2 ms for the game's, and a few clients sending
# such rolls would take all its time. So its hello reads 1 KiB of a message at most
# (`max_message_bytes`): the server refuses longer rolls with `too_long` and never writes them
# here. A type whose messages are large wants a plugin that reads in blocks (PLUGINS.md §6).
set -u

echo '{"kind":"hello","protocol":1,"name":"dice","handles":["roll_dice"],"max_message_bytes":1024}'

while IFS= read -r line; do
    [[ $line =~ \"id\":([0-9]+) ]] || { echo "dice: request without id" >&2; continue; }
    id=${BASH_REMATCH[1]}
    message=${line#*\"message\":}
    sides=6
    if [[ $message =~ \"sides\":([0-9]+)[,}] ]] && (( ${BASH_REMATCH[1]} >= 2 && ${BASH_REMATCH[1]} <= 100 )); then
        sides=${BASH_REMATCH[1]}
    elif [[ $message =~ \"sides\": ]]; then
        echo "{\"kind\":\"answer\",\"id\":$id,\"actions\":[{\"error\":{\"code\":\"invalid_field\",\"message\":\"Field 'sides' must be an integer from 2 to 100\"}}]}"
        continue
    fi
    value=$(( RANDOM % sides + 1 ))
    player=null
    to=sender
    if [[ $line =~ \"player_id\":(null|\"([^\"\\]|\\.)*\") ]] && [[ ${BASH_REMATCH[1]} != null ]]; then
        player=${BASH_REMATCH[1]}
        to=room
    fi
    echo "{\"kind\":\"answer\",\"id\":$id,\"actions\":[{\"send\":\"$to\",\"message\":{\"type\":\"dice_rolled\",\"player_id\":$player,\"sides\":$sides,\"value\":$value}}]}"
done
