-- wrk script for bench/webhooks_wrk.py: POST pre-signed Stripe events to /webhooks/stripe.
-- WEBHOOK_EVENTS names a file of lines "<Stripe-Signature header>\t<JSON body>". Each wrk thread
-- posts its own share of them (line i goes to thread i mod threads), in order, then starts over
-- (from then on every post is a redelivery, answered "duplicate").
local threads, counter = {}, 0

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  events, position, statuses = {}, 0, {}
  local n = 0
  for line in io.lines(os.getenv("WEBHOOK_EVENTS")) do
    if n % tonumber(os.getenv("WRK_THREADS")) == index then
      local tab = line:find("\t", 1, true)
      table.insert(events, wrk.format("POST", "/webhooks/stripe",
        {["Content-Type"] = "application/json", ["Stripe-Signature"] = line:sub(1, tab - 1)},
        line:sub(tab + 1)))
    end
    n = n + 1
  end
end

function request()
  position = position % #events + 1
  return events[position]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    local counts = thread:get("statuses")
    for status, n in pairs(counts) do
      total[status] = (total[status] or 0) + n
    end
  end
  for status, n in pairs(total) do
    io.write(string.format("status %d: %d\n", status, n))
  end
end
