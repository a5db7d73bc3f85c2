/* state.c - per-client state on Concurrency Kit: ck_hs tables, ck_epoch frees, a shared arena of
 * packed closed records. Rules: SEMANTICS.md "A client's view"; threads and memory: state.h. */
#include "state.h"

#include <ck_epoch.h>
#include <ck_hs.h>
#include <ck_pr.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "log.h"

#define ARENA_CHUNK (16u * 1024u) /* aligned to its size: a record finds its chunk by masking */
#define TABLE_MIN 64u
#define POLL_EVERY 1024u
#define ARENA_SPARE 64u /* up to 1 MiB of empty chunks kept instead of churning malloc */

/* ---- counting allocator with epoch-deferred free (ck_malloc has no context argument) ---- */

/* ck_malloc callbacks get no context, so the writer's entry points name the state they run for;
 * only the writer thread mutates tables, hence only it allocates or frees through them. */
static __thread struct fr_state *tls_writer;

struct blk {
	ck_epoch_entry_t ep;
	struct fr_state *st;
	size_t size;
	uint64_t pad; /* keeps the payload 16-byte aligned */
};

struct fr_client;

struct fr_state {
	struct fr_state_config cfg;
	uint64_t seed;
	ck_epoch_t epoch;
	ck_epoch_record_t wrec; /* the writer's */
	struct ck_malloc alloc;
	ck_hs_t clients; /* id -> struct fr_client; read by *_mc */
	struct fr_client *list; /* writer-only list of the same clients */
	uint32_t nclients;
	uint8_t *tail;         /* arena chunk new records are appended to */
	void *spare[ARENA_SPARE]; /* emptied chunks kept for reuse: a read empties many at once */
	uint32_t nspare;
	uint32_t pending_frees;
	uint32_t stores_since_poll;
	struct scratch *scratch; /* per-active working array of a read (writer-only) */
	size_t scratch_cap;
	/* Readers add to this after each epoch section (release); the writer loads it (acquire) before
	 * freeing. ck_epoch already orders the two; this edge is the one ThreadSanitizer can see. */
	uint64_t reader_sync;
	struct fr_state_stats stats; /* written by the writer with relaxed atomics, read by *_mc */
};

/* A remembered key of a client. The packed key comes first: ck_hs hashes and compares through it. */
struct seen {
	uint8_t key[FR_CONN_KEY_MAX];
	uint8_t ready; /* release-stored after init, acquire-loaded by readers (see reader_sync) */
	uint32_t gen;  /* writer-only: read generation that last saw the key active */
	uint32_t retransmits;
	uint64_t sent_bytes, recv_bytes, sent_packets, recv_packets;
};

struct fr_client {
	char id[FR_STATE_CLIENT_ID_MAX]; /* first: the clients table compares through it */
	int ready;                       /* release-stored before publication */
	ck_hs_t seen;                    /* key -> struct seen; read by fr_state_dump_mc */
	ck_hs_t closed;                  /* key -> packed record in the arena; writer-only */
	uint64_t registered_ns;
	uint64_t last_read_ns; /* atomics below: written by the writer, read by *_mc */
	uint64_t reads;
	uint64_t n_seen;
	uint64_t n_closed;
	uint32_t gen;
	struct fr_client *next, **pprev;
	ck_epoch_entry_t ep;
	struct fr_state *st;
};

/* Per active record during a read: 24 bytes, so a 100k-record read streams 2.4 MB, not 7 MB
 * (the key is rebuilt from the record in the rare case it is needed again). */
struct scratch {
	uint64_t hash;
	struct seen *seen;
	const uint8_t *closed;
};

static inline void cnt_add(uint64_t *p, uint64_t n)
{
	/* single writer: a relaxed load+store is an exact increment readers see whole */
	__atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static inline void cnt_sub(uint64_t *p, uint64_t n)
{
	__atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) - n, __ATOMIC_RELAXED);
}

static void *mem_alloc(struct fr_state *st, size_t size)
{
	struct blk *b = malloc(sizeof(*b) + size);
	if (!b)
		return NULL;
	b->st = st;
	b->size = size;
	cnt_add(&st->stats.mem_bytes_current, sizeof(*b) + size);
	return b + 1;
}

static void blk_free_now(struct blk *b)
{
	struct fr_state *st = b->st;
	/* pairs with the release add in reader_leave: every reader section that ended is ordered
	 * before this free (ck_epoch guarantees the sections that could see the object ended) */
	(void)__atomic_load_n(&st->reader_sync, __ATOMIC_ACQUIRE);
	cnt_sub(&st->stats.mem_bytes_current, sizeof(*b) + b->size);
	if (st->pending_frees)
		st->pending_frees--;
	free(b);
}

static void blk_epoch_cb(ck_epoch_entry_t *e)
{
	blk_free_now((struct blk *)e);
}

static void mem_free(void *p, bool defer)
{
	struct blk *b;
	if (!p)
		return;
	b = (struct blk *)p - 1;
	if (!defer) {
		b->st->pending_frees++;
		blk_free_now(b);
		return;
	}
	b->st->pending_frees++;
	ck_epoch_call(&b->st->wrec, &b->ep, blk_epoch_cb);
}

static void *hs_malloc(size_t size)
{
	return mem_alloc(tls_writer, size);
}

static void hs_free(void *p, size_t size, bool defer)
{
	(void)size;
	mem_free(p, defer);
}

static void *hs_realloc(void *p, size_t old, size_t size, bool defer)
{
	void *n = hs_malloc(size);
	if (n && p)
		memcpy(n, p, old < size ? old : size);
	if (n)
		hs_free(p, old, defer);
	return n;
}

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

/* ---- arena of packed closed records ---- */

struct chunk {
	uint32_t refs; /* client references to records in this chunk */
	uint32_t used; /* bytes used, header included */
};

static inline struct chunk *chunk_of(const uint8_t *rec)
{
	return (struct chunk *)((uintptr_t)rec & ~(uintptr_t)(ARENA_CHUNK - 1));
}

static void chunk_free(struct fr_state *st, struct chunk *c)
{
	if (st->nspare < ARENA_SPARE) {
		st->spare[st->nspare++] = c;
		return;
	}
	cnt_sub(&st->stats.arena_bytes_current, ARENA_CHUNK);
	cnt_sub(&st->stats.mem_bytes_current, ARENA_CHUNK);
	free(c);
}

/* Room for one more record of up to FR_CONN_PACKED_MAX bytes in the tail chunk. */
static uint8_t *arena_reserve(struct fr_state *st)
{
	struct chunk *c = (struct chunk *)st->tail;
	void *mem;

	if (c && c->used + FR_CONN_PACKED_MAX <= ARENA_CHUNK)
		return st->tail + c->used;
	if (c && c->refs == 0) {
		c->used = sizeof(*c); /* nothing references it: reuse it in place */
		return st->tail + c->used;
	}
	/* a retired chunk with references is freed by the last arena_unref */
	if (st->nspare) {
		mem = st->spare[--st->nspare];
	} else {
		if (posix_memalign(&mem, ARENA_CHUNK, ARENA_CHUNK) != 0)
			return NULL;
		cnt_add(&st->stats.arena_bytes_current, ARENA_CHUNK);
		cnt_add(&st->stats.mem_bytes_current, ARENA_CHUNK);
	}
	c = mem;
	c->refs = 0;
	c->used = sizeof(*c);
	st->tail = mem;
	return st->tail + c->used;
}

/* Commit len bytes at rec (returned by arena_reserve), 4-byte aligned for the next one. */
static void arena_commit(struct fr_state *st, size_t len)
{
	struct chunk *c = (struct chunk *)st->tail;
	c->used += (uint32_t)((len + 3u) & ~3u);
}

static void arena_ref(const uint8_t *rec)
{
	chunk_of(rec)->refs++;
}

static void arena_unref(struct fr_state *st, const uint8_t *rec)
{
	struct chunk *c = chunk_of(rec);
	if (--c->refs == 0 && (uint8_t *)c != st->tail)
		chunk_free(st, c);
}

/* Pack a record into the arena; NULL on ENOMEM. The caller references it at once. */
static const uint8_t *arena_store(struct fr_state *st, const struct fr_conn *c)
{
	uint8_t *p = arena_reserve(st);
	if (!p)
		return NULL;
	arena_commit(st, fr_conn_pack(c, p));
	return p;
}

/* ---- epoch helpers ---- */

static ck_epoch_record_t *reader_enter(struct fr_state *st)
{
	ck_epoch_record_t *r = ck_epoch_recycle(&st->epoch, NULL);
	if (!r) {
		/* freed by fr_state_free_sp, which walks the epoch's record list */
		r = calloc(1, sizeof(*r));
		if (!r)
			return NULL;
		ck_epoch_register(&st->epoch, r, NULL);
	}
	/* A recycled record was last used by another reader thread; ck_epoch_recycle's CAS orders
	 * that use before ours. This acquire (pairing with the release add in reader_leave, which
	 * precedes ck_epoch_unregister) states the same edge in a form ThreadSanitizer sees. */
	(void)__atomic_load_n(&st->reader_sync, __ATOMIC_ACQUIRE);
	ck_epoch_begin(r, NULL);
	return r;
}

static void reader_leave(struct fr_state *st, ck_epoch_record_t *r)
{
	/* Pairs with the acquire loads in blk_free_now, client_destroy_cb and reader_enter. It comes
	 * BEFORE ck_epoch_end: a writer that sees this section ended (and so may free what it read)
	 * is then certain to read this add or a later one, so ThreadSanitizer sees the edge too. */
	__atomic_fetch_add(&st->reader_sync, 1, __ATOMIC_RELEASE);
	ck_epoch_end(r, NULL);
	ck_epoch_unregister(r);
}

void fr_state_reclaim_sp(struct fr_state *st)
{
	tls_writer = st;
	if (st->pending_frees)
		ck_epoch_poll(&st->wrec);
}


/* ---- clients ---- */

static bool valid_id(const char *id)
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

static struct fr_client *client_get(struct fr_state *st, const char *id)
{
	if (!valid_id(id))
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

	tls_writer = st;
	st->pending_frees--; /* taken in client_unlink */
	(void)__atomic_load_n(&st->reader_sync, __ATOMIC_ACQUIRE); /* pairs with reader_leave */
	while (ck_hs_next(&c->seen, &it, &obj))
		mem_free(obj, false);
	ck_hs_destroy(&c->seen);
	mem_free(c, false);
}

static void client_unlink(struct fr_state *st, struct fr_client *c)
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
		arena_unref(st, obj);
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

	tls_writer = st;
	if (!valid_id(id))
		return -EINVAL;
	if (client_get(st, id))
		return -EEXIST;
	if (st->nclients >= st->cfg.max_clients)
		return -ENOSPC;
	c = mem_alloc(st, sizeof(*c));
	if (!c)
		return -ENOMEM;
	memset(c, 0, sizeof(*c));
	strcpy(c->id, id);
	c->st = st;
	c->registered_ns = now_ns;
	if (!ck_hs_init(&c->seen, mode, key_hs_hash, key_hs_cmp, &st->alloc, TABLE_MIN, st->seed))
		goto fail_seen;
	if (!ck_hs_init(&c->closed, mode, key_hs_hash, key_hs_cmp, &st->alloc, TABLE_MIN, st->seed))
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
	mem_free(c, false);
	return -ENOMEM;
}

int fr_state_remove_client_sp(struct fr_state *st, const char *id)
{
	struct fr_client *c;

	tls_writer = st;
	c = client_get(st, id);
	if (!c)
		return -ENOENT;
	client_unlink(st, c);
	cnt_add(&st->stats.clients_removed, 1);
	ck_epoch_poll(&st->wrec);
	return 0;
}

int fr_state_expire_sp(struct fr_state *st, uint64_t now_ns)
{
	struct fr_client *c, *next;
	int n = 0;

	tls_writer = st;
	for (c = st->list; c; c = next) {
		uint64_t last = c->reads ? c->last_read_ns : c->registered_ns;
		next = c->next;
		if (now_ns >= last && now_ns - last >= st->cfg.client_expiry_ns) {
			fr_info("state: client %s expired (no read for %llu ms)", c->id,
				(unsigned long long)((now_ns - last) / 1000000u));
			client_unlink(st, c);
			cnt_add(&st->stats.clients_expired, 1);
			n++;
		}
	}
	fr_state_reclaim_sp(st);
	return n;
}

/* ---- store ---- */

static void sum_into(struct fr_conn *dst, const struct fr_conn *add)
{
	dst->monotonic_sent_bytes += add->monotonic_sent_bytes;
	dst->monotonic_recv_bytes += add->monotonic_recv_bytes;
	dst->monotonic_sent_packets += add->monotonic_sent_packets;
	dst->monotonic_recv_packets += add->monotonic_recv_packets;
	dst->monotonic_retransmits += add->monotonic_retransmits;
	dst->dns_successful_responses += add->dns_successful_responses;
	dst->dns_failed_responses += add->dns_failed_responses;
	dst->dns_timeouts += add->dns_timeouts;
	dst->dns_success_latency_sum += add->dns_success_latency_sum;
	dst->dns_failure_latency_sum += add->dns_failure_latency_sum;
	dst->flags |= FR_CONN_F_MERGED;
}

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
	sum_into(&m, &o);
	if (o.start_ns && (!m.start_ns || o.start_ns < m.start_ns))
		m.start_ns = o.start_ns; /* the pair started when the first one did */
	rec = arena_store(st, &m);
	if (rec)
		arena_ref(rec);
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
		op->shared = arena_store(st, op->closed);
		if (!op->shared) {
			op->result = -ENOMEM;
			return NULL;
		}
	}
	arena_ref(op->shared); /* before anything can retire its chunk */
	op->result = 1;
	return (void *)op->shared;
}

int fr_state_store_closed_sp(struct fr_state *st, const struct fr_conn *closed)
{
	struct store_op op = { .st = st, .closed = closed };
	struct fr_conn_key k;
	uint64_t h;
	int n = 0;

	tls_writer = st;
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
			arena_unref(st, op.replaced);
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

void fr_state_count_dns_dropped_sp(struct fr_state *st, uint64_t n)
{
	cnt_add(&st->stats.dns_stats_dropped, n);
}

/* ---- read ---- */

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
		s = mem_alloc(st, sizeof(*s));
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
			mem_free(s, false);
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
	mem_free(s, true);
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
	unsigned long cap = TABLE_MIN;
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
	if (!ck_hs_reset_size(&cl->closed, table_size_for(peak)) && !ck_hs_reset_size(&cl->closed, TABLE_MIN)) {
		fr_warn("state: client %s: out of memory emptying its closed buffer, removing one by one", cl->id);
		for (size_t i = base; i < base + n; i++)
			ck_hs_remove(&cl->closed, fr_conn_key_hash_packed(st->scratch[i].closed, st->seed),
				     st->scratch[i].closed);
	}
	for (size_t i = base; i < base + n; i++)
		arena_unref(st, st->scratch[i].closed);
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
	if (hst.tombstones > TABLE_MIN && hst.tombstones > hst.n_entries)
		ck_hs_rebuild(&cl->seen); /* readers keep the old map until the grace period ends */
}

long fr_state_read_bound_sp(struct fr_state *st, const char *id, size_t n_active)
{
	struct fr_client *cl;
	tls_writer = st;
	cl = client_get(st, id);
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
			sum_into(&out, a);
			counters_of(a, &keep);
		} else {
			if (out.last_update_ns == a->last_update_ns)
				cnt_add(&st->stats.time_sync_collisions, 1);
			counters_of(&out, &keep); /* the active record is stale */
		}
		arena_unref(st, sc->closed);
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

	tls_writer = st;
	if (!active && n_active)
		return -EINVAL;
	cl = client_get(st, id);
	if (!cl)
		return -ENOENT;
	/* scratch: the keys admitted by this read (in array order), then steps 2 and 3's pointers */
	if (scratch_fit(st, n_active + (cl->n_seen > cl->n_closed ? cl->n_seen : cl->n_closed) + 1) < 0)
		return -ENOMEM;
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

	tls_writer = st;
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
	r = reader_enter(st);
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
	reader_leave(st, r);
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

	if (!valid_id(id))
		return -ENOENT;
	r = reader_enter(st);
	if (!r)
		return -ENOMEM;
	c = ck_hs_get(&st->clients, id_hash(id, st->seed), id);
	if (!c) {
		rc = -ENOENT;
		goto out;
	}
	while (ck_hs_next_spmc(&c->seen, &it, &obj)) {
		const struct seen *s = obj;
		struct fr_conn_key k;
		struct fr_state_totals t;
		char text[FR_CONN_KEY_TEXT_MAX];

		/* pairs with the release store in remember() */
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
	reader_leave(st, r);
	return rc;
}

bool fr_state_has_client_mc(struct fr_state *st, const char *id)
{
	ck_epoch_record_t *r;
	bool found;

	if (!valid_id(id))
		return false;
	r = reader_enter(st);
	if (!r)
		return false;
	found = ck_hs_get(&st->clients, id_hash(id, st->seed), id) != NULL;
	reader_leave(st, r);
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
	st->alloc.malloc = hs_malloc;
	st->alloc.realloc = hs_realloc;
	st->alloc.free = hs_free;
	ck_epoch_init(&st->epoch);
	ck_epoch_register(&st->epoch, &st->wrec, NULL);
	tls_writer = st;
	cnt_add(&st->stats.mem_bytes_current, sizeof(*st));
	if (!ck_hs_init(&st->clients, CK_HS_MODE_SPMC | CK_HS_MODE_OBJECT, client_hs_hash, client_hs_cmp, &st->alloc,
			16, st->seed)) {
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
	tls_writer = st;
	while (st->list)
		client_unlink(st, st->list);
	ck_epoch_barrier(&st->wrec); /* runs every deferred free */
	ck_hs_destroy(&st->clients);
	if (st->tail)
		free(st->tail);
	while (st->nspare)
		free(st->spare[--st->nspare]);
	/* reader epoch records were allocated by reader_enter; only the writer's is embedded */
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
