package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/tradecache/tradecache/store"
)

var _ store.Streams = (*Store)(nil)

// publish is SetIfNewer and XADD in one step. KEYS: value, version key,
// stream. ARGV: envelope, version (20 digits), TTL ms, MAXLEN (0: none),
// MINID age ms (0: none). The version key holds "<version> <entry id>",
// which the plain SetIfNewer script compares the same way (by its first
// 20 characters, then anything after them sorts higher). Each entry holds
// the ID of the entry before it (p), so that a reader can tell it missed
// nothing. The stream lives as long as the value, or its retention age
// when that is longer.
//
// The previous entry's ID is read from the version key, where the last
// Publish left it, and only from the stream (XREVRANGE) when the key holds
// none: written by plain SetIfNewer, or expired while the stream, kept
// for its retention age, lived on. So an entry appended to the stream by
// anything but Publish is never a genuine entry's p: a subscriber that
// read it finds the next genuine entry off its chain and resyncs from a
// snapshot. When only the stream is lost (deleted, or evicted), the next
// entry still names the last one published, which a subscriber that had
// read it takes as continuous (nothing was published between them), and
// any other resyncs. A retention age alone trims within XADD (MINID); with
// a maximum length too, XADD trims by length and XTRIM by age.
var publish = rueidis.NewLuaScript(publishScript)

const publishScript = `
local cur = redis.call("GET", KEYS[2])
if cur and string.sub(cur, 1, 20) >= ARGV[2] then return {0, ""} end
local prev = ""
if cur and string.len(cur) > 21 then
  prev = string.sub(cur, 22)
else
  local last = redis.call("XREVRANGE", KEYS[3], "+", "-", "COUNT", 1)
  if #last > 0 then prev = last[1][1] end
end
local maxlen, age = tonumber(ARGV[4]), tonumber(ARGV[5])
local minid
if age > 0 then
  local t = redis.call("TIME")
  minid = tostring(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - age)
end
local id
if maxlen > 0 then
  id = redis.call("XADD", KEYS[3], "MAXLEN", "~", ARGV[4], "*", "v", ARGV[2], "d", ARGV[1], "p", prev)
  if minid then redis.call("XTRIM", KEYS[3], "MINID", "~", minid) end
elseif minid then
  id = redis.call("XADD", KEYS[3], "MINID", "~", minid, "*", "v", ARGV[2], "d", ARGV[1], "p", prev)
else
  id = redis.call("XADD", KEYS[3], "*", "v", ARGV[2], "d", ARGV[1], "p", prev)
end
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[3])
redis.call("SET", KEYS[2], ARGV[2] .. " " .. id, "PX", ARGV[3])
redis.call("PEXPIRE", KEYS[3], math.max(tonumber(ARGV[3]), age))
return {1, id}`

// snapshot reads a value, its version and the stream's last ID at one
// instant.
var snapshot = rueidis.NewLuaScript(`
local v = redis.call("GET", KEYS[1])
local ver = redis.call("GET", KEYS[2])
local last = redis.call("XREVRANGE", KEYS[3], "+", "-", "COUNT", 1)
local id = ""
if #last > 0 then id = last[1][1] end
return {v, ver, id}`)

// deadLetter moves an entry to the dead-letter stream, with why, and
// acknowledges it. KEYS: stream, dead. ARGV: group, id, version,
// envelope, reason.
var deadLetter = rueidis.NewLuaScript(`
redis.call("XADD", KEYS[2], "MAXLEN", "~", "100000", "*", "v", ARGV[3], "d", ARGV[4], "src", ARGV[2], "reason", ARGV[5])
return redis.call("XACK", KEYS[1], ARGV[1], ARGV[2])`)

func (s *Store) publishArgs(p store.Publication) ([]string, []string, error) {
	if p.TTL <= 0 {
		return nil, nil, fmt.Errorf("redisstore: Publish needs a positive TTL, got %v", p.TTL)
	}
	return []string{p.Key, p.VerKey, p.Stream},
		[]string{rueidis.BinaryString(p.Value), fmt.Sprintf("%020d", p.Version), strconv.FormatInt(pxMillis(p.TTL), 10),
			strconv.FormatInt(p.Retention.MaxLen, 10), strconv.FormatInt(p.Retention.MaxAge.Milliseconds(), 10)}, nil
}

func publishReply(r rueidis.RedisResult) (bool, string, error) {
	arr, err := r.ToArray()
	if err != nil {
		return false, "", classify(err)
	}
	if len(arr) != 2 {
		return false, "", fmt.Errorf("redisstore: publish replied %d values", len(arr))
	}
	n, _ := arr[0].AsInt64()
	id, _ := arr[1].ToString()
	return n == 1, id, nil
}

// Publish implements store.Streams with one Lua script.
func (s *Store) Publish(ctx context.Context, p store.Publication) (bool, string, error) {
	if s.closed.Load() {
		return false, "", errClosed
	}
	keys, args, err := s.publishArgs(p)
	if err != nil {
		return false, "", err
	}
	if p.Replicas > 0 {
		return s.publishReplicated(ctx, p, keys, args)
	}
	return publishReply(publish.Exec(ctx, s.client, keys, args))
}

// publishReplicated runs the script and then WAIT on one dedicated
// connection (on a cluster, to the key's master): WAIT counts the replicas
// that have every write of its own connection.
func (s *Store) publishReplicated(ctx context.Context, p store.Publication, keys, args []string) (applied bool, id string, err error) {
	err = s.client.Dedicated(func(dc rueidis.DedicatedClient) error {
		applied, id, err = publishReply(dc.Do(ctx, dc.B().Eval().Script(publishScript).Numkeys(3).Key(keys...).Arg(args...).Build()))
		if err != nil || !applied {
			return err
		}
		timeout := max(p.ReplicaTimeout.Milliseconds(), 1)
		n, err := dc.Do(ctx, dc.B().Wait().Numreplicas(int64(p.Replicas)).Timeout(timeout).Build()).AsInt64()
		if err != nil {
			return classify(err)
		}
		if n < int64(p.Replicas) {
			return fmt.Errorf("%w: %d of %d replicas within %v", store.ErrNotReplicated, n, p.Replicas, p.ReplicaTimeout)
		}
		return nil
	})
	return applied, id, err
}

// PublishMany implements store.Streams: the scripts in one pipeline
// (rueidis sends a batch to every node at once on a cluster).
func (s *Store) PublishMany(ctx context.Context, ps []store.Publication) ([]store.PublishResult, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	out := make([]store.PublishResult, len(ps))
	execs := make([]rueidis.LuaExec, 0, len(ps))
	idx := make([]int, 0, len(ps))
	for i, p := range ps {
		keys, args, err := s.publishArgs(p)
		if err != nil {
			out[i].Err = err
			continue
		}
		execs = append(execs, rueidis.LuaExec{Keys: keys, Args: args})
		idx = append(idx, i)
	}
	for j, r := range publish.ExecMulti(ctx, s.client, execs...) {
		out[idx[j]].Applied, out[idx[j]].ID, out[idx[j]].Err = publishReply(r)
	}
	return out, nil
}

// Snapshot implements store.Streams with one Lua script.
func (s *Store) Snapshot(ctx context.Context, key, verKey, stream string) (store.Snap, error) {
	if s.closed.Load() {
		return store.Snap{}, errClosed
	}
	arr, err := snapshot.Exec(ctx, s.client, []string{key, verKey, stream}, nil).ToArray()
	if err != nil {
		return store.Snap{}, classify(err)
	}
	if len(arr) != 3 {
		return store.Snap{}, fmt.Errorf("redisstore: snapshot replied %d values", len(arr))
	}
	var snap store.Snap
	if v, err := arr[0].AsBytes(); err == nil {
		snap.Value, snap.Found = v, true
		if snap.Value == nil {
			snap.Value = []byte{}
		}
	}
	if ver, err := arr[1].ToString(); err == nil {
		if f := strings.Fields(ver); len(f) > 0 {
			snap.Version, _ = strconv.ParseUint(f[0], 10, 64) // "<20 digits> <entry id>"
		}
	}
	snap.LastID, _ = arr[2].ToString()
	return snap, nil
}

// entryOf reads an entry's fields.
func entryOf(e rueidis.XRangeEntry) store.StreamEntry {
	v, _ := strconv.ParseUint(e.FieldValues["v"], 10, 64)
	out := store.StreamEntry{ID: e.ID, Version: v, Value: []byte(e.FieldValues["d"]), Prev: e.FieldValues["p"], Reason: e.FieldValues["reason"]}
	if e.FieldValues == nil {
		out.Value = nil // deleted while pending
	}
	return out
}

func entriesOf(es []rueidis.XRangeEntry) []store.StreamEntry {
	out := make([]store.StreamEntry, len(es))
	for i, e := range es {
		out[i] = entryOf(e)
	}
	return out
}

// Read implements store.Streams with XREAD.
func (s *Store) Read(ctx context.Context, streams, ids []string, count int, block time.Duration) ([][]store.StreamEntry, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	if len(streams) != len(ids) || len(streams) == 0 {
		return nil, fmt.Errorf("redisstore: Read needs one ID per stream")
	}
	var cmd rueidis.Completed
	b := s.client.B().Xread().Count(int64(max(count, 1)))
	if block > 0 {
		cmd = b.Block(max(block.Milliseconds(), 1)).Streams().Key(streams...).Id(ids...).Build()
	} else {
		cmd = b.Streams().Key(streams...).Id(ids...).Build()
	}
	m, err := s.client.Do(ctx, cmd).AsXRead()
	if rueidis.IsRedisNil(err) {
		return make([][]store.StreamEntry, len(streams)), nil
	}
	if err != nil {
		return nil, classify(err)
	}
	out := make([][]store.StreamEntry, len(streams))
	for i, st := range streams {
		out[i] = entriesOf(m[st])
	}
	return out, nil
}

// Range implements store.Streams with XRANGE.
func (s *Store) Range(ctx context.Context, stream, start, end string, count int) ([]store.StreamEntry, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	es, err := s.client.Do(ctx, s.client.B().Xrange().Key(stream).Start(start).End(end).Count(int64(max(count, 1))).Build()).AsXRange()
	if err != nil {
		return nil, classify(err)
	}
	return entriesOf(es), nil
}

// GroupRead implements store.Streams with XREADGROUP, creating the group
// (MKSTREAM, at the stream's start) on NOGROUP.
func (s *Store) GroupRead(ctx context.Context, stream, group, consumer string, count int, block time.Duration) ([]store.StreamEntry, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	for attempt := 0; ; attempt++ {
		b := s.client.B().Xreadgroup().Group(group, consumer).Count(int64(max(count, 1)))
		var cmd rueidis.Completed
		if block > 0 {
			cmd = b.Block(max(block.Milliseconds(), 1)).Streams().Key(stream).Id(">").Build()
		} else {
			cmd = b.Streams().Key(stream).Id(">").Build()
		}
		m, err := s.client.Do(ctx, cmd).AsXRead()
		if rueidis.IsRedisNil(err) {
			return nil, nil
		}
		if err != nil && attempt == 0 && strings.HasPrefix(err.Error(), "NOGROUP") {
			err := s.client.Do(ctx, s.client.B().XgroupCreate().Key(stream).Group(group).Id("0").Mkstream().Build()).Error()
			if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
				return nil, classify(err)
			}
			continue
		}
		if err != nil {
			return nil, classify(err)
		}
		out := entriesOf(m[stream])
		for i := range out {
			out[i].Deliveries = 1
		}
		return out, nil
	}
}

// Ack implements store.Streams with XACK.
func (s *Store) Ack(ctx context.Context, stream, group string, ids ...string) error {
	if s.closed.Load() {
		return errClosed
	}
	if len(ids) == 0 {
		return nil
	}
	return classify(s.client.Do(ctx, s.client.B().Xack().Key(stream).Group(group).Id(ids...).Build()).Error())
}

// Claim implements store.Streams with XAUTOCLAIM, then XPENDING for each
// claimed entry's delivery count (pipelined).
func (s *Store) Claim(ctx context.Context, stream, group, consumer string, minIdle time.Duration, start string, count int) ([]store.StreamEntry, string, error) {
	if s.closed.Load() {
		return nil, "", errClosed
	}
	arr, err := s.client.Do(ctx, s.client.B().Xautoclaim().Key(stream).Group(group).Consumer(consumer).
		MinIdleTime(strconv.FormatInt(minIdle.Milliseconds(), 10)).Start(start).Count(int64(max(count, 1))).Build()).ToArray()
	if err != nil {
		if strings.HasPrefix(err.Error(), "NOGROUP") {
			return nil, "0-0", nil // nothing was ever delivered
		}
		return nil, "", classify(err)
	}
	if len(arr) < 2 {
		return nil, "", fmt.Errorf("redisstore: XAUTOCLAIM replied %d values", len(arr))
	}
	next, _ := arr[0].ToString()
	raw, err := arr[1].AsXRange()
	if err != nil {
		return nil, "", classify(err)
	}
	entries := entriesOf(raw)
	if len(entries) == 0 {
		return nil, next, nil
	}
	cmds := make(rueidis.Commands, len(entries))
	for i, e := range entries {
		cmds[i] = s.client.B().Xpending().Key(stream).Group(group).Start(e.ID).End(e.ID).Count(1).Build()
	}
	for i, r := range s.client.DoMulti(ctx, cmds...) {
		if rows, err := r.ToArray(); err == nil && len(rows) == 1 {
			if f, err := rows[0].ToArray(); err == nil && len(f) == 4 {
				entries[i].Deliveries, _ = f[3].AsInt64()
			}
		}
	}
	return entries, next, nil
}

// DeadLetter implements store.Streams with one Lua script.
func (s *Store) DeadLetter(ctx context.Context, stream, group, dead string, e store.StreamEntry, reason string) error {
	if s.closed.Load() {
		return errClosed
	}
	return classify(deadLetter.Exec(ctx, s.client, []string{stream, dead},
		[]string{group, e.ID, strconv.FormatUint(e.Version, 10), rueidis.BinaryString(e.Value), reason}).Error())
}

// Pending implements store.Streams with XPENDING's summary.
func (s *Store) Pending(ctx context.Context, stream, group string) (int64, error) {
	if s.closed.Load() {
		return 0, errClosed
	}
	arr, err := s.client.Do(ctx, s.client.B().Xpending().Key(stream).Group(group).Build()).ToArray()
	if err != nil {
		if strings.HasPrefix(err.Error(), "NOGROUP") {
			return 0, nil
		}
		return 0, classify(err)
	}
	if len(arr) == 0 {
		return 0, nil
	}
	return arr[0].AsInt64()
}
