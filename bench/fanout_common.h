/* fanout_common.h - what bench_fanout's transports share: the control block the coordinator, the
 * writer process and the reader processes see (anonymous MAP_SHARED memory, created before fork),
 * the record every transport carries, the writer loop (as fast as possible or paced) and the
 * readers' accounting (sequence gaps = records lost, publish timestamp -> receive time = latency).
 *
 * Process model of one run: the coordinator forks the writer; the writer sets up its side (ring,
 * socket, publisher) and sets writer_ready; the coordinator forks N readers; each attaches and
 * increments readers_ready; the writer waits for all N (plus the transport's own "subscribed"
 * condition), publishes ctl->count records, sets done, waits for readers_done == N (everything
 * delivered or counted lost) and tears down.
 */
#ifndef FANOUT_COMMON_H
#define FANOUT_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <flowring/record.h>

#define FANOUT_MAX_READERS 16
#define FANOUT_BATCH 64 /* records between flushes and timestamp refreshes in the throughput phase */

enum fanout_phase { FANOUT_THROUGHPUT = 0, FANOUT_PACED = 1 };

/* One reader's results; its own cache line(s) so readers never share a written line. */
struct fanout_reader_res {
	uint64_t received;   /* records delivered intact */
	uint64_t lost_gaps;  /* sequence numbers never delivered (gaps, tail included) */
	uint64_t lost_sdk;   /* flowring only: the SDK's exact lap count (fr_events_reader.total_lost) */
	uint64_t t_last_ns;  /* CLOCK_MONOTONIC of the last delivery */
	uint64_t cpu_ns;     /* process CPU time from attach to end */
	uint64_t n_lat;      /* latency samples written (paced phase) */
	int32_t status;      /* 0 or -errno / transport error */
	int32_t finished;
} __attribute__((aligned(64)));

struct fanout_ctl {
	/* set by the coordinator before fork, read-only afterwards */
	char name[64];       /* unique per run: ring instance, ipc path stem, iceoryx instance */
	char shm_dir[128];   /* flowring region directory ("" = /dev/shm) */
	uint64_t count;      /* records to publish */
	uint64_t rate;       /* paced phase: records per second */
	uint32_t readers;
	uint32_t capacity;   /* ring slots / zmq HWM / iceoryx queue (capped at 256 there) */
	int32_t phase;
	int32_t pad;
	uint64_t max_ns;     /* the writer stops publishing after this long (slow transports) */
	uint64_t lat_cap;    /* latency samples each reader may store */
	uint64_t lat_off;    /* offset from ctl of reader 0's samples; reader i at + i*lat_cap */
	/* synchronisation, all through __atomic (acquire/release; see each use) */
	int32_t writer_ready __attribute__((aligned(64)));
	int32_t readers_ready;
	int32_t readers_done;
	int32_t done;        /* writer published everything (and flushed) */
	int32_t measured;    /* writer: every figure is in this block; what is left is teardown */
	int32_t writer_status;
	/* writer results */
	uint64_t t_start_ns __attribute__((aligned(64)));
	uint64_t t_end_ns;   /* end of the publish loop */
	uint64_t published;  /* records actually published (< count if max_ns cut the loop short) */
	uint64_t writer_cpu_ns; /* writer process CPU from start to "every reader done" */
	uint64_t writer_loop_cpu_ns; /* writer process CPU of the publish loop alone */
	char error[160];     /* first error, for the report */
	struct fanout_reader_res r[FANOUT_MAX_READERS];
};

/* A transport: each function runs in a child process and returns 0 or a negative error (the
 * reason is written to ctl->error). probe/teardown run in the coordinator. */
struct fanout_transport {
	const char *name;
	/* 0: usable; otherwise why not (written to why). May start a broker (iceoryx). */
	int (*probe)(char *why, size_t len);
	int (*writer)(struct fanout_ctl *ctl);
	int (*reader)(struct fanout_ctl *ctl, unsigned idx);
	void (*teardown)(void);
	/* a child (reader idx, or -1: the writer) had to be killed after the measurement: clean up
	 * what its exit would have removed (may be NULL) */
	void (*killed)(pid_t pid, int idx);
	const char *slow_reader; /* what it does with a slow reader (printed in the header) */
};

extern const struct fanout_transport fanout_flowring;
extern const struct fanout_transport fanout_zmq;
extern const struct fanout_transport fanout_iceoryx;
extern const struct fanout_transport fanout_iceoryx_poll;

uint64_t fanout_now_ns(void);
uint64_t fanout_cpu_ns(void); /* CLOCK_PROCESS_CPUTIME_ID: every thread of the process */

/* The record: struct fr_conn with cookie = sequence number, last_update_ns = publish time. */
void fanout_fill(struct fr_conn *c, uint64_t seq, uint64_t ts_ns);
static inline uint64_t fanout_seq(const struct fr_conn *c) { return c->cookie; }
static inline uint64_t fanout_ts(const struct fr_conn *c) { return c->last_update_ns; }

/* Writer side. fanout_writer_start waits (up to 20 s) for every reader to attach and for
 * subscribed(arg) to say 1 (NULL: no such condition), calling idle(arg) meanwhile (heartbeats).
 * fanout_writer_run publishes ctl->count records with publish(arg, rec) and calls
 * batch_end(arg, now, idle) every FANOUT_BATCH records (throughput; idle = 0) or after every
 * record (paced; idle = 1: the writer sleeps next), then sets done. fanout_writer_finish waits
 * (up to 60 s) until every reader is done and records the writer's CPU. */
struct fanout_writer_ops {
	void *arg;
	void (*publish)(void *arg, const struct fr_conn *rec);
	void (*batch_end)(void *arg, uint64_t now_ns, int idle);
	int (*subscribed)(void *arg);
	void (*idle)(void *arg);
};
int fanout_writer_start(struct fanout_ctl *ctl, const struct fanout_writer_ops *ops);
void fanout_writer_run(struct fanout_ctl *ctl, const struct fanout_writer_ops *ops);
int fanout_writer_finish(struct fanout_ctl *ctl, const struct fanout_writer_ops *ops);

/* Reader side. */
struct fanout_rx {
	struct fanout_ctl *ctl;
	struct fanout_reader_res *res;
	uint64_t next_seq;
	uint64_t cpu0;
	uint64_t unstamped;  /* records received since t_last_ns was last taken */
	uint64_t *lat;
};
void fanout_rx_init(struct fanout_rx *rx, struct fanout_ctl *ctl, unsigned idx);
void fanout_rx_ready(struct fanout_rx *rx); /* attached: count me in, start my CPU clock */
/* One record delivered: gap accounting and, in the paced phase, a latency sample. Returns 1 when it
 * was the last record the writer publishes (the reader can stop). */
int fanout_rx_record(struct fanout_rx *rx, uint64_t seq, uint64_t ts_ns);
int fanout_rx_writer_done(const struct fanout_rx *rx); /* acquire: pairs with the writer's done */
/* The transport found nothing to read and is about to wait: stamp the time of the last delivery
 * (the clock is read every FANOUT_BATCH records otherwise, to keep it out of the per-record cost). */
void fanout_rx_idle(struct fanout_rx *rx);
void fanout_rx_end(struct fanout_rx *rx, int status);

void fanout_set_error(struct fanout_ctl *ctl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fanout_sleep_us(unsigned us);

#endif /* FANOUT_COMMON_H */
