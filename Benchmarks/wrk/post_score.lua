-- wrk script: POST /api/scores with a valid JSON score, a different one each request.
--
--   API_KEY=k wrk -t1 -c64 -d15s --latency -s Benchmarks/wrk/post_score.lua http://127.0.0.1:8099/api/scores
--
-- The key comes from $API_KEY (default "k"). Player names cycle through 5,000 players per
-- wrk thread, scores are uniform in 0…1,000,000, game modes cycle through three.
-- Prints a count of answers by status at the end (anything but 200 is a failure).
-- $X_FORWARDED_FOR, if set, is sent as that header (as a proxy on loopback would).

local api_key = os.getenv("API_KEY") or "k"
local modes = { "classic", "endless", "levels" }

wrk.method = "POST"
wrk.headers["X-API-Key"] = api_key
wrk.headers["Content-Type"] = "application/json"
if os.getenv("X_FORWARDED_FOR") then wrk.headers["X-Forwarded-For"] = os.getenv("X_FORWARDED_FOR") end

local threads = {}

function setup(thread)
   thread:set("id", #threads + 1)
   table.insert(threads, thread)
end

function init(args)
   counter = 0
   statuses = {}
   math.randomseed(os.time() + id * 7919)
end

function request()
   counter = counter + 1
   local body = string.format(
      '{"player_name":"wrk%d_p%d","score":%d,"coins":%d,"enemies_defeated":%d,"distance":%d,"level":%d,"game_mode":"%s"}',
      id, counter % 5000, math.random(0, 1000000), math.random(0, 500), math.random(0, 200),
      math.random(0, 50000), math.random(1, 30), modes[counter % 3 + 1])
   return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
   local totals = {}
   for _, thread in ipairs(threads) do
      local s = thread:get("statuses")
      for status, count in pairs(s) do
         totals[status] = (totals[status] or 0) + count
      end
   end
   local parts = {}
   for status, count in pairs(totals) do
      table.insert(parts, string.format("%s=%d", status, count))
   end
   table.sort(parts)
   io.write("statuses: ", table.concat(parts, " "), "\n")
end
