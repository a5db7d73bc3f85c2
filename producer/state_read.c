/* state_read.c - a client's read: merge its closed buffer with the caller's active records, compute
 * last_x deltas against what it remembers, emit, then update the memory (SEMANTICS.md "A client's
 * view"); and RemoveConnections. Writer thread only (state.h). */
#include <ck_hs.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "state_arena.h"
#include "state_client.h"
#include "state_internal.h"

struct counters {
	uint64_t sent_bytes, recv_bytes, sent_packets, recv_packets;
	uint32_t retransmits;
};

static void counters_of(const struct fr_conn *c, struct counters *v)
{
	v->sent_bytes = c->monotonic_sent_bytes;
	v->recv_bytes = c->monotonic_recv_bytes;
	v->sent_packets = c->monotonic_sent_packets;
	v->recv_packets = c->monotonic_recv_packets;
	v->retransmits = c->monotonic_retransmits;
}

/* last_x = monotonic_x - remembered_x; any counter below its memory resets the key (counted). */
static void set_deltas(struct fr_state *st, struct fr_conn *c, const struct seen *s)
{
	if (s && (c->monotonic_sent_bytes < s->sent_bytes || c->monotonic_recv_bytes < s->recv_bytes ||
		  c->monotonic_sent_packets < s->sent_packets || c->monotonic_recv_packets < s->recv_packets ||
		  c->monotonic_retransmits < s->retransmits)) {
		cnt_add(&st->stats.stats_resets, 1);
		s = NULL;
	}
	c->last_sent_bytes = c->monotonic_sent_bytes - (s ? s->sent_bytes : 0);
	c->last_recv_bytes = c->monotonic_recv_bytes - (s ? s->recv_bytes : 0);
	c->last_sent_packets = c->monotonic_sent_packets - (s ? s->sent_packets : 0);
	c->last_recv_packets = c->monotonic_recv_packets - (s ? s->recv_packets : 0);
	c->last_retransmits = c->monotonic_retransmits - (s ? s->retransmits : 0);
}

/* dump_mc reads these concurrently: relaxed atomic stores, each value whole */
static void seen_store(struct seen *s, const struct counters *v)
{
	__atomic_store_n(&s->sent_bytes, v->sent_bytes, __ATOMIC_RELAXED);
	__atomic_store_n(&s->recv_bytes, v->recv_bytes, __ATOMIC_RELAXED);
	__atomic_store_n(&s->sent_packets, v->sent_packets, __ATOMIC_RELAXED);
	__atomic_store_n(&s->recv_packets, v->recv_packets, __ATOMIC_RELAXED);
	__atomic_store_n(&s->retransmits, v->retransmits, __ATOMIC_RELAXED);
}

/* Remember v under the key for this client. A key not yet remembered is admitted while the table
 * holds fewer than limit keys; returns the entry if it was admitted now, else NULL. */
static struct seen *remember(struct fr_state *st, struct fr_client *cl, struct scratch *sc,
			     const struct fr_conn *active, const struct counters *v, uint64_t limit)
{
	struct seen *s = sc->seen;
	struct fr_conn_key key;

	if (!s) {
		if (cl->n_seen >= limit) {
			cnt_add(&st->stats.conn_dropped, 1);
			return NULL;
		}
		s = fr_state_mem_alloc_sp(st, sizeof(*s));
		if (!s) {
			cnt_add(&st->stats.conn_dropped, 1);
			return NULL;
		}
		memset(s, 0, sizeof(*s));
		fr_conn_key_from_conn(&key, active);
		memcpy(s->key, key.b, FR_CONN_KEY_MAX);
		s->gen = cl->gen;
		seen_store(s, v);
		/* pairs with the acquire load in fr_state_dump_mc */
		__atomic_store_n(&s->ready, 1, __ATOMIC_RELEASE);
		if (!ck_hs_put(&cl->seen, sc->hash, s)) {
			/* the same key twice in the active array: update the first one's memory */
			fr_state_mem_free_sp(s, false);
			s = ck_hs_get(&cl->seen, sc->hash, key.b);
			if (s)
				seen_store(s, v);
			else
				cnt_add(&st->stats.conn_dropped, 1);
			return NULL;
		}
		cnt_add(&cl->n_seen, 1);
		cnt_add(&st->stats.tracked_current, 1);
		return s;
	}
	seen_store(s, v);
	return NULL;
}

static void forget(struct fr_state *st, struct fr_client *cl, struct seen *s, uint64_t h)
{
	ck_hs_remove(&cl->seen, h, s->key);
	cnt_sub(&cl->n_seen, 1);
	cnt_sub(&st->stats.tracked_current, 1);
	fr_state_mem_free_sp(s, true);
}

struct emitter {
	struct fr_state *st;
	fr_state_emit_fn fn;
	void *ctx;
	int err;
	long n;
};

static void emit(struct emitter *em, const struct fr_conn *c)
{
	int r;
	if (em->err) {
		cnt_add(&em->st->stats.emit_failed, 1);
		return;
	}
	r = em->fn ? em->fn(em->ctx, c) : 0;
	if (r) {
		em->err = r < 0 ? r : -EIO;
		cnt_add(&em->st->stats.emit_failed, 1);
		return;
	}
	em->n++;
	cnt_add(&em->st->stats.records_emitted, 1);
}

static int scratch_fit(struct fr_state *st, size_t n)
{
	struct scratch *s;
	size_t cap = st->scratch_cap ? st->scratch_cap : 1024;

	if (n <= st->scratch_cap)
		return 0;
	while (cap < n)
		cap *= 2;
	s = realloc(st->scratch, cap * sizeof(*s));
	if (!s)
		return -ENOMEM;
	cnt_add(&st->stats.mem_bytes_current, (cap - st->scratch_cap) * sizeof(*s));
	st->scratch = s;
	st->scratch_cap = cap;
	return 0;
}

/* Closed-table size (a power of two) for n records at ck_hs's load factor of at most 1/2. (A
 * sparser 1/4 was measured: no gain within this machine's noise, 16 B more per record.) */
static unsigned long table_size_for(unsigned long n)
{
	unsigned long cap = FR_STATE_TABLE_MIN;
	while (cap < n * 2)
		cap *= 2;
	return cap;
}

/* Closed records without an active twin: report them against the memory, empty the buffer, then
 * drop the references. The records stay alive until the table no longer points at them, so an
 * allocation failure of the reset can fall back to removing them one by one. Their pointers are
 * kept in the scratch array from index base on. */
static void emit_unmatched_closed(struct fr_state *st, struct fr_client *cl, struct emitter *em, size_t base)
{
	ck_hs_iterator_t it = CK_HS_ITERATOR_INITIALIZER;
	unsigned long peak = cl->n_closed;
	size_t n = 0;
	void *obj;

	while (ck_hs_next(&cl->closed, &it, &obj)) {
		const uint8_t *rec = obj;
		struct seen *s = cl->n_seen ? ck_hs_get(&cl->seen, fr_conn_key_hash_packed(rec, st->seed), rec) : NULL;
		struct fr_conn c;

		fr_conn_unpack(rec, &c);
		set_deltas(st, &c, s);
		emit(em, &c);
		st->scratch[base + n++].closed = rec;
	}
	/* a client usually gets as many closed records per read as last time: keep room for them
	 * rather than growing through every power of two again */
	if (!ck_hs_reset_size(&cl->closed, table_size_for(peak)) &&
	    !ck_hs_reset_size(&cl->closed, FR_STATE_TABLE_MIN)) {
		fr_warn("state: client %s: out of memory emptying its closed buffer, removing one by one", cl->id);
		for (size_t i = base; i < base + n; i++)
			ck_hs_remove(&cl->closed, fr_conn_key_hash_packed(st->scratch[i].closed, st->seed),
				     st->scratch[i].closed);
	}
	for (size_t i = base; i < base + n; i++)
		fr_state_arena_unref_sp(st, st->scratch[i].closed);
	cnt_sub(&st->stats.closed_buffered_current, n);
	__atomic_store_n(&cl->n_closed, 0, __ATOMIC_RELAXED);
}

/* Forget every remembered key not seen active in this read (generation != cl->gen). The victims
 * are collected in the scratch array past the base entries the read still needs. */
static void prune_seen(struct fr_state *st, struct fr_client *cl, size_t base)
{
	ck_hs_iterator_t it = CK_HS_ITERATOR_INITIALIZER;
	struct ck_hs_stat hst;
	void *obj;
	size_t n = 0;

	/* collect first: ck_hs_next over a table being removed from is not promised to be stable */
	while (ck_hs_next(&cl->seen, &it, &obj)) {
		struct seen *s = obj;
		if (s->gen != cl->gen)
			st->scratch[base + n++].seen = s;
	}
	for (size_t i = base; i < base + n; i++) {
		struct seen *s = st->scratch[i].seen;
		forget(st, cl, s, fr_conn_key_hash_packed(s->key, st->seed));
	}
	ck_hs_stat(&cl->seen, &hst);
	if (hst.tombstones > FR_STATE_TABLE_MIN && hst.tombstones > hst.n_entries)
		ck_hs_rebuild(&cl->seen); /* readers keep the old map until the grace period ends */
}

long fr_state_read_bound_sp(struct fr_state *st, const char *id, size_t n_active)
{
	struct fr_client *cl;
	fr_state_writer_enter_sp(st);
	cl = fr_state_client_find(st, id);
	return cl ? (long)(n_active + cl->n_closed) : -ENOENT;
}

/* Step 1 for one active record: its hash, its memory (marked live for this read) and its buffered
 * closed twin, which leaves the buffer here (one probe: remove returns it). Returns 1 if it marked
 * a remembered key live for the first time in this read. */
static int lookup_active(struct fr_state *st, struct fr_client *cl, const struct fr_conn *a, struct scratch *sc)
{
	struct fr_conn_key key;
	int marked = 0;

	fr_conn_key_from_conn(&key, a);
	sc->hash = fr_conn_key_hash(&key, st->seed);
	sc->seen = cl->n_seen ? ck_hs_get(&cl->seen, sc->hash, key.b) : NULL;
	if (sc->seen && sc->seen->gen != cl->gen) {
		sc->seen->gen = cl->gen;
		marked = 1;
	}
	sc->closed = cl->n_closed ? ck_hs_remove(&cl->closed, sc->hash, key.b) : NULL;
	if (sc->closed) {
		cnt_sub(&cl->n_closed, 1);
		cnt_sub(&st->stats.closed_buffered_current, 1);
	}
	return marked;
}

/* Step 4 for one active record: merged with its closed twin or alone, deltas, memory, emit.
 * Returns the memory entry if the key was admitted now. */
static struct seen *report_active(struct fr_state *st, struct fr_client *cl, const struct fr_conn *a,
				  struct scratch *sc, struct emitter *em, uint64_t limit)
{
	struct seen *admitted;
	struct fr_conn out;
	struct counters keep;

	if (sc->closed) {
		fr_conn_unpack(sc->closed, &out);
		if (out.last_update_ns < a->last_update_ns) {
			/* closed, then re-opened under the same key: one record, counters summed */
			fr_state_conn_sum_into(&out, a);
			counters_of(a, &keep);
		} else {
			if (out.last_update_ns == a->last_update_ns)
				cnt_add(&st->stats.time_sync_collisions, 1);
			counters_of(&out, &keep); /* the active record is stale */
		}
		fr_state_arena_unref_sp(st, sc->closed);
	} else {
		out = *a;
		counters_of(&out, &keep);
	}
	set_deltas(st, &out, sc->seen);
	admitted = remember(st, cl, sc, a, &keep, limit);
	emit(em, &out);
	return admitted;
}

long fr_state_read_sp(struct fr_state *st, const char *id, uint64_t now_ns, const struct fr_conn *active,
		      size_t n_active, fr_state_emit_fn fn, void *ctx)
{
	struct emitter em = { .st = st, .fn = fn, .ctx = ctx };
	struct fr_client *cl;
	size_t marked = 0, admitted = 0, seen_before;
	uint64_t limit;

	fr_state_writer_enter_sp(st);
	if (!active && n_active)
		return -EINVAL;
	cl = fr_state_client_find(st, id);
	if (!cl)
		return -ENOENT;
	/* scratch: the keys admitted by this read (in array order), then steps 2 and 3's pointers */
	if (scratch_fit(st, n_active + (cl->n_seen > cl->n_closed ? cl->n_seen : cl->n_closed) + 1) < 0)
		return -ENOMEM;
	/* Room for the active keys at once: growing through each power of two rehashes the whole table
	 * each time, inside the read (70-150 ms at 2^18-2^19 keys, a stall of the daemon's loop thread:
	 * docs/benchmarks/scale.md (f)), while one grow of a table that holds few keys is an allocation
	 * whose pages fault in as the keys arrive. ck_hs_grow rebuilds the table unless its capacity is
	 * strictly larger than asked, and rounds the size up to a power of two: asking for one slot less
	 * than the power of two we want makes it a no-op once the table has that size. Best effort: if
	 * it fails, the puts grow the table as before. */
	if (n_active > ck_hs_count(&cl->seen))
		ck_hs_grow(&cl->seen,
			   table_size_for(n_active < st->cfg.max_tracked ? n_active : st->cfg.max_tracked) - 1);
	cl->gen++;
	seen_before = cl->n_seen;
	/* Keys that stop being active are only forgotten after this pass, so it may admit up to
	 * seen_before keys past max_tracked for a moment; the trim below restores the cap exactly. */
	limit = (uint64_t)st->cfg.max_tracked + seen_before;

	/* 1 + 4 in one pass over the active records (each record and memory entry touched once). */
	for (size_t i = 0; i < n_active; i++) {
		struct scratch sc;
		struct seen *s;

		marked += (size_t)lookup_active(st, cl, &active[i], &sc);
		s = report_active(st, cl, &active[i], &sc, &em, limit);
		if (s)
			st->scratch[admitted++].seen = s;
	}
	/* 2. Closed records with no active twin, against the memory (untouched for their keys:
	 * they are not active); the buffer empties. */
	if (cl->n_closed)
		emit_unmatched_closed(st, cl, &em, admitted);
	/* 3. Forget keys that are no longer active: everything but the marked and admitted ones. */
	if (marked != seen_before)
		prune_seen(st, cl, admitted);
	/* max_tracked: keep the keys that survive plus the first admitted ones in array order, as if
	 * the stale keys had been forgotten before admitting; the rest are not remembered. */
	while (cl->n_seen > st->cfg.max_tracked && admitted > 0) {
		struct seen *s = st->scratch[--admitted].seen;
		forget(st, cl, s, fr_conn_key_hash_packed(s->key, st->seed));
		cnt_add(&st->stats.conn_dropped, 1);
	}
	__atomic_store_n(&cl->last_read_ns, now_ns, __ATOMIC_RELAXED);
	cnt_add(&cl->reads, 1);
	fr_state_reclaim_sp(st);
	return em.err ? em.err : em.n;
}

long fr_state_remove_conns_sp(struct fr_state *st, const struct fr_conn_key *keys, size_t n)
{
	long removed = 0;

	fr_state_writer_enter_sp(st);
	for (struct fr_client *cl = st->list; cl; cl = cl->next) {
		for (size_t i = 0; i < n && cl->n_seen; i++) {
			uint64_t h = fr_conn_key_hash(&keys[i], st->seed);
			struct seen *s = ck_hs_get(&cl->seen, h, keys[i].b);
			if (s) {
				forget(st, cl, s, h);
				removed++;
			}
		}
	}
	fr_state_reclaim_sp(st);
	return removed;
}
