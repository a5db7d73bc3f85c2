/* bench_daemon.h - a real flowringd built in-process for the benches (bench_ingest, bench_scale): the daemon from a
 * config, optionally with a larger active-TCP map than the config can ask for, clients registered through the control
 * handler as a REGISTER request would, and the in-kernel closed-record source (bpf/inject.bpf.c) writing into the
 * tracer's own ring buffer. Single-threaded, like the daemon. */
#ifndef FR_BENCH_DAEMON_H
#define FR_BENCH_DAEMON_H

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

/* Register clients bench-0 .. bench-(n-1) through the control handler (no publish interval). */
int fr_bench_daemon_register(struct fr_daemon *d, unsigned nclients);

/* Publish a snapshot for every client: the clients' reads, as real clients do. */
void fr_bench_daemon_read_all(struct fr_daemon *d);

/* Load the in-kernel closed-record source onto the daemon's ring buffer (records claim this process's netns). */
int fr_bench_inject_open(struct fr_daemon *d, struct inject_bpf **out);
/* Write n closed records numbered base.. into the ring buffer. 0, -ENOBUFS (ring full) or -errno. */
int fr_bench_inject(struct inject_bpf *sk, uint64_t base, uint64_t n);
void fr_bench_inject_close(struct inject_bpf *sk);

#endif /* FR_BENCH_DAEMON_H */
