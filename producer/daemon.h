/* daemon.h - flowringd: the pieces tied into one producer (DESIGN §1).
 *
 *   tracer (BPF ring buffer) -> filter -> direction / intra-host (port map) -> NAT -> state -> events ring
 *   control socket: register / unregister / snapshot / stats / clients / dump
 *   timers: drain, heartbeat + telemetry, client expiry + UDP idle expiry, port map refresh, publish
 *
 * Everything runs on one thread, the event loop's (producer/loop.h): it is the single writer of the
 * state, the rings and the telemetry block. Nothing on it waits for a consumer: the rings never block,
 * the control socket is non-blocking, snapshots are written into shared memory as they are read.
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

/* A translated connection that closed: its NAT entry is forgotten at deadline_ns (daemon.c). */
struct fr_daemon_nat_gone {
	uint64_t deadline_ns;
	uint8_t saddr[16], daddr[16];
	uint16_t sport, dport;
	uint8_t type, family;
};
#define FR_DAEMON_NAT_GONE_MAX 65536u

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
