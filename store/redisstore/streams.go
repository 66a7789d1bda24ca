package redisstore

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/tradecache/tradecache/internal/keyslot"
	"github.com/tradecache/tradecache/store"
)

var _ store.Streams = (*Store)(nil)

// publish is SetIfNewer and XADD in one step, for each of any number of
// publications: KEYS are value, version key and stream, three per
// publication. ARGV opens with the call's parameter sets, the number of
// them and then four strings each: TTL ms, MAXLEN (0: none), MINID age ms
// (0: none) and the span's digits (spanDigits). Then come three per
// publication: envelope, version (20 digits), and which parameter set is
// its own (1-based). Publications of one namespace share one set, so a
// call does not repeat them (parsing and holding four more arguments per
// publication cost the server about 10% of its time per publication). It
// replies, per publication, the entry's ID when applied, 0 when the
// stored version is not below it, or the error that stopped it, so that
// one bad key (a stream key holding a string) fails only its own
// publication. Concurrent Publish calls share one call of it
// (publishqueue.go), and PublishMany sends its publications in as few
// calls as their slots allow: Redis's cost per command, and the client's
// per round trip, is then paid once for many.
//
// The version key holds "<version> <entry id>", which the plain
// SetIfNewer script compares the same way (by its first 20 characters,
// then anything after them sorts higher). Each entry holds the ID of the
// entry before it (p), so that a reader can tell it missed nothing.
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
//
// The stream lives at least as long as the value (or its retention age E,
// when that is longer), without a PEXPIRE on every publish: time is cut
// into spans of 10^k ms, the largest not above E/2 (spanDigits), and the
// first publish of a span (its entry ID's milliseconds differ from the
// previous entry's before their last k digits, or the previous is
// unknown) sets the stream to expire 2E later. Every publish then has one
// in its own span, less than E/2 before it, so the stream outlives the
// value by more than E/2 and by at most 2E. Comparing digits, not numbers,
// keeps the test cheap (string.match and arithmetic on every publish cost
// more than a microsecond of the server's time each). A longer TTL than
// the stream was last given takes effect at the next span; should the
// stream expire before the value in between, the next entry still chains
// from the last one published, as above.
//
// The script stays cheap for the same reason: the stored version is
// compared whole with the 20-digit version (which orders them as their
// first 20 characters would, without cutting a new string), MAXLEN and
// the age stay the strings Go wrote ("0" is none) and are converted only
// where a number is needed, and the functions it calls are locals rather
// than lookups in the global tables. Together that took a publication
// from 6.1 to 5.4 us of the server's time inside the script (16 per call,
// commandstats, Redis 7.0 on this machine).
var publish = rueidis.NewLuaScript(publishScript)

var publishSHA = scriptSHA(publishScript)

const publishScript = `
local sub, find, byte, call = string.sub, string.find, string.byte, redis.call
local function one(kv, kver, ks, d, ver, ttl, maxlen, age, span)
  local cur = call("GET", kver)
  if cur and cur >= ver then return 0 end
  local prev = ""
  if cur and #cur > 21 then
    prev = sub(cur, 22)
  else
    local last = call("XREVRANGE", ks, "+", "-", "COUNT", 1)
    if #last > 0 then prev = last[1][1] end
  end
  local minid
  if age ~= "0" then
    age = tonumber(age)
    local t = call("TIME")
    minid = tostring(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - age)
  end
  local id
  if maxlen ~= "0" then
    id = call("XADD", ks, "MAXLEN", "~", maxlen, "*", "v", ver, "d", d, "p", prev)
    if minid then call("XTRIM", ks, "MINID", "~", minid) end
  elseif minid then
    id = call("XADD", ks, "MINID", "~", minid, "*", "v", ver, "d", d, "p", prev)
  else
    id = call("XADD", ks, "*", "v", ver, "d", d, "p", prev)
  end
  call("SET", kv, d, "PX", ttl)
  call("SET", kver, ver .. " " .. id, "PX", ttl)
  local dash = find(id, "-", 1, true)
  local n = dash - 1 - span
  if n < 1 or byte(prev, dash) ~= 45 or sub(id, 1, n) ~= sub(prev, 1, n) then
    call("PEXPIRE", ks, 2 * math.max(tonumber(ttl), tonumber(age)))
  end
  return id
end
local P, m = {}, tonumber(ARGV[1])
for j = 1, m do
  local b = 1 + (j - 1) * 4
  P[tostring(j)] = {ARGV[b+1], ARGV[b+2], ARGV[b+3], ARGV[b+4]}
end
local out, a0 = {}, 1 + m * 4
for i = 0, #KEYS / 3 - 1 do
  local k, a = i * 3, a0 + i * 3
  local p = P[ARGV[a+3]]
  local ok, r = pcall(one, KEYS[k+1], KEYS[k+2], KEYS[k+3], ARGV[a+1], ARGV[a+2], p[1], p[2], p[3], p[4])
  if not ok and type(r) ~= "table" then r = {err = tostring(r)} end
  out[i+1] = r
end
return out`

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

// publishCall gathers the keys and arguments of one call of the publish
// script.
type publishCall struct {
	keys   []string
	pubs   []string // envelope, version, parameter set: three per publication
	params []pubParams
}

// pubParams is one parameter set of a publish call.
type pubParams struct{ ttl, maxLen, age int64 }

// add appends p to the call, or says why p cannot be published.
func (c *publishCall) add(p store.Publication) error {
	if err := checkPublication(p); err != nil {
		return err
	}
	set := pubParams{pxMillis(p.TTL), p.Retention.MaxLen, p.Retention.MaxAge.Milliseconds()}
	j := slices.Index(c.params, set)
	if j < 0 {
		j = len(c.params)
		c.params = append(c.params, set)
	}
	c.keys = append(c.keys, p.Key, p.VerKey, p.Stream)
	c.pubs = append(c.pubs, rueidis.BinaryString(p.Value), versionArg(p.Version),
		strconv.Itoa(j+1)) // small numbers cost strconv no allocation
	return nil
}

// len is how many publications the call holds.
func (c *publishCall) len() int { return len(c.pubs) / 3 }

// args are the call's ARGV: the parameter sets, then the publications.
func (c *publishCall) args() []string {
	out := make([]string, 0, 1+4*len(c.params)+len(c.pubs))
	out = append(out, strconv.Itoa(len(c.params)))
	for _, set := range c.params {
		out = append(out, strconv.FormatInt(set.ttl, 10), strconv.FormatInt(set.maxLen, 10),
			strconv.FormatInt(set.age, 10), strconv.Itoa(spanDigits(max(set.ttl, set.age))))
	}
	return append(out, c.pubs...)
}

// checkPublication says why p cannot be published, or nil.
func checkPublication(p store.Publication) error {
	if p.TTL <= 0 {
		return fmt.Errorf("redisstore: Publish needs a positive TTL, got %v", p.TTL)
	}
	return nil
}

// spanDigits is k of the publish script's spans of 10^k ms: the largest
// not above half the stream's life (ms).
func spanDigits(life int64) int {
	k := 0
	for span := int64(10); span <= life/2; span *= 10 {
		k++
	}
	return k
}

// publishReplies reads the publish script's reply into out, one result per
// publication.
func publishReplies(r rueidis.RedisResult, out []store.PublishResult) {
	arr, err := r.ToArray()
	if err == nil && len(arr) != len(out) {
		err = fmt.Errorf("redisstore: publish replied %d results for %d publications", len(arr), len(out))
	}
	if err != nil {
		err = classify(err)
		for i := range out {
			out[i] = store.PublishResult{Err: err}
		}
		return
	}
	for i, m := range arr {
		out[i] = publishResult(m)
	}
}

func publishResult(m rueidis.RedisMessage) store.PublishResult {
	if err := m.Error(); err != nil {
		return store.PublishResult{Err: classify(err)}
	}
	if id, err := m.ToString(); err == nil {
		return store.PublishResult{Applied: true, ID: id}
	}
	if n, err := m.AsInt64(); err == nil && n == 0 {
		return store.PublishResult{} // the stored version is not below it
	}
	return store.PublishResult{Err: fmt.Errorf("redisstore: publish replied %v for a publication", m)}
}

// Publish implements store.Streams: with other Publish calls in flight at
// the same time, in one call of the publish script (publishqueue.go).
func (s *Store) Publish(ctx context.Context, p store.Publication) (bool, string, error) {
	if s.closed.Load() {
		return false, "", errClosed
	}
	if p.Replicas > 0 {
		return s.publishReplicated(ctx, p)
	}
	if s.cluster {
		// The keys of two symbols are in two slots, which one script
		// cannot touch: rueidis pipelines these calls instead.
		return s.publishOne(ctx, p)
	}
	return s.pubq.publish(ctx, s, p)
}

// publishOne runs the publish script for p alone.
func (s *Store) publishOne(ctx context.Context, p store.Publication) (bool, string, error) {
	var c publishCall
	if err := c.add(p); err != nil {
		return false, "", err
	}
	var r [1]store.PublishResult
	publishReplies(publish.Exec(ctx, s.client, c.keys, c.args()), r[:])
	return r[0].Applied, r[0].ID, r[0].Err
}

// publishReplicated runs the script and then WAIT on one dedicated
// connection (on a cluster, to the key's master): WAIT counts the replicas
// that have every write of its own connection.
func (s *Store) publishReplicated(ctx context.Context, p store.Publication) (applied bool, id string, err error) {
	var c publishCall
	if err := c.add(p); err != nil {
		return false, "", err
	}
	err = s.client.Dedicated(func(dc rueidis.DedicatedClient) error {
		var r [1]store.PublishResult
		publishReplies(dc.Do(ctx, dc.B().Eval().Script(publishScript).Numkeys(3).Key(c.keys...).Arg(c.args()...).Build()), r[:])
		applied, id = r[0].Applied, r[0].ID
		if r[0].Err != nil || !applied {
			return r[0].Err
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

// maxPublishBatch bounds the publications of one script call: a script
// holds the server for its whole run, 5 to 7.5 µs a publication
// (commandstats).
const maxPublishBatch = 128

// PublishMany implements store.Streams: the publications of one slot (all
// of them, off a cluster) in one call of the script, maxPublishBatch at a
// time, and the calls in one pipeline (rueidis sends a batch to every node
// at once on a cluster).
func (s *Store) PublishMany(ctx context.Context, ps []store.Publication) ([]store.PublishResult, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	out := make([]store.PublishResult, len(ps))
	type call struct {
		publishCall
		idx []int
	}
	var (
		calls []*call
		open  = map[uint16]*call{} // slot → its call being filled
	)
	for i, p := range ps {
		if out[i].Err = checkPublication(p); out[i].Err != nil {
			continue
		}
		var slot uint16
		if s.cluster {
			slot = keyslot.Of(p.Key)
		}
		c := open[slot]
		if c == nil || c.len() == maxPublishBatch {
			c = &call{}
			open[slot] = c
			calls = append(calls, c)
		}
		_ = c.add(p) // checked above
		c.idx = append(c.idx, i)
	}
	execs := make([]rueidis.LuaExec, len(calls))
	for j, c := range calls {
		execs[j] = rueidis.LuaExec{Keys: c.keys, Args: c.args()}
	}
	var res []store.PublishResult
	for j, r := range evalMulti(ctx, s.client, publishScript, publishSHA, execs) {
		res = slices.Grow(res[:0], len(calls[j].idx))[:len(calls[j].idx)]
		publishReplies(r, res)
		for k, i := range calls[j].idx {
			out[i] = res[k]
		}
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

// scriptSHA is the SHA-1 that EVALSHA names a script by.
func scriptSHA(text string) string {
	sum := sha1.Sum([]byte(text))
	return hex.EncodeToString(sum[:])
}

// evalMulti runs a script once for each of execs, pipelined, by EVALSHA,
// and by EVAL for those the server answered NOSCRIPT. rueidis's
// Lua.ExecMulti loads the script on every node first, a round trip of its
// own on each call.
func evalMulti(ctx context.Context, c rueidis.Client, text, sha string, execs []rueidis.LuaExec) []rueidis.RedisResult {
	cmds := make(rueidis.Commands, len(execs))
	for i, e := range execs {
		cmds[i] = c.B().Evalsha().Sha1(sha).Numkeys(int64(len(e.Keys))).Key(e.Keys...).Arg(e.Args...).Build()
	}
	out := c.DoMulti(ctx, cmds...)
	for i, r := range out {
		if re, ok := rueidis.IsRedisErr(r.Error()); ok && re.IsNoScript() {
			e := execs[i]
			out[i] = c.Do(ctx, c.B().Eval().Script(text).Numkeys(int64(len(e.Keys))).Key(e.Keys...).Arg(e.Args...).Build())
		}
	}
	return out
}
