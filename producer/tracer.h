/* tracer.h - the user side of flowring's eBPF tracing: load and attach the programs of
 * bpf/flowring.bpf.c, drain closed connections and listening-port events from the BPF ring buffer,
 * read the active connections from the BPF maps, expire idle UDP flows, read the kernel-side
 * counters. Implemented by tracer.c (open/close), tracer_drain.c, tracer_maps.c, tracer_stats.c.
 *
 * Threading: a tracer is single-threaded. All functions on one tracer must be called from one
 * thread at a time (the daemon's ingest thread); callbacks run on that thread, synchronously.
 */
#ifndef FR_TRACER_H
#define FR_TRACER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flowring/record.h"
#include "flowring/telemetry.h"

struct fr_tracer;

/* Called once per connection. The record is only valid during the call. */
typedef void (*fr_tracer_conn_cb)(void *ctx, const struct fr_conn *conn);

/* A socket started (listening true) or stopped (false) listening on a port: type FR_CONN_TCP
 * (CLOSE -> LISTEN, LISTEN -> CLOSE) or FR_CONN_UDP (bind() to a non-zero port; stop at the
 * socket's release or its connect()). netns is the socket's network namespace inode. Called in
 * ring order with on_closed, so a connection closed after its port started listening is reported
 * after the event. Per socket: every stop follows exactly one start of the same socket; sockets
 * that were listening before the tracer opened have no events (load those from /proc). Not
 * reported: a TCP listen() without an explicit bind() (the kernel chooses the port after the
 * tracepoint), UDP without opts.udp. Lost events (ring full) are counted (port_events_lost). */
typedef void (*fr_tracer_port_cb)(void *ctx, uint32_t netns, uint8_t type, uint16_t port, bool listening);

struct fr_tracer_opts {
	bool udp;                     /* trace UDP flows too (default true) */
	bool seed;                    /* seed existing connections with iter/tcp, iter/udp (default true) */
	bool prog_stats;              /* enable kernel bpf_stats while the tracer lives (default true) */
	uint64_t udp_idle_timeout_ns; /* fr_tracer_expire_udp_idle() closes flows idle this long (30 s) */
	uint32_t ringbuf_bytes;       /* power of two, multiple of the page size (default 4 MiB) */
	uint32_t wakeup_bytes;        /* pending bytes that force a wakeup (default ringbuf/16, <= 64 KiB) */
	bool wake_idle;               /* wake the consumer when a record arrives to an empty ring (default
				       * false: only wakeup_bytes wakes; drain on a timer) */
	uint64_t idle_wake_min_ns;    /* with wake_idle: at most this often (0: no limit; a rate-limited
				       * record waits for the consumer's next drain) */
	uint32_t tcp_map_entries;     /* active TCP connections (default 65536) */
	uint32_t udp_map_entries;     /* active UDP flows (default 65536) */
	uint32_t netns;               /* trace only this network namespace inode; 0: all (tests) */
	fr_tracer_conn_cb on_closed;  /* each closed connection (end_ns set, FR_CONN_F_CLOSED) */
	void *ctx;                    /* passed to on_closed and on_port */
	fr_tracer_port_cb on_port;    /* listening-port events (optional, NULL: not delivered) */
};

/* Kernel-side counters summed over CPUs, plus the user side's own. */
struct fr_tracer_counters {
	uint64_t rb_reserve_failed; /* closed records lost: ring full */
	uint64_t rb_bytes_dropped;  /* their bytes */
	uint64_t tcp_map_full;
	uint64_t udp_map_full;
	uint64_t sk_storage_failed;
	uint64_t events_skipped;
	uint64_t failed_connects;
	uint64_t rb_submitted;      /* records the kernel submitted */
	uint64_t rb_wakeups;        /* forced wakeups */
	uint64_t tcp_closes;        /* TCP transitions to CLOSE the kernel side saw */
	uint64_t udp_idle_closed;   /* user side: flows closed by the idle timeout */
	uint64_t tcp_reaped;        /* user side: TCP entries whose socket vanished unseen (reap) */
	uint64_t ingest_events;     /* user side: records read from the ring buffer */
	uint64_t ingest_malformed;  /* user side: records of a wrong size or kind */
	uint64_t port_events;       /* listening-port events the kernel submitted */
	uint64_t port_events_lost;  /* listening-port events lost: ring full */
};

#define FR_TRACER_PROG_NAME_LEN 32
#define FR_TRACER_MAX_PROGS 24 /* at least the number of BPF programs (15 today): size for prog_stats */

struct fr_tracer_prog_stat {
	char name[FR_TRACER_PROG_NAME_LEN];
	uint64_t run_cnt;
	uint64_t run_time_ns;
	uint64_t recursion_misses;
};

/* Defaults as documented above. */
void fr_tracer_opts_init(struct fr_tracer_opts *opts);

/* Open, configure, load and attach everything, then seed existing connections. Returns 0 or
 * -errno; logs an error naming what is missing (root, kernel BTF, cgroup v2, a hook). */
int fr_tracer_open(const struct fr_tracer_opts *opts, struct fr_tracer **out);

/* Detach and free everything. NULL is allowed. */
void fr_tracer_close(struct fr_tracer *t);

/* An fd that becomes readable when the kernel forces a wakeup (enough pending data). Poll it
 * with a short timeout and call fr_tracer_consume() on every wakeup AND every timeout: records
 * are submitted without a wakeup to save ~5 us per event. */
int fr_tracer_epoll_fd(const struct fr_tracer *t);

/* The BPF ring buffer map's fd, for programs that write into the same ring (the ingest bench's
 * in-kernel event source). */
int fr_tracer_ringbuf_fd(const struct fr_tracer *t);

/* Drain the ring buffer, calling on_closed per closed connection and on_port per port event.
 * Returns records or -errno. */
int fr_tracer_consume(struct fr_tracer *t);

/* True when the ring buffer holds records not consumed yet: after fr_tracer_consume() that means a
 * record still being written (libbpf stops at it) or one that arrived since. With wake_idle the
 * kernel may not wake the consumer for such a record (it saw data pending when it submitted), so
 * the caller must drain again soon instead of sleeping until its timer. */
bool fr_tracer_pending(const struct fr_tracer *t);

/* Wait up to timeout_ms for a wakeup, then drain (also on timeout). Returns records or -errno. */
int fr_tracer_poll(struct fr_tracer *t, int timeout_ms);

/* Call cb for every active connection (end_ns 0), read with batch lookups. Returns the count. */
int fr_tracer_for_each_active(struct fr_tracer *t, fr_tracer_conn_cb cb, void *ctx);

/* Close the UDP flows idle for longer than the idle timeout at now_ns (CLOCK_MONOTONIC), reporting
 * each through on_closed with FR_CONN_F_IDLE_CLOSED. Returns the count or -errno. */
int fr_tracer_expire_udp_idle(struct fr_tracer *t, uint64_t now_ns);

/* Close the tracked TCP connections whose socket no longer exists. The kernel can skip a tracepoint
 * program run (recursion on the same CPU, counted as a bpf_stats recursion miss; and, observed here
 * about once per 40000 closes while other BPF programs attach to or run on the same tracepoint,
 * without any counter), so a TCP_CLOSE can go unseen. Walks the sockets with iter/tcp (this
 * process's netns only), reports each vanished one through on_closed (end_ns = now_ns, counters as
 * last seen) and inserts live sockets not tracked yet. Call periodically (e.g. with the UDP
 * expiry). Returns the number reaped or -errno. */
int fr_tracer_reap_tcp(struct fr_tracer *t, uint64_t now_ns);

int fr_tracer_read_counters(struct fr_tracer *t, struct fr_tracer_counters *out);

/* Store the counters this module owns into a telemetry block indexed by enum fr_telemetry_id
 * (FR_TM_BPF_*, INGEST_EVENTS, INGEST_MALFORMED, BPF_PROG_RUNS, BPF_PROG_MISSES,
 * BPF_PORT_EVENTS_LOST); other
 * entries are left untouched. */
int fr_tracer_read_telemetry(struct fr_tracer *t, uint64_t tm[FR_TM__COUNT]);

/* Per-program kernel bpf_stats (run_cnt, run_time_ns; run times need opts.prog_stats). Fills at
 * most max entries, returns the number of programs or -errno. */
int fr_tracer_prog_stats(struct fr_tracer *t, struct fr_tracer_prog_stat *out, size_t max);

/* Convert one kernel record (struct fr_bpf_conn of bpf/flowring.h) to the wire record. Exposed
 * for the tests. */
struct fr_bpf_conn;
void fr_tracer_to_conn(const struct fr_bpf_conn *k, struct fr_conn *out);

#endif /* FR_TRACER_H */
