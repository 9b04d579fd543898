-- wrk script for tests/bench/registry.sh. MODE selects the request:
--   heartbeat   POST /api/v1/registry/w<i> with a bearer token (TOKEN), i cycling over N ids
--   etcd-put    POST /v3/kv/put of /registry/w<i> with LEASE (etcd's JSON gateway)
--   etcd-range  POST /v3/kv/range over the /registry/ prefix
-- Each wrk thread starts its cycle at a different offset so threads do not collide.

local mode = os.getenv("MODE") or "heartbeat"
local n = tonumber(os.getenv("N") or "1000")
local token = os.getenv("TOKEN") or ""
local lease = os.getenv("LEASE") or "0"

local body = '{"webComponent":{"jsUrl":"http://w.ns/bundle.js","cssUrl":"http://w.ns/bundle.css",'
    .. '"componentId":"<w-tag param_one=\\"x\\"></w-tag>"},"label":"Friendly","tags":{"k":"v"}}'

local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function b64(data)
    return ((data:gsub(".", function(x)
        local r, b = "", x:byte()
        for i = 8, 1, -1 do r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and "1" or "0") end
        return r
    end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
        if #x < 6 then return "" end
        local c = 0
        for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
        return b64chars:sub(c + 1, c + 1)
    end) .. ({ "", "==", "=" })[#data % 3 + 1])
end

local requests = {}
local counter = 0
local next_thread = 0

function setup(thread)
    thread:set("offset", next_thread * 7919)
    next_thread = next_thread + 1
end

function init(args)
    counter = offset or 0
    if mode == "heartbeat" then
        local headers = {
            ["Content-Type"] = "application/json",
            ["Authorization"] = "Bearer " .. token,
        }
        for i = 0, n - 1 do
            requests[i] = wrk.format("POST", "/api/v1/registry/w" .. i, headers, body)
        end
    elseif mode == "etcd-put" then
        local headers = { ["Content-Type"] = "application/json" }
        local value = b64(body)
        for i = 0, n - 1 do
            local put = '{"key":"' .. b64("/registry/w" .. i) .. '","value":"' .. value
                .. '","lease":"' .. lease .. '"}'
            requests[i] = wrk.format("POST", "/v3/kv/put", headers, put)
        end
    elseif mode == "etcd-range" then
        local range = '{"key":"' .. b64("/registry/") .. '","range_end":"' .. b64("/registry0") .. '"}'
        requests[0] = wrk.format("POST", "/v3/kv/range", { ["Content-Type"] = "application/json" }, range)
        n = 1
    else
        error("unknown MODE " .. mode)
    end
end

function request()
    local r = requests[counter % n]
    counter = counter + 1
    return r
end

-- Count non-2xx answers so that a benchmark of errors cannot pass for a fast one.
local bad = 0
function response(status, headers, body)
    if status < 200 or status > 299 then
        bad = bad + 1
        if bad == 1 then io.stderr:write("unexpected status " .. status .. ": " .. body .. "\n") end
    end
end
