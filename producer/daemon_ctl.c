/* daemon_ctl.c - flowringd's clients: control requests, snapshot regions, snapshot publishing.
 *
 * Runs on the event-loop thread like the rest of the daemon (daemon.h), inside
 * fr_ctl_server_dispatch() for requests and from timers for periodic publishing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control_server.h"
#include "daemon.h"
#include "filter.h"
#include "log.h"
#include "loop.h"
#include "nat.h"
#include "portmap.h"
#include "region.h"
#include "state.h"
#include "tracer.h"

static struct fr_daemon_client *fr_daemon_find_client(struct fr_daemon *d, const char *id)
{
	for (uint32_t i = 0; i < d->cfg->max_clients; i++)
		if (d->clients[i].used && strcmp(d->clients[i].id, id) == 0)
			return &d->clients[i];
	return NULL;
}

void fr_daemon_retire_client(struct fr_daemon *d, struct fr_daemon_client *c)
{
	d->snapshot_regrows_retired += c->w.regrows;
	fr_snapshot_retire(&c->w);
	c->used = false;
}

void fr_daemon_reap_clients(struct fr_daemon *d)
{
	for (uint32_t i = 0; i < d->cfg->max_clients; i++) {
		struct fr_daemon_client *c = &d->clients[i];
		if (c->used && !fr_state_has_client_mc(d->state, c->id)) {
			fr_info("client '%s' expired: it did not read for %llu ms", c->id,
				(unsigned long long)d->cfg->client_expiry_ms);
			fr_daemon_retire_client(d, c);
		}
	}
	fr_daemon_publish_rearm(d);
}

/* ---- active connections, enriched once per snapshot round ---- */

static void fr_daemon_collect_one(void *ctx, const struct fr_conn *a)
{
	struct fr_daemon *d = ctx;
	struct fr_conn *c;

	/* inside the batch walk: the pump may drain the ring buffer here (what that may touch: daemon_pump.c) */
	fr_daemon_pump_tick(d);
	if (d->n_active == d->cap_active) {
		size_t cap = d->cap_active ? d->cap_active * 2 : 1024;
		struct fr_conn *p = realloc(d->active, cap * sizeof(*p));
		if (!p) {
			d->collect_failed = true;
			return;
		}
		d->active = p;
		d->cap_active = cap;
	}
	c = &d->active[d->n_active];
	*c = *a;
	if (fr_filter_match(d->filter, c))
		return;
	fr_portmap_classify_sp(d->pm, c);
	/* as for closed ones (daemon_enrich.c): our conntrack table describes our netns only */
	if (d->nat && c->netns == d->nat_netns && fr_nat_count(d->nat))
		fr_nat_lookup(d->nat, c);
	d->n_active++;
}

static int fr_daemon_collect_active(struct fr_daemon *d)
{
	int n;

	d->n_active = 0;
	d->collect_failed = false;
	n = fr_tracer_for_each_active(d->tracer, fr_daemon_collect_one, d);
	if (n < 0)
		return n;
	if (d->collect_failed)
		return -ENOMEM;
	fr_daemon_pump(d);
	if (fr_daemon_mark_intra_host(d) < 0)
		return -ENOMEM;
	fr_daemon_pump(d);
	return 0;
}

/* ---- snapshots ---- */

struct fr_daemon_emit_ctx {
	struct fr_daemon *d;
	struct fr_snapshot_writer *w;
};

static int fr_daemon_emit(void *ctx, const struct fr_conn *c)
{
	struct fr_daemon_emit_ctx *e = ctx;

	/* inside the state read: the pump never touches the state (its stores are deferred: daemon_pump.c) */
	fr_daemon_pump_tick(e->d);
	return fr_snapshot_append_sp(e->w, c);
}

static int fr_daemon_publish_collected(struct fr_daemon *d, struct fr_daemon_client *c, uint64_t now_ns)
{
	/* the pump defers its state stores, so this bound holds for the whole read */
	long bound = fr_state_read_bound_sp(d->state, c->id, d->n_active);
	struct fr_daemon_emit_ctx ec = {d, &c->w};
	long n;
	int rc;

	if (bound < 0) {
		rc = (int)bound; /* the state no longer knows the client (expired meanwhile): a failed snapshot too */
		goto fail;
	}
	rc = fr_snapshot_begin_sp(&c->w, now_ns, (uint64_t)bound);
	if (rc)
		goto fail;
	fr_daemon_pump(d); /* a begin that grows the region maps a new, larger one: tens of ms at 100k-1M */
	n = fr_state_read_sp(d->state, c->id, now_ns, d->active, d->n_active, fr_daemon_emit, &ec);
	if (n < 0) {
		/* the read still applied its state transition; what reached the slot is not a whole snapshot */
		fr_snapshot_abort_sp(&c->w);
		rc = (int)n;
		goto fail;
	}
	rc = fr_snapshot_commit_sp(&c->w);
	if (rc)
		goto fail;
	d->snapshots_published++;
	d->snapshot_records += (uint64_t)n;
	return 0;
fail:
	d->snapshot_failed++;
	fr_err("snapshot for client '%s' failed: %s", c->id, strerror(-rc));
	return rc;
}

/* A build runs from fr_daemon_build_begin to fr_daemon_build_end: closed records the pump drains meanwhile reach
 * the events ring at once and the clients' state when the build ends, on every exit path (daemon_pump.c). */
int fr_daemon_publish_snapshot(struct fr_daemon *d, struct fr_daemon_client *c, uint64_t now_ns)
{
	int rc;

	fr_daemon_build_begin(d);
	rc = fr_daemon_collect_active(d);
	if (rc) {
		d->snapshot_failed++;
		fr_err("reading active connections failed: %s", strerror(-rc));
		goto cleanup;
	}
	rc = fr_daemon_publish_collected(d, c, now_ns);
cleanup:
	fr_daemon_build_end(d);
	return rc;
}

int fr_daemon_publish_due(struct fr_daemon *d, uint64_t now)
{
	int rc = 0;
	bool collected = false;

	for (uint32_t i = 0; i < d->cfg->max_clients; i++) {
		struct fr_daemon_client *c = &d->clients[i];
		if (!c->used || !c->publish_interval_ns || c->next_publish_ns > now)
			continue;
		/* one read of the BPF maps serves every client due in this tick: one build spans all their reads, so
		 * none of them sees a close the others do not */
		if (!collected) {
			collected = true;
			fr_daemon_build_begin(d);
			rc = fr_daemon_collect_active(d);
			if (rc) {
				d->snapshot_failed++;
				goto cleanup;
			}
		}
		int e = fr_daemon_publish_collected(d, c, now);
		if (e && !rc)
			rc = e;
		/* a late tick does not make a burst of catch-up snapshots */
		c->next_publish_ns = now + c->publish_interval_ns;
	}
cleanup:
	if (collected)
		fr_daemon_build_end(d);
	return rc;
}

void fr_daemon_publish_rearm(struct fr_daemon *d)
{
	uint64_t shortest = 0;

	for (uint32_t i = 0; i < d->cfg->max_clients; i++) {
		const struct fr_daemon_client *c = &d->clients[i];
		if (c->used && c->publish_interval_ns && (!shortest || c->publish_interval_ns < shortest))
			shortest = c->publish_interval_ns;
	}
	if (d->publish_src)
		fr_loop_timer_set(d->publish_src, shortest);
}

/* ---- control requests ---- */

/* The client's own interval, or the daemon's --publish-interval when it did not choose one. The
 * control decoder bounded a chosen one (FR_CTL_PUBLISH_INTERVAL_MAX_MS), so * 1e6 cannot overflow. */
static uint64_t fr_daemon_client_interval_ns(const struct fr_daemon *d, int64_t publish_interval_ms)
{
	uint64_t ms = publish_interval_ms < 0 ? d->cfg->publish_interval_ms : (uint64_t)publish_interval_ms;

	return ms * 1000000ull;
}

static int fr_daemon_h_register(void *ctx, const char *id, int64_t publish_interval_ms,
				const struct fr_ctl_peer *peer, struct fr_ctl_register_reply *out)
{
	struct fr_daemon *d = ctx;
	struct fr_daemon_client *c = fr_daemon_find_client(d, id);
	struct fr_snapshot_params sp = {0};
	uint64_t interval_ns = fr_daemon_client_interval_ns(d, publish_interval_ms);
	int rc;

	if (c) {
		/* idempotent, but the latest REGISTER says how often (not saying means the default) */
		if (c->publish_interval_ns != interval_ns) {
			c->publish_interval_ns = interval_ns;
			c->next_publish_ns = fr_now_ns() + interval_ns;
			fr_daemon_publish_rearm(d);
			fr_info("client '%s' re-registered by pid %d: publish interval now %llu ms", id, (int)peer->pid,
				(unsigned long long)(interval_ns / 1000000ull));
		}
		out->created = 0;
		out->generation = c->w.region.hdr->generation;
		return 0;
	}
	for (uint32_t i = 0; i < d->cfg->max_clients && !c; i++)
		if (!d->clients[i].used)
			c = &d->clients[i];
	if (!c)
		return -EUSERS;
	rc = fr_state_register_sp(d->state, id, fr_now_ns());
	if (rc)
		return rc;
	sp.shm_dir = d->cfg->shm_dir;
	sp.instance = d->cfg->instance;
	sp.client_id = id;
	sp.gid = d->cfg->group_set ? d->cfg->group : (gid_t)-1;
	rc = fr_snapshot_create(&c->w, &sp);
	if (rc) {
		fr_state_remove_client_sp(d->state, id);
		return rc;
	}
	snprintf(c->id, sizeof(c->id), "%s", id);
	c->used = true;
	c->publish_interval_ns = interval_ns;
	c->next_publish_ns = fr_now_ns() + c->publish_interval_ns;
	fr_daemon_publish_rearm(d);
	out->created = 1;
	out->generation = c->w.region.hdr->generation;
	fr_info("client '%s' registered by pid %d uid %u, publish interval %llu ms%s", id, (int)peer->pid,
		(unsigned)peer->uid, (unsigned long long)(interval_ns / 1000000ull),
		publish_interval_ms < 0 ? " (the default)" : "");
	return 0;
}

static int fr_daemon_h_unregister(void *ctx, const char *id, const struct fr_ctl_peer *peer)
{
	struct fr_daemon *d = ctx;
	struct fr_daemon_client *c = fr_daemon_find_client(d, id);

	if (!c)
		return -ENOENT;
	fr_state_remove_client_sp(d->state, id);
	fr_daemon_retire_client(d, c);
	fr_daemon_publish_rearm(d);
	fr_info("client '%s' unregistered by pid %d", id, (int)peer->pid);
	return 0;
}

static int fr_daemon_h_snapshot(void *ctx, const char *id, struct fr_ctl_snapshot_reply *out)
{
	struct fr_daemon *d = ctx;
	struct fr_daemon_client *c = fr_daemon_find_client(d, id);
	int rc;

	if (!c)
		return -ENOENT;
	/* The snapshot must hold everything closed up to this request: drain the kernel first. No build runs here
	 * and every build applied its deferred stores when it ended, so these records reach the state now, before
	 * the read; those the build's pump drains closed after it and wait for the next snapshot. */
	fr_tracer_consume(d->tracer);
	fr_events_flush_sp(&d->events);
	rc = fr_daemon_publish_snapshot(d, c, fr_now_ns());
	if (rc)
		return rc;
	out->generation = c->w.region.hdr->generation;
	out->seq = c->w.next - 1;
	out->slot = (uint32_t)(out->seq % c->w.slots);
	out->records = (uint32_t)c->w.count;
	return 0;
}

static int fr_daemon_h_stats(void *ctx, struct fr_ctl_reply *r)
{
	struct fr_daemon *d = ctx;
	const struct fr_telemetry *t = &d->events.telemetry;
	int rc = 0;

	for (uint32_t i = 0; i < t->count && !rc; i++)
		if (t->entries[i].name[0])
			rc = fr_ctl_reply_add_stat(r, t->entries[i].name, fr_telemetry_get(t, i));
	return rc;
}

struct fr_daemon_clients_ctx {
	struct fr_ctl_reply *r;
	uint64_t now;
};

static int fr_daemon_client_item(void *ctx, const struct fr_state_client_stats *cs)
{
	struct fr_daemon_clients_ctx *cc = ctx;
	struct fr_ctl_client_item it = {0};
	uint64_t last = cs->last_read_ns ? cs->last_read_ns : cs->registered_ns;

	/* registered ids came through the control protocol, so they fit FR_CTL_ID_MAX */
	snprintf(it.id, sizeof(it.id), "%.*s", (int)FR_CTL_ID_MAX, cs->id);
	it.keys = cs->tracked;
	it.closed = cs->closed;
	it.idle_ms = cc->now > last ? (cc->now - last) / 1000000ull : 0;
	return fr_ctl_reply_add_client(cc->r, &it);
}

static int fr_daemon_h_clients(void *ctx, struct fr_ctl_reply *r)
{
	struct fr_daemon *d = ctx;
	struct fr_state_stats ss;
	struct fr_daemon_clients_ctx cc = {r, fr_now_ns()};

	return fr_state_stats_mc(d->state, &ss, fr_daemon_client_item, &cc);
}

static int fr_daemon_dump_item(void *ctx, const char *key, const struct fr_state_totals *t)
{
	struct fr_ctl_dump_item it = {0};

	snprintf(it.key, sizeof(it.key), "%s", key);
	it.sent = t->sent_bytes;
	it.recv = t->recv_bytes;
	it.retransmits = t->retransmits;
	return fr_ctl_reply_add_dump(ctx, &it);
}

static int fr_daemon_h_dump(void *ctx, const char *id, struct fr_ctl_reply *r)
{
	struct fr_daemon *d = ctx;

	return fr_state_dump_mc(d->state, id, fr_daemon_dump_item, r);
}

void fr_daemon_ctl_handler(struct fr_daemon *d, struct fr_ctl_handler *h)
{
	memset(h, 0, sizeof(*h));
	h->ctx = d;
	h->register_client = fr_daemon_h_register;
	h->unregister_client = fr_daemon_h_unregister;
	h->snapshot = fr_daemon_h_snapshot;
	h->stats = fr_daemon_h_stats;
	h->clients = fr_daemon_h_clients;
	h->dump = fr_daemon_h_dump;
}
