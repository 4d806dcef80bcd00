-- Requests that each spend one single-use value from a file (BENCH_POOL), one value per line:
-- authorization codes for the code exchange, refresh tokens for rotation. Each wrk thread
-- takes its own slice. For rotation (BENCH_ROTATE=1) the refresh token in each response goes
-- back into the thread's pool, so every chain always presents its newest token.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local threads = {}
local thread_count = tonumber(os.getenv("BENCH_THREADS"))

function setup(thread)
  thread:set("index", #threads)
  table.insert(threads, thread)
end

local pool = {}
local template = os.getenv("BENCH_BODY")
local rotate = os.getenv("BENCH_ROTATE") == "1"

function init(args)
  local line_number = 0
  for value in io.lines(os.getenv("BENCH_POOL")) do
    if line_number % thread_count == index then
      table.insert(pool, value)
    end
    line_number = line_number + 1
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function request()
  local value = table.remove(pool)
  if value == nil then
    error("bench pool exhausted: mint more values")
  end
  return wrk.format(nil, nil, nil, string.gsub(template, "VALUE", value))
end

function response(status, headers, body)
  if rotate and status == 200 then
    table.insert(pool, 1, string.match(body, '"refresh_token": "([^"]+)"'))
  end
end
