/* state_client.c - the state's clients: registry, register/remove/expire, and storing closed
 * records into each client's buffer. Rules: SEMANTICS.md "A client's view"; threads: state.h. */
#include "state_client.h"

#include <ck_epoch.h>
#include <ck_hs.h>
#include <errno.h>
#include <string.h>

#include "log.h"
#include "state_arena.h"

#define POLL_EVERY 1024u

/* ---- hashing callbacks ---- */

static unsigned long key_hs_hash(const void *obj, unsigned long seed)
{
	return (unsigned long)fr_conn_key_hash_packed(obj, seed);
}

static bool key_hs_cmp(const void *slot, const void *key)
{
	return fr_conn_key_equal_packed(slot, key);
}

static unsigned long id_hash(const char *s, unsigned long seed)
{
	uint64_t h = 0xcbf29ce484222325ull ^ seed;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return (unsigned long)(h ^ (h >> 29));
}

static unsigned long client_hs_hash(const void *obj, unsigned long seed)
{
	return id_hash(obj, seed);
}

static bool client_hs_cmp(const void *slot, const void *key)
{
	const struct fr_client *c = slot;
	/* pairs with the release store of ready in fr_state_register_sp */
	if (!__atomic_load_n(&c->ready, __ATOMIC_ACQUIRE))
		return false;
	return strcmp(c->id, key) == 0;
}

int fr_state_clients_init_sp(struct fr_state *st)
{
	if (!ck_hs_init(&st->clients, CK_HS_MODE_SPMC | CK_HS_MODE_OBJECT, client_hs_hash, client_hs_cmp, &st->alloc,
			16, st->seed))
		return -ENOMEM;
	return 0;
}

/* ---- clients ---- */

bool fr_state_client_id_valid(const char *id)
{
	size_t n;
	if (!id)
		return false;
	n = strnlen(id, FR_STATE_CLIENT_ID_MAX);
	if (n == 0 || n >= FR_STATE_CLIENT_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (id[i] <= ' ' || id[i] > '~')
			return false;
	return true;
}

struct fr_client *fr_state_client_find(struct fr_state *st, const char *id)
{
	if (!fr_state_client_id_valid(id))
		return NULL;
	return ck_hs_get(&st->clients, id_hash(id, st->seed), id);
}

/* Runs after the grace period: no reader can still see the client or its remembered keys. */
static void client_destroy_cb(ck_epoch_entry_t *e)
{
	struct fr_client *c = (struct fr_client *)((char *)e - offsetof(struct fr_client, ep));
	struct fr_state *st = c->st;
	ck_hs_iterator_t it = CK_HS_ITERATOR_INITIALIZER;
	void *obj;

	fr_state_writer_enter_sp(st);
	st->pending_frees--; /* taken in fr_state_client_unlink_sp */
	(void)__atomic_load_n(&st->reader_sync, __ATOMIC_ACQUIRE); /* pairs with fr_state_reader_leave_mc */
	while (ck_hs_next(&c->seen, &it, &obj))
		fr_state_mem_free_sp(obj, false);
	ck_hs_destroy(&c->seen);
	fr_state_mem_free_sp(c, false);
}

void fr_state_client_unlink_sp(struct fr_state *st, struct fr_client *c)
{
	ck_hs_iterator_t it = CK_HS_ITERATOR_INITIALIZER;
	void *obj;

	ck_hs_remove(&st->clients, id_hash(c->id, st->seed), c->id);
	*c->pprev = c->next;
	if (c->next)
		c->next->pprev = c->pprev;
	st->nclients--;
	/* the closed buffer is writer-only: release it now */
	while (ck_hs_next(&c->closed, &it, &obj))
		fr_state_arena_unref_sp(st, obj);
	ck_hs_destroy(&c->closed);
	cnt_sub(&st->stats.closed_buffered_current, c->n_closed);
	cnt_sub(&st->stats.tracked_current, c->n_seen);
	cnt_sub(&st->stats.clients_current, 1);
	st->pending_frees++;
	ck_epoch_call(&st->wrec, &c->ep, client_destroy_cb);
}

int fr_state_register_sp(struct fr_state *st, const char *id, uint64_t now_ns)
{
	struct fr_client *c;
	unsigned int mode = CK_HS_MODE_SPMC | CK_HS_MODE_OBJECT | CK_HS_MODE_DELETE;

	fr_state_writer_enter_sp(st);
	if (!fr_state_client_id_valid(id))
		return -EINVAL;
	if (fr_state_client_find(st, id))
		return -EEXIST;
	if (st->nclients >= st->cfg.max_clients)
		return -ENOSPC;
	c = fr_state_mem_alloc_sp(st, sizeof(*c));
	if (!c)
		return -ENOMEM;
	memset(c, 0, sizeof(*c));
	strcpy(c->id, id);
	c->st = st;
	c->registered_ns = now_ns;
	if (!ck_hs_init(&c->seen, mode, key_hs_hash, key_hs_cmp, &st->alloc, FR_STATE_TABLE_MIN, st->seed))
		goto fail_seen;
	if (!ck_hs_init(&c->closed, mode, key_hs_hash, key_hs_cmp, &st->alloc, FR_STATE_TABLE_MIN, st->seed))
		goto fail_closed;
	/* pairs with the acquire load in client_hs_cmp and the *_mc walks */
	__atomic_store_n(&c->ready, 1, __ATOMIC_RELEASE);
	if (!ck_hs_put(&st->clients, id_hash(id, st->seed), c))
		goto fail_put;
	c->next = st->list;
	if (st->list)
		st->list->pprev = &c->next;
	c->pprev = &st->list;
	st->list = c;
	st->nclients++;
	cnt_add(&st->stats.clients_registered, 1);
	cnt_add(&st->stats.clients_current, 1);
	return 0;
fail_put:
	ck_hs_destroy(&c->closed);
fail_closed:
	ck_hs_destroy(&c->seen);
fail_seen:
	fr_state_mem_free_sp(c, false);
	return -ENOMEM;
}

int fr_state_remove_client_sp(struct fr_state *st, const char *id)
{
	struct fr_client *c;

	fr_state_writer_enter_sp(st);
	c = fr_state_client_find(st, id);
	if (!c)
		return -ENOENT;
	fr_state_client_unlink_sp(st, c);
	cnt_add(&st->stats.clients_removed, 1);
	ck_epoch_poll(&st->wrec);
	return 0;
}

int fr_state_expire_sp(struct fr_state *st, uint64_t now_ns)
{
	struct fr_client *c, *next;
	int n = 0;

	fr_state_writer_enter_sp(st);
	for (c = st->list; c; c = next) {
		uint64_t last = c->reads ? c->last_read_ns : c->registered_ns;
		next = c->next;
		if (now_ns >= last && now_ns - last >= st->cfg.client_expiry_ns) {
			fr_info("state: client %s expired (no read for %llu ms)", c->id,
				(unsigned long long)((now_ns - last) / 1000000u));
			fr_state_client_unlink_sp(st, c);
			cnt_add(&st->stats.clients_expired, 1);
			n++;
		}
	}
	fr_state_reclaim_sp(st);
	return n;
}

/* ---- store ---- */

/* One client's side of a store, run by ck_hs_apply with the buffered record of the key (or NULL):
 * a single probe both finds the key and inserts or replaces. Returns what the slot should hold. */
struct store_op {
	struct fr_state *st;
	struct fr_client *cl;
	const struct fr_conn *closed;
	const uint8_t *shared; /* the record packed once for every client that appends it */
	const uint8_t *replaced;
	int result; /* 0 nothing, 1 appended, 2 merged, -ENOMEM */
};

/* Copy-on-merge: the buffered record may be shared with other clients, so the sum is a new record. */
static const uint8_t *merge_closed(struct fr_state *st, const uint8_t *old, const struct fr_conn *newer)
{
	struct fr_conn m, o;
	const uint8_t *rec;

	fr_conn_unpack(old, &o);
	m = *newer;
	fr_state_conn_sum_into(&m, &o);
	if (o.start_ns && (!m.start_ns || o.start_ns < m.start_ns))
		m.start_ns = o.start_ns; /* the pair started when the first one did */
	rec = fr_state_arena_store_sp(st, &m);
	if (rec)
		fr_state_arena_ref_sp(rec);
	return rec;
}

static void *store_apply(void *existing, void *arg)
{
	struct store_op *op = arg;
	struct fr_state *st = op->st;
	const uint8_t *rec;

	if (existing) {
		if (op->closed->last_update_ns <= fr_conn_packed_last_update(existing)) {
			cnt_add(&st->stats.unordered_conns, 1);
			return existing;
		}
		rec = merge_closed(st, existing, op->closed);
		if (!rec) {
			op->result = -ENOMEM;
			return existing; /* the old record stays buffered */
		}
		op->replaced = existing;
		op->result = 2;
		return (void *)rec;
	}
	if (op->cl->n_closed >= st->cfg.max_closed) {
		cnt_add(&st->stats.closed_dropped, 1);
		return NULL; /* never evict: the new record is the one dropped */
	}
	if (!op->shared) {
		op->shared = fr_state_arena_store_sp(st, op->closed);
		if (!op->shared) {
			op->result = -ENOMEM;
			return NULL;
		}
	}
	fr_state_arena_ref_sp(op->shared); /* before anything can retire its chunk */
	op->result = 1;
	return (void *)op->shared;
}

int fr_state_store_closed_sp(struct fr_state *st, const struct fr_conn *closed)
{
	struct store_op op = { .st = st, .closed = closed };
	struct fr_conn_key k;
	uint64_t h;
	int n = 0;

	fr_state_writer_enter_sp(st);
	cnt_add(&st->stats.closed_stored, 1);
	if (!st->list)
		return 0;
	fr_conn_key_from_conn(&k, closed);
	h = fr_conn_key_hash(&k, st->seed);
	for (op.cl = st->list; op.cl; op.cl = op.cl->next) {
		op.result = 0;
		op.replaced = NULL;
		/* false only when the table could not grow, before store_apply ran */
		if (!ck_hs_apply(&op.cl->closed, h, k.b, store_apply, &op) || op.result < 0)
			return -ENOMEM;
		if (op.result == 1) {
			cnt_add(&op.cl->n_closed, 1);
			cnt_add(&st->stats.closed_buffered_current, 1);
		} else if (op.result == 2) {
			fr_state_arena_unref_sp(st, op.replaced);
			cnt_add(&st->stats.closed_merged, 1);
		}
		n += op.result > 0;
	}
	if (++st->stores_since_poll >= POLL_EVERY) {
		st->stores_since_poll = 0;
		fr_state_reclaim_sp(st);
	}
	return n;
}
