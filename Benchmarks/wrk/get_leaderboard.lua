-- wrk script: GET /api/scores/leaderboard?limit=10 with a random game_mode (or none), keyed.
--
--   API_KEY=k wrk -t1 -c64 -d15s --latency -s Benchmarks/wrk/get_leaderboard.lua http://127.0.0.1:8099
--
-- Prints a count of answers by status at the end (anything but 200 is a failure).

local api_key = os.getenv("API_KEY") or "k"
local paths = {
   "/api/scores/leaderboard?limit=10",
   "/api/scores/leaderboard?limit=10&game_mode=classic",
   "/api/scores/leaderboard?limit=10&game_mode=endless",
   "/api/scores/leaderboard?limit=10&game_mode=levels",
}

wrk.method = "GET"
wrk.headers["X-API-Key"] = api_key

local threads = {}

function setup(thread)
   thread:set("id", #threads + 1)
   table.insert(threads, thread)
end

function init(args)
   statuses = {}
   math.randomseed(os.time() + id * 7919)
end

function request()
   return wrk.format(nil, paths[math.random(1, #paths)])
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
