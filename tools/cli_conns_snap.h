/* cli_conns_snap.h - how `flowring conns` gets a client's snapshot: REGISTER the client over the
 * control socket, then either ask for a snapshot (SNAPSHOT) and copy exactly that one out of the
 * client's region, or (--publish-interval) wait for the snapshots flowringd publishes on its own and
 * copy the newest. Follows regrown regions and registers again when the client was removed behind
 * its back (expired, or unregistered by another run).
 *
 * Contract: single-threaded (the CLI's main thread). Every failure is printed to stderr once, where
 * it starts, as "flowring conns: ..." (see cli.h).
 */
#ifndef FR_CLI_CONNS_SNAP_H
#define FR_CLI_CONNS_SNAP_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <flowring/flowring.h>

#include "cli.h"

#define FR_CLI_STOPPED 3 /* a periodic round saw the stop signal: nothing new to print */

/* One client's snapshots as this run sees them. The caller fills g, client, publish_ms and fd (a
 * connected control socket, see fr_cli_ctl_connect) and zeroes the rest. */
struct fr_cli_snap {
	struct fr_cli_global *g;
	char client[FR_NAME_MAX];
	uint64_t publish_ms; /* REGISTER's publish interval: 0 = snapshots on request only */
	int fd;
	bool created; /* some REGISTER of this run created the client */
	struct fr_snapshot_reader r;
	bool open;
	/* the last snapshot copied out: count records in buf (room for cap) */
	struct fr_conn *buf;
	uint64_t cap, count;
	/* its number and the daemon's read time, and the read time of the one before (for rates) */
	uint64_t snap_seq, read_time_ns, prev_read_time_ns;
};

/* REGISTER with c->publish_ms. 0, or -errno after printing why; *generation (may be NULL) gets the
 * client's region generation. */
int fr_cli_snap_register(struct fr_cli_snap *c, uint64_t *generation);
/* One on-request round: ask for a snapshot and copy it out (registering again if the client is
 * gone). FR_CLI_OK or FR_CLI_FAIL (printed). */
int fr_cli_snap_round(struct fr_cli_snap *c);
/* Before the first periodic round: map the region (generation from fr_cli_snap_register) and start
 * after whatever it already holds. FR_CLI_OK or FR_CLI_FAIL (printed). */
int fr_cli_snap_periodic_start(struct fr_cli_snap *c, uint64_t generation);
/* Wait for the next snapshot flowringd publishes on its own (newer than c->snap_seq) and copy the
 * newest one out. FR_CLI_OK, FR_CLI_STOPPED once *stop is set, or FR_CLI_FAIL (printed). */
int fr_cli_snap_periodic_round(struct fr_cli_snap *c, const volatile sig_atomic_t *stop);
/* Unmap the region and free the copy (the client stays registered: the caller decides). */
void fr_cli_snap_close(struct fr_cli_snap *c);

#endif /* FR_CLI_CONNS_SNAP_H */
