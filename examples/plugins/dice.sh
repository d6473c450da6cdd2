#!/usr/bin/env bash
# dice: a message-type plugin in plain bash (see PLUGINS.md).
#
# `roll_dice` {sides?} -> the whole room gets `dice_rolled` {player_id, sides, value};
# a player outside a room gets the roll to themselves. Requests are read with bash's own
# pattern matching: the server writes "kind", "id" and "player_id" before the nested
# objects, so the first match of each is the top-level field.
set -u

echo '{"kind":"hello","protocol":1,"name":"dice","handles":["roll_dice"]}'

while IFS= read -r line; do
    [[ $line =~ \"id\":([0-9]+) ]] || { echo "dice: request without id" >&2; continue; }
    id=${BASH_REMATCH[1]}
    sides=6
    if [[ $line =~ \"sides\":([0-9]+)[,}] ]] && (( ${BASH_REMATCH[1]} >= 2 && ${BASH_REMATCH[1]} <= 100 )); then
        sides=${BASH_REMATCH[1]}
    elif [[ $line =~ \"sides\": ]]; then
        echo "{\"kind\":\"answer\",\"id\":$id,\"actions\":[{\"error\":{\"code\":\"invalid_field\",\"message\":\"Field 'sides' must be an integer from 2 to 100\"}}]}"
        continue
    fi
    value=$(( RANDOM % sides + 1 ))
    if [[ $line =~ \"player_id\":(\"([^\"\\]|\\.)*\") ]]; then
        player=${BASH_REMATCH[1]}
        to=room
    else
        player=null
        to=sender
    fi
    echo "{\"kind\":\"answer\",\"id\":$id,\"actions\":[{\"send\":\"$to\",\"message\":{\"type\":\"dice_rolled\",\"player_id\":$player,\"sides\":$sides,\"value\":$value}}]}"
done
