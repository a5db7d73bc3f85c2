/* daemon.h - flowringd: the pieces tied into one producer (DESIGN §1).
 *
 *   tracer (BPF ring buffer) -> filter -> direction / intra-host (port map) -> NAT -> state -> events ring
 *   control socket: register / unregister / snapshot / stats / clients / dump
 *   timers: drain, heartbeat + telemetry, client expiry + UDP idle expiry, port map refresh, publish
 *
 * Everything runs on one thread, the event loop's (producer/loop.h): it is the single writer of the
 * state, the rings and the telemetry block. Nothing on it waits for a consumer: the rings never block,
 * the control socket is non-blocking, snapshots are written into shared memory as they are read, and a
 * snapshot build keeps draining the kernel's closed records into the events ring (daemon_pump.c).
 */
#ifndef FR_DAEMON_H
#define FR_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include <flowring/record.h>

#include "config.h"
#include "events_ring.h"
#include "snapshot_ring.h"
#include "tracer.h"

struct fr_loop;
struct fr_loop_src;
struct fr_tracer;
struct fr_state;
struct fr_filter;
struct fr_portmap;
struct fr_nat;
struct fr_ctl_server;
struct fr_daemon;

/* A translated connection that closed: its NAT entry is forgotten at deadline_ns (daemon.c). */
struct fr_daemon_nat_gone {
	uint64_t deadline_ns;
	uint8_t saddr[16], daddr[16];
	uint16_t sport, dport;
	uint8_t type, family;
};
#define FR_DAEMON_NAT_GONE_MAX 65536u

/* The ingest pump (daemon_pump.c, DESIGN §4: ingest never waits on a snapshot build). A snapshot build holds the
 * loop thread for up to ~1 s at 1M active connections; from inside it the pump drains the BPF ring buffer every
 * FR_DAEMON_PUMP_EVERY records (active entries collected + records emitted) and publishes the closed records to the
 * events ring as usual, but defers their per-client state store to a queue applied when the build ends: the state
 * read must see a state nobody mutates mid-read. A pump that finds FR_DAEMON_DEFER_MAX records waiting does not
 * drain (counted); the kernel ring absorbs the rest. 1024 records are 0.3-0.6 ms of build at 1M active (~3 ms on a
 * loaded machine); a pump that finds the ring empty costs ~7 ns (docs/benchmarks/scale.md (f)). */
#define FR_DAEMON_PUMP_EVERY 1024u
#define FR_DAEMON_DEFER_MAX 262144u

/* Tests and benches: called at the start of each pump, before it drains (e.g. to inject records). */
typedef void (*fr_daemon_pump_hook)(struct fr_daemon *d, void *ctx);

/* A registered client's snapshot region. */
struct fr_daemon_client {
	bool used;
	char id[FR_NAME_MAX];
	struct fr_snapshot_writer w;
	uint64_t publish_interval_ns; /* 0: snapshots on request only */
	uint64_t next_publish_ns;
};

struct fr_daemon {
	struct fr_config *cfg;
	struct fr_loop *loop;
	struct fr_tracer *tracer;
	struct fr_state *state;
	struct fr_filter *filter;
	struct fr_portmap *pm;
	struct fr_nat *nat;
	struct fr_ctl_server *ctl;
	struct fr_loop_src *nat_src;
	struct fr_loop_src *publish_src; /* ticks at the shortest client publish interval; off without one */
	struct fr_loop_src *drain_src;   /* the drain timer: slow, or fast while a record waits unwoken */
	bool drain_fast;
	uint64_t drains, fast_drains;    /* telemetry: every drain; those the fast timer made */
	uint32_t nat_netns; /* the network namespace whose conntrack table nat reads */
	struct fr_daemon_nat_gone *nat_gone; /* FIFO of FR_DAEMON_NAT_GONE_MAX */
	uint32_t nat_gone_head, nat_gone_len;
	struct fr_events_writer events;
	bool events_open;
	struct fr_daemon_client *clients; /* cfg->max_clients entries */
	int sigfd;
	uint64_t start_ns;
	/* scratch for snapshots: the enriched active connections */
	struct fr_conn *active;
	size_t n_active, cap_active;
	bool collect_failed;
	/* the ingest pump during a snapshot build (daemon_pump.c) */
	bool building;                /* a build is in progress: state stores go to deferred */
	bool pump_disabled;           /* benches: the baseline without the pump */
	uint32_t pump_countdown;      /* records until the next pump */
	uint32_t defer_max;           /* FR_DAEMON_DEFER_MAX; tests lower it */
	struct fr_conn *deferred;     /* closed records whose state store waits for the build's end, in order */
	size_t n_deferred, cap_deferred;
	fr_daemon_pump_hook pump_hook;
	void *pump_hook_ctx;
	uint64_t pumps, pump_deferred, pump_deferred_peak, pump_queue_full, pump_deferred_lost;
	/* counters this module owns (telemetry) */
	uint64_t conns_closed;
	uint64_t snapshots_published, snapshot_records, snapshot_failed;
	uint64_t snapshot_regrows_retired; /* regrows of clients since removed */
	uint64_t filtered_before;          /* exclusions counted by filters replaced on SIGHUP */
	/* telemetry ids registered at run time for per-program bpf_stats */
	int prog_tm_runs[FR_TRACER_MAX_PROGS], prog_tm_ns[FR_TRACER_MAX_PROGS];
	int n_prog_tm;
	int exit_code;
};

/* Build every component from cfg and bind the loop's sources. Returns 0 or -errno (logged, naming
 * what failed). On failure everything already made is undone. */
int fr_daemon_open(struct fr_daemon *d, struct fr_config *cfg);

/* Run until SIGTERM/SIGINT (0) or a fatal error (-errno). */
int fr_daemon_run(struct fr_daemon *d);

/* Retire the regions, detach BPF, remove the control socket: nothing left behind. */
void fr_daemon_close(struct fr_daemon *d);

/* One closed connection through the pipeline (the tracer's callback; exposed for the benches). */
void fr_daemon_ingest(void *ctx, const struct fr_conn *closed);

/* daemon_enrich.c: NAT entries of connections closed more than a grace period ago are forgotten; the
 * port map is re-read from every namespace's /proc/<pid>/net; the host's own addresses. */
void fr_daemon_nat_forget_due(struct fr_daemon *d, uint64_t now_ns);
void fr_daemon_refresh_portmap(struct fr_daemon *d);
void fr_daemon_load_host_addrs(struct fr_daemon *d, uint32_t netns);
/* The tracer's listening-port events keep the port map current between full re-reads. */
void fr_daemon_on_port(void *ctx, uint32_t netns, uint8_t type, uint16_t port, bool listening);
/* Network namespace inode of a /proc/<pid> directory, 0 if unknown. */
uint32_t fr_daemon_netns_of(const char *proc_pid_dir);

/* Drain the kernel's ring buffer through the pipeline and wake readers; while a record is left that no
 * wake-up will announce, the drain timer runs fast (daemon.c). 0 or -errno (logged). */
int fr_daemon_drain(struct fr_daemon *d);

/* daemon_pump.c: bracket a snapshot build (collection + every state read of it). End applies the deferred state
 * stores in order; call it on every exit path. */
void fr_daemon_build_begin(struct fr_daemon *d);
void fr_daemon_build_end(struct fr_daemon *d);
/* One record of build work done: pumps every FR_DAEMON_PUMP_EVERY calls (no-op outside a build). */
void fr_daemon_pump_tick(struct fr_daemon *d);
/* Pump now (between phases of a build; no-op outside a build). */
void fr_daemon_pump(struct fr_daemon *d);
/* A closed record's state store, or during a build its deferral (the ingest's step 5). */
void fr_daemon_store_closed(struct fr_daemon *d, const struct fr_conn *c);
/* fr_conns_mark_intra_host over d->active, pumping as it goes. */
long fr_daemon_mark_intra_host(struct fr_daemon *d);

/* daemon_telemetry.c */
void fr_daemon_register_prog_telemetry(struct fr_daemon *d);
void fr_daemon_update_telemetry(struct fr_daemon *d);

/* The control socket's request handlers and snapshot publishing (daemon_ctl.c). */
struct fr_ctl_handler;
void fr_daemon_ctl_handler(struct fr_daemon *d, struct fr_ctl_handler *h);
int fr_daemon_publish_snapshot(struct fr_daemon *d, struct fr_daemon_client *c, uint64_t now_ns);
/* Publish a snapshot for every client whose publish interval is due at now_ns. */
int fr_daemon_publish_due(struct fr_daemon *d, uint64_t now_ns);
/* Re-arm the publish tick after the set of periodic clients changed. */
void fr_daemon_publish_rearm(struct fr_daemon *d);
void fr_daemon_retire_client(struct fr_daemon *d, struct fr_daemon_client *c);
/* Retire the regions of clients the state expired. */
void fr_daemon_reap_clients(struct fr_daemon *d);

#endif /* FR_DAEMON_H */
