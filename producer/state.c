/* state.c - per-client state on Concurrency Kit: lifecycle, the lock-free *_mc readers and the
 * telemetry mapping. The rest of the module: state_arena.c (memory: counting allocator, epoch-
 * deferred frees, arena of packed closed records), state_client.c (clients, store) and
 * state_read.c (reads). Rules: SEMANTICS.md "A client's view"; threads and memory: state.h. */
#include "state.h"

#include <ck_epoch.h>
#include <ck_hs.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "state_arena.h"
#include "state_client.h"
#include "state_internal.h"

void fr_state_count_dns_dropped_sp(struct fr_state *st, uint64_t n)
{
	cnt_add(&st->stats.dns_stats_dropped, n);
}

/* ---- readers ---- */

int fr_state_stats_mc(struct fr_state *st, struct fr_state_stats *out,
		      int (*client_cb)(void *ctx, const struct fr_state_client_stats *c), void *ctx)
{
	const uint64_t *src = (const uint64_t *)&st->stats;
	uint64_t *dst = (uint64_t *)out;
	ck_hs_iterator_t it = CK_HS_ITERATOR_INITIALIZER;
	ck_epoch_record_t *r;
	void *obj;
	int rc = 0;

	_Static_assert(sizeof(*out) % sizeof(uint64_t) == 0, "stats are 64-bit counters only");
	for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
	if (!client_cb)
		return 0;
	r = fr_state_reader_enter_mc(st);
	if (!r)
		return -ENOMEM;
	while (ck_hs_next_spmc(&st->clients, &it, &obj)) {
		const struct fr_client *c = obj;
		struct fr_state_client_stats cs;

		/* pairs with the release store in fr_state_register_sp */
		if (!__atomic_load_n(&c->ready, __ATOMIC_ACQUIRE))
			continue;
		memset(&cs, 0, sizeof(cs));
		memcpy(cs.id, c->id, sizeof(cs.id));
		cs.tracked = __atomic_load_n(&c->n_seen, __ATOMIC_RELAXED);
		cs.closed = __atomic_load_n(&c->n_closed, __ATOMIC_RELAXED);
		cs.registered_ns = c->registered_ns;
		cs.last_read_ns = __atomic_load_n(&c->last_read_ns, __ATOMIC_RELAXED);
		cs.reads = __atomic_load_n(&c->reads, __ATOMIC_RELAXED);
		rc = client_cb(ctx, &cs);
		if (rc)
			break;
	}
	fr_state_reader_leave_mc(st, r);
	return rc;
}

int fr_state_dump_mc(struct fr_state *st, const char *id,
		     int (*cb)(void *ctx, const char *key_text, const struct fr_state_totals *t), void *ctx)
{
	ck_hs_iterator_t it = CK_HS_ITERATOR_INITIALIZER;
	ck_epoch_record_t *r;
	struct fr_client *c;
	void *obj;
	int rc = 0;

	if (!fr_state_client_id_valid(id))
		return -ENOENT;
	r = fr_state_reader_enter_mc(st);
	if (!r)
		return -ENOMEM;
	c = fr_state_client_find(st, id);
	if (!c) {
		rc = -ENOENT;
		goto out;
	}
	while (ck_hs_next_spmc(&c->seen, &it, &obj)) {
		const struct seen *s = obj;
		struct fr_conn_key k;
		struct fr_state_totals t;
		char text[FR_CONN_KEY_TEXT_MAX];

		/* pairs with the release store in remember() (state_read.c) */
		if (!__atomic_load_n(&s->ready, __ATOMIC_ACQUIRE))
			continue;
		memset(&k, 0, sizeof(k));
		memcpy(k.b, s->key, fr_conn_key_len(s->key));
		fr_conn_key_beautify(&k, text, sizeof(text));
		t.sent_bytes = __atomic_load_n(&s->sent_bytes, __ATOMIC_RELAXED);
		t.recv_bytes = __atomic_load_n(&s->recv_bytes, __ATOMIC_RELAXED);
		t.sent_packets = __atomic_load_n(&s->sent_packets, __ATOMIC_RELAXED);
		t.recv_packets = __atomic_load_n(&s->recv_packets, __ATOMIC_RELAXED);
		t.retransmits = __atomic_load_n(&s->retransmits, __ATOMIC_RELAXED);
		rc = cb(ctx, text, &t);
		if (rc)
			break;
	}
out:
	fr_state_reader_leave_mc(st, r);
	return rc;
}

bool fr_state_has_client_mc(struct fr_state *st, const char *id)
{
	ck_epoch_record_t *r;
	bool found;

	if (!fr_state_client_id_valid(id))
		return false;
	r = fr_state_reader_enter_mc(st);
	if (!r)
		return false;
	found = fr_state_client_find(st, id) != NULL;
	fr_state_reader_leave_mc(st, r);
	return found;
}

/* ---- lifecycle ---- */

struct fr_state *fr_state_new_sp(const struct fr_state_config *cfg)
{
	struct fr_state *st = calloc(1, sizeof(*st));

	if (!st) {
		errno = ENOMEM;
		return NULL;
	}
	if (cfg)
		st->cfg = *cfg;
	if (!st->cfg.max_closed)
		st->cfg.max_closed = FR_STATE_DEFAULT_MAX_CLOSED;
	if (!st->cfg.max_tracked)
		st->cfg.max_tracked = FR_STATE_DEFAULT_MAX_TRACKED;
	if (!st->cfg.max_clients)
		st->cfg.max_clients = FR_STATE_DEFAULT_MAX_CLIENTS;
	if (!st->cfg.client_expiry_ns)
		st->cfg.client_expiry_ns = FR_STATE_DEFAULT_CLIENT_EXPIRY_NS;
	/* a per-state random seed: peers choose ports and addresses, they must not choose collisions */
	if (getrandom(&st->seed, sizeof(st->seed), GRND_NONBLOCK) != sizeof(st->seed))
		st->seed = (uint64_t)(uintptr_t)st ^ 0x9e3779b97f4a7c15ull;
	fr_state_mem_init_sp(st);
	ck_epoch_init(&st->epoch);
	ck_epoch_register(&st->epoch, &st->wrec, NULL);
	fr_state_writer_enter_sp(st);
	cnt_add(&st->stats.mem_bytes_current, sizeof(*st));
	if (fr_state_clients_init_sp(st) < 0) {
		ck_epoch_unregister(&st->wrec);
		free(st);
		errno = ENOMEM;
		return NULL;
	}
	return st;
}

void fr_state_free_sp(struct fr_state *st)
{
	ck_stack_entry_t *cursor, *next;

	if (!st)
		return;
	fr_state_writer_enter_sp(st);
	while (st->list)
		fr_state_client_unlink_sp(st, st->list);
	ck_epoch_barrier(&st->wrec); /* runs every deferred free */
	ck_hs_destroy(&st->clients);
	fr_state_arena_release_sp(st);
	/* reader epoch records were allocated by fr_state_reader_enter_mc; only the writer's is embedded */
	for (cursor = CK_STACK_FIRST(&st->epoch.records); cursor; cursor = next) {
		ck_epoch_record_t *r =
			(ck_epoch_record_t *)((char *)cursor - offsetof(ck_epoch_record_t, record_next));
		next = CK_STACK_NEXT(cursor);
		if (r != &st->wrec)
			free(r);
	}
	free(st->scratch);
	free(st);
}

void fr_state_stats_to_telemetry(const struct fr_state_stats *s, uint64_t values[FR_TM__COUNT])
{
	values[FR_TM_STATS_RESETS] = s->stats_resets;
	values[FR_TM_UNORDERED_CONNS] = s->unordered_conns;
	values[FR_TM_CLOSED_DROPPED] = s->closed_dropped;
	values[FR_TM_CONN_DROPPED] = s->conn_dropped;
	values[FR_TM_TIME_SYNC_COLLISIONS] = s->time_sync_collisions;
	values[FR_TM_DNS_STATS_DROPPED] = s->dns_stats_dropped;
	values[FR_TM_CLIENTS_REGISTERED] = s->clients_registered;
	values[FR_TM_CLIENTS_EXPIRED] = s->clients_expired;
	values[FR_TM_CLIENTS_CURRENT] = s->clients_current;
}
