/* bench_daemon.h - a real flowringd built in-process for the benches (bench_ingest, bench_scale): the daemon from a
 * config, optionally with a larger active-TCP map than the config can ask for, clients registered through the control
 * handler as a REGISTER request would, and the in-kernel closed-record source (bpf/inject.bpf.c) writing into the
 * tracer's own ring buffer. Single-threaded, like the daemon. */
#ifndef FR_BENCH_DAEMON_H
#define FR_BENCH_DAEMON_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "daemon.h"

struct inject_bpf;

struct fr_clock {
	uint64_t wall, cpu;
};

uint64_t fr_clock_ns(clockid_t id);
/* CLOCK_MONOTONIC and this thread's CPU time. */
struct fr_clock fr_clock_now(void);

/* fr_daemon_open, then (tcp_map_entries != 0) the tracer replaced by one whose active-TCP map holds tcp_map_entries:
 * struct fr_config has no knob for it and the daemon's loop is not run by the benches, so only the tracer's
 * callbacks matter. 0 or -errno; on failure nothing is left open. */
int fr_bench_daemon_open(struct fr_daemon *d, struct fr_config *cfg, uint32_t tcp_map_entries);

/* Synthetic active TCP connections numbered from..to-1 written with bpf_map_update_batch straight into the tracer's
 * map of active TCP connections (the daemon reads them exactly as real ones): 10.200.x.y:port -> 10.0.0.2:443 in
 * this process's netns, cookie FR_BENCH_COOKIE_BASE + number. 0, -ENOSPC (map full) or -errno. */
#define FR_BENCH_COOKIE_BASE (1ull << 60) /* far above real socket cookies */
int fr_bench_fill_active(struct fr_daemon *d, uint64_t from, uint64_t to);

/* Register clients bench-0 .. bench-(n-1) through the control handler (no publish interval). */
int fr_bench_daemon_register(struct fr_daemon *d, unsigned nclients);

/* Publish a snapshot for every client: the clients' reads, as real clients do. */
void fr_bench_daemon_read_all(struct fr_daemon *d);

/* Load the in-kernel closed-record source onto the daemon's ring buffer (records claim this process's netns). */
int fr_bench_inject_open(struct fr_daemon *d, struct inject_bpf **out);
/* Write n closed records numbered base.. into the ring buffer: 10.x.y.z:port -> 10.0.0.1:443, cookie number + 1,
 * sent_bytes 100 + number % 1000, recv_bytes 2000 + number % 5000 (bpf/inject.bpf.c). Callable from any thread.
 * 0, -ENOBUFS (ring full) or -errno. */
int fr_bench_inject(struct inject_bpf *sk, uint64_t base, uint64_t n);
void fr_bench_inject_close(struct inject_bpf *sk);

/* A second thread that closes connections at a fixed rate while the daemon's thread works (e.g. builds a
 * snapshot): every tick_ns it writes per_tick records numbered base.. into the ring buffer (fr_bench_inject), and
 * every ~50 us it samples the events ring's head (from the shared header, as a reader would) and the ring buffer's
 * backlog (its producer and consumer positions, mapped read-only). The daemon's thread must not inject meanwhile. */
struct fr_bench_closer {
	/* in */
	struct fr_daemon *d;
	struct inject_bpf *sk;
	uint64_t base, tick_ns;
	uint32_t per_tick;
	/* out, valid after fr_bench_closer_stop */
	uint64_t attempted, injected; /* records: attempted - injected were refused by a full ring (lost) */
	uint64_t max_gap_ns;          /* longest time the events ring head stood still, until the stop */
	uint64_t max_backlog_bytes;   /* most bytes waiting in the ring buffer */
	/* private */
	pthread_t th;
	bool stop;
	const uint64_t *cons_pos, *prod_pos;
	void *cons_map, *prod_map;
	size_t page;
	uint64_t last_head, last_change_ns;
};

/* Start the thread (cl's in fields set). 0 or -errno. */
int fr_bench_closer_start(struct fr_bench_closer *cl);
/* Stop and join it; the gap still open at the stop counts. */
void fr_bench_closer_stop(struct fr_bench_closer *cl);

#endif /* FR_BENCH_DAEMON_H */
