/* daemon_pump.c - ingest keeps flowing while a snapshot is built (DESIGN §4: the ingest path never waits on a
 * snapshot build). Runs on the event-loop thread, from inside the build (daemon_ctl.c).
 *
 * A snapshot build (the BPF map read with its enrichment, then the client's state read streamed into its region)
 * holds the loop thread for up to ~1 s at 1M active connections. Nothing else drains the BPF ring buffer meanwhile:
 * at a high close rate the kernel would drop records (counted, but lost) and the events ring would stall. So the
 * build calls fr_daemon_pump_tick() once per record of work; every FR_DAEMON_PUMP_EVERY records the pump drains the
 * ring buffer through the normal ingest (daemon_enrich.c: filter, port map, NAT, events ring + wake), with one
 * difference: the per-client state store is deferred to a queue, applied in order when the build ends.
 *
 * Why deferral: the state read walks the client's ck_hs tables and emits records that point into them; the state
 * has one writer and no writer may run inside its own read (state.h), and the read's bound
 * (fr_state_read_bound_sp) was computed from the buffered closed records before it started. The deferred records
 * closed after the snapshot's read time, so they belong to the client's next snapshot anyway: that one reports them
 * closed, with deltas against what this snapshot reported (SEMANTICS.md) - exactly what it would report had the
 * kernel held them in its ring until the build ended, which is what happened before the pump existed.
 *
 * What the pump touches, and why each is safe inside the build:
 *  - the tracer's ring buffer (fr_tracer_consume): never consumed re-entrantly: builds run from the control socket
 *    and the publish timer, never from inside a ring-buffer callback, and the ingest never starts a build;
 *  - UDP release markers (fr_tracer_udp_close_cookie) delete entries from the UDP map, possibly while the build's
 *    batch walk is on it: the walks have separate static buffers and local cursors (tracer_maps.c), and a hash
 *    map's batch cursor is a bucket index, so a deletion makes the walk miss only the deleted (now closed) flow,
 *    exactly as a concurrent close in the kernel does; a flow read before its deletion is active in this snapshot
 *    and closed in the next;
 *  - the port map (listening-port events add/remove ports; classify reads): the build classifies one entry at a
 *    time and holds no iterator across a pump; an entry classified after a port event sees the newer map, as a
 *    later read would;
 *  - NAT (lookups, fr_nat_conn_closed when the forget queue is full) and the filter (exclusion counter): used the
 *    same way one record at a time by the build, no iterator held;
 *  - the events ring: its only writer is this thread, and the build never writes it;
 *  - d->active (the collected records) and the client's snapshot writer: only the build touches them;
 *  - the state: never (deferred, above).
 *
 * The intra-host marking over the whole batch (fr_conns_mark_intra_host, 0.15-0.4 s at 1M) pumps through its
 * progress callback like every other step, so the daemon stays one thread.
 */
#include <stdlib.h>

#include "daemon.h"
#include "portmap.h"
#include "state.h"

/* A queue grown beyond this many records is freed when its build ends: bursts do not pin tens of MiB. */
#define FR_DAEMON_DEFER_KEEP 16384u

/* Store the queue in order. Inside a build's end the pump keeps running every FR_DAEMON_PUMP_EVERY stores (at 1M
 * active the queue can hold 100k records, ~30 ms of stores): what it drains is deferred behind the queue's tail, so
 * the order holds, and the loop ends once the stores outpace the arrivals (the queue bound stops the pump anyway). */
static void fr_daemon_apply_deferred(struct fr_daemon *d)
{
	/* indexed, not a pointer: a pump may move the queue when it grows */
	for (size_t i = 0; i < d->n_deferred; i++) {
		fr_state_store_closed_sp(d->state, &d->deferred[i]);
		fr_daemon_pump_tick(d);
	}
	d->n_deferred = 0;
	if (d->cap_deferred > FR_DAEMON_DEFER_KEEP) {
		free(d->deferred);
		d->deferred = NULL;
		d->cap_deferred = 0;
	}
}

void fr_daemon_build_begin(struct fr_daemon *d)
{
	/* every build applies the queue when it ends, so it is empty here; keep the order if that ever changes */
	if (d->n_deferred && !d->building)
		fr_daemon_apply_deferred(d);
	d->building = true;
	d->pump_countdown = FR_DAEMON_PUMP_EVERY;
}

void fr_daemon_build_end(struct fr_daemon *d)
{
	/* the reads are over: the state may change again, but in the order the records closed */
	fr_daemon_apply_deferred(d);
	d->building = false;
	/* a record the last pump found half-written gets no wake-up of its own: the normal drain takes it
	 * or arms the fast timer for it */
	if (!d->pump_disabled)
		fr_daemon_drain(d);
}

void fr_daemon_store_closed(struct fr_daemon *d, const struct fr_conn *c)
{
	if (!d->building) {
		fr_state_store_closed_sp(d->state, c);
		return;
	}
	if (d->n_deferred == d->cap_deferred) {
		size_t cap = d->cap_deferred ? d->cap_deferred * 2 : 1024;
		struct fr_conn *p = realloc(d->deferred, cap * sizeof(*p));
		if (!p) {
			/* the record already reached the events ring; only the clients' state misses it: counted */
			d->pump_deferred_lost++;
			return;
		}
		d->deferred = p;
		d->cap_deferred = cap;
	}
	d->deferred[d->n_deferred++] = *c;
	d->pump_deferred++;
	if (d->n_deferred > d->pump_deferred_peak)
		d->pump_deferred_peak = d->n_deferred;
}

void fr_daemon_pump(struct fr_daemon *d)
{
	d->pump_countdown = FR_DAEMON_PUMP_EVERY;
	if (!d->building || d->pump_disabled)
		return;
	if (d->pump_hook)
		d->pump_hook(d, d->pump_hook_ctx);
	/* Full: stop draining until the build (and its queue) ends. Nothing is lost uncounted: the kernel ring holds what it can and
	 * counts what it cannot (bpf_ringbuf_reserve_failed). One drain started below the bound takes whatever the
	 * ring holds, so the queue peaks at defer_max plus one ring's worth (snapshot_deferred_peak shows it). */
	if (d->n_deferred >= d->defer_max) {
		d->pump_queue_full++;
		return;
	}
	d->pumps++;
	/* the loop's own drain: readers waiting on the futex wake now, not when the build ends, and a record
	 * left half-written arms the fast drain timer; a failure is logged and the next drain retries */
	fr_daemon_drain(d);
}

void fr_daemon_pump_tick(struct fr_daemon *d)
{
	if (d->building && --d->pump_countdown == 0)
		fr_daemon_pump(d);
}

static void fr_daemon_pump_progress(void *ctx)
{
	fr_daemon_pump_tick(ctx);
}

long fr_daemon_mark_intra_host(struct fr_daemon *d)
{
	return fr_conns_mark_intra_host(d->active, d->n_active, fr_daemon_pump_progress, d);
}
