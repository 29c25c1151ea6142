// etcdload drives an etcd cluster for bench/run.py: a fixed number of
// operations spread over N concurrent clients, each with one request
// outstanding, over a fixed key space.  It prints one machine-readable line:
//
//	RESULT op=put clients=16 n=100000 errors=0 secs=4.1 ops_s=24390 p50_ms=0.61 p99_ms=1.9 avg_ms=0.65
//
// Operations: put; get (a linearizable range of one key, etcd's default);
// cas (a txn: if value == V then put V else get, V all 'x'); mix (90% get,
// 10% put); load (writes keys 0..n-1 in txns of -batch puts).  Put values are
// random printable bytes, fresh for every request (they do not compress), or
// all 'x' with -fixed-values.
//
// Build (offline, Debian's golang-go and golang-etcd-server-dev):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o build/release/etcdload ./bench/etcdload
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/clientv3"
	"google.golang.org/grpc/grpclog"
)

type options struct {
	endpoints []string
	op        string
	clients   int
	conns     int
	n         int64
	keys      int
	valueSize int
	prefix    string
	readPct   int
	batch     int
	fixed     bool
	seed      int64
	timeout   time.Duration
}

func key(o *options, i int) string {
	return fmt.Sprintf("%s%012d", o.prefix, i)
}

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// putValue is the value of one put: fixed (all 'x') with -fixed-values, else
// fresh random printable bytes.
func putValue(o *options, rng *rand.Rand, fixed string) string {
	if o.fixed {
		return fixed
	}
	b := make([]byte, o.valueSize)
	var r uint64
	for i := range b {
		if i%10 == 0 {
			r = rng.Uint64()
		}
		b[i] = alphabet[r&63]
		r >>= 6
	}
	return string(b)
}

// worker runs operations until the shared counter passes o.n and returns its
// latencies in microseconds and its error count.
type workerResult struct {
	lat    []uint32
	errors int64
	first  error
}

func runWorker(o *options, kv clientv3.KV, id int, next *int64, value string, res *workerResult) {
	rng := rand.New(rand.NewSource(o.seed + int64(id)*7919))
	res.lat = make([]uint32, 0, o.n/int64(o.clients)+16)
	for {
		if atomic.AddInt64(next, 1) > o.n {
			return
		}
		k := key(o, rng.Intn(o.keys))
		op := o.op
		if op == "mix" {
			if rng.Intn(100) < o.readPct {
				op = "get"
			} else {
				op = "put"
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
		start := time.Now()
		var err error
		switch op {
		case "put":
			_, err = kv.Put(ctx, k, putValue(o, rng, value))
		case "get":
			_, err = kv.Get(ctx, k) // linearizable: etcd's default
		case "cas":
			_, err = kv.Txn(ctx).
				If(clientv3.Compare(clientv3.Value(k), "=", value)).
				Then(clientv3.OpPut(k, value)).
				Else(clientv3.OpGet(k)).
				Commit()
		}
		el := time.Since(start)
		cancel()
		if err != nil {
			res.errors++
			if res.first == nil {
				res.first = err
			}
			continue
		}
		us := el.Microseconds()
		if us > int64(^uint32(0)) {
			us = int64(^uint32(0))
		}
		res.lat = append(res.lat, uint32(us))
	}
}

// runLoad writes keys 0..n-1 in txns of o.batch puts, o.clients txns in flight.
func runLoad(o *options, kvs []clientv3.KV, value string) (int64, error) {
	var next int64 = -1
	var errs int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	batches := (o.n + int64(o.batch) - 1) / int64(o.batch)
	for c := 0; c < o.clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			kv := kvs[c%len(kvs)]
			rng := rand.New(rand.NewSource(o.seed + int64(c)*104729))
			for {
				b := atomic.AddInt64(&next, 1)
				if b >= batches {
					return
				}
				lo := b * int64(o.batch)
				hi := lo + int64(o.batch)
				if hi > o.n {
					hi = o.n
				}
				ops := make([]clientv3.Op, 0, hi-lo)
				for i := lo; i < hi; i++ {
					ops = append(ops, clientv3.OpPut(key(o, int(i)), putValue(o, rng, value)))
				}
				for try := 0; try < 5; try++ {
					ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
					_, err := kv.Txn(ctx).Then(ops...).Commit()
					cancel()
					if err == nil {
						break
					}
					atomic.AddInt64(&errs, 1)
					firstErr.CompareAndSwap(nil, err)
					time.Sleep(100 * time.Millisecond)
				}
			}
		}(c)
	}
	wg.Wait()
	if e, ok := firstErr.Load().(error); ok {
		return errs, e
	}
	return errs, nil
}

// percentile is the nearest-rank percentile, in milliseconds, of latencies in
// microseconds sorted ascending.
func percentile(sorted []uint32, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	if i < 0 {
		i = 0
	}
	return float64(sorted[i]) / 1000.0
}

func main() {
	o := &options{}
	var eps string
	flag.StringVar(&eps, "endpoints", "127.0.0.1:2379", "comma-separated client URLs or host:port")
	flag.StringVar(&o.op, "op", "put", "put | get | cas | mix | load")
	flag.IntVar(&o.clients, "clients", 1, "concurrent clients, one request outstanding each")
	flag.IntVar(&o.conns, "conns", 0, "gRPC connections shared by the clients (0: one per client)")
	flag.Int64Var(&o.n, "n", 10000, "operations in total (load: keys to write)")
	flag.IntVar(&o.keys, "keys", 10000, "key space: keys PREFIX000000000000 .. PREFIX(keys-1)")
	flag.IntVar(&o.valueSize, "value-size", 100, "value size in bytes")
	flag.BoolVar(&o.fixed, "fixed-values", false, "put values all 'x' (default: random printable bytes)")
	flag.StringVar(&o.prefix, "prefix", "key:", "key prefix")
	flag.IntVar(&o.readPct, "read-pct", 90, "mix: percentage of reads")
	flag.IntVar(&o.batch, "batch", 100, "load: puts per txn (etcd allows at most 128)")
	flag.Int64Var(&o.seed, "seed", 1, "random seed")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Second, "per-request timeout")
	flag.Parse()
	o.endpoints = strings.Split(eps, ",")
	switch o.op {
	case "put", "get", "cas", "mix", "load":
	default:
		fmt.Fprintf(os.Stderr, "etcdload: unknown -op %q\n", o.op)
		os.Exit(2)
	}
	if o.clients < 1 || o.n < 1 || o.keys < 1 || o.batch < 1 || o.batch > 128 {
		fmt.Fprintln(os.Stderr, "etcdload: -clients, -n, -keys must be >= 1 and -batch 1..128")
		os.Exit(2)
	}
	if o.conns <= 0 || o.conns > o.clients {
		o.conns = o.clients
	}
	grpclog.SetLoggerV2(grpclog.NewLoggerV2(discard{}, discard{}, os.Stderr))

	cls := make([]*clientv3.Client, o.conns)
	kvs := make([]clientv3.KV, o.conns)
	for i := range cls {
		c, err := clientv3.New(clientv3.Config{Endpoints: o.endpoints, DialTimeout: 5 * time.Second})
		if err != nil {
			fmt.Fprintf(os.Stderr, "etcdload: connect: %v\n", err)
			os.Exit(1)
		}
		cls[i] = c
		kvs[i] = c.KV
	}
	defer func() {
		for _, c := range cls {
			c.Close()
		}
	}()
	value := strings.Repeat("x", o.valueSize)

	if o.op == "load" {
		start := time.Now()
		errs, err := runLoad(o, kvs, value)
		secs := time.Since(start).Seconds()
		fmt.Printf("RESULT op=load clients=%d n=%d errors=%d secs=%.3f ops_s=%.0f\n",
			o.clients, o.n, errs, secs, float64(o.n)/secs)
		if err != nil {
			fmt.Fprintf(os.Stderr, "etcdload: load: %d failed txns (retried), first: %v\n", errs, err)
		}
		return
	}

	// Warm the connections so dialing is not measured.
	for _, kv := range kvs {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _ = kv.Get(ctx, key(o, 0))
		cancel()
	}
	var next int64
	res := make([]workerResult, o.clients)
	var wg sync.WaitGroup
	start := time.Now()
	for c := 0; c < o.clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			runWorker(o, kvs[c%o.conns], c, &next, value, &res[c])
		}(c)
	}
	wg.Wait()
	secs := time.Since(start).Seconds()

	var all []uint32
	var errs int64
	var first error
	var sum float64
	for i := range res {
		all = append(all, res[i].lat...)
		errs += res[i].errors
		if first == nil {
			first = res[i].first
		}
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	for _, v := range all {
		sum += float64(v)
	}
	avg := 0.0
	if len(all) > 0 {
		avg = sum / float64(len(all)) / 1000.0
	}
	fmt.Printf("RESULT op=%s clients=%d n=%d errors=%d secs=%.3f ops_s=%.0f p50_ms=%.3f p99_ms=%.3f avg_ms=%.3f\n",
		o.op, o.clients, len(all), errs, secs, float64(len(all))/secs,
		percentile(all, 0.50), percentile(all, 0.99), avg)
	if first != nil {
		fmt.Fprintf(os.Stderr, "etcdload: %d errors, first: %v\n", errs, first)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
