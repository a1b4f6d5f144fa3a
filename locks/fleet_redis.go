package locks

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/helpdesk/helpdesk/locks/leaseview"
)

// fleetScript is the whole of a Redis fleet write, atomic: it sets one
// member (ARGV[2], the member as JSON) or, with ARGV[2] empty, removes it
// (leave), drops the members whose last heartbeat is ttl_ms old, writes the
// rest back and returns them as JSON. Heartbeat times are the server's own
// clock, so skew between machines cannot drop a live member. The key
// expires when its last member would go stale: a dead fleet leaves nothing
// behind, and a reader that may only GET and PTTL can tell the server's
// time (see leaseview.Inspector.Fleet).
//
// KEYS[1] = leaseview.FleetKey, ARGV[1] = instance, ARGV[2] = member JSON or "".
var fleetScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local members = {}
local raw = redis.call('GET', KEYS[1])
if raw then
	local ok, decoded = pcall(cjson.decode, raw)
	if ok and type(decoded) == 'table' then members = decoded end
end
if ARGV[2] == '' then
	members[ARGV[1]] = nil
else
	local self = cjson.decode(ARGV[2])
	self.heartbeat_ms = now
	members[ARGV[1]] = self
end
local live, n, expires = {}, 0, 0
for id, m in pairs(members) do
	if type(m) == 'table' then
		local beat, ttl = tonumber(m.heartbeat_ms), tonumber(m.ttl_ms)
		if beat and ttl and now < beat + ttl then
			live[id] = m
			n = n + 1
			expires = math.max(expires, beat + ttl)
		end
	end
end
if n == 0 then
	redis.call('DEL', KEYS[1])
	return '{}'
end
local out = cjson.encode(live)
redis.call('SET', KEYS[1], out, 'PXAT', expires)
return out
`)

// NewRedisFleet announces the instance in Redis under leaseview.FleetKey.
// Give it the Options of the process's Locker, so that the Instance its
// leases carry is its member name.
func NewRedisFleet(client redis.UniversalClient, opts Options) *Fleet {
	return newFleet(opts, &redisFleet{rdb: client})
}

type redisFleet struct {
	rdb redis.UniversalClient
}

func (r *redisFleet) heartbeat(ctx context.Context, self leaseview.Member) ([]leaseview.Member, error) {
	member, err := json.Marshal(self)
	if err != nil {
		return nil, fmt.Errorf("locks: encode fleet member: %w", err)
	}
	return r.update(ctx, self.Instance, string(member))
}

func (r *redisFleet) leave(ctx context.Context, instance string) error {
	_, err := r.update(ctx, instance, "")
	return err
}

// update runs fleetScript (EVALSHA, EVAL when the server lacks the script)
// and decodes the live members it returns.
func (r *redisFleet) update(ctx context.Context, instance, member string) ([]leaseview.Member, error) {
	out, err := fleetScript.Run(ctx, r.rdb, []string{leaseview.FleetKey}, instance, member).Text()
	if err != nil {
		return nil, fmt.Errorf("locks: fleet heartbeat: %w", err)
	}
	var byInstance map[string]leaseview.Member
	if err := json.Unmarshal([]byte(out), &byInstance); err != nil {
		return nil, fmt.Errorf("locks: fleet heartbeat: decode members: %w", err)
	}
	live := make([]leaseview.Member, 0, len(byInstance))
	for _, m := range byInstance {
		live = append(live, m)
	}
	return live, nil
}
