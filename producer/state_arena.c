/* state_arena.c - the state's memory: counting allocator with epoch-deferred frees, reader
 * sections, and the reference-counted arena of packed closed records (see state_arena.h). */
#include "state_arena.h"

#include <ck_epoch.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

__thread struct fr_state *fr_state_tls_writer;

/* ---- counting allocator with epoch-deferred free (ck_malloc has no context argument) ---- */

struct blk {
	ck_epoch_entry_t ep;
	struct fr_state *st;
	size_t size;
	uint64_t pad; /* keeps the payload 16-byte aligned */
};

void *fr_state_mem_alloc_sp(struct fr_state *st, size_t size)
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
	/* pairs with the release add in fr_state_reader_leave_mc: every reader section that ended is
	 * ordered before this free (ck_epoch guarantees the sections that could see the object ended) */
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

void fr_state_mem_free_sp(void *p, bool defer)
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
	return fr_state_mem_alloc_sp(fr_state_tls_writer, size);
}

static void hs_free(void *p, size_t size, bool defer)
{
	(void)size;
	fr_state_mem_free_sp(p, defer);
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

void fr_state_mem_init_sp(struct fr_state *st)
{
	st->alloc.malloc = hs_malloc;
	st->alloc.realloc = hs_realloc;
	st->alloc.free = hs_free;
}

/* ---- reader sections ---- */

ck_epoch_record_t *fr_state_reader_enter_mc(struct fr_state *st)
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
	 * that use before ours. This acquire (pairing with the release add in fr_state_reader_leave_mc,
	 * which precedes ck_epoch_unregister) states the same edge in a form ThreadSanitizer sees. */
	(void)__atomic_load_n(&st->reader_sync, __ATOMIC_ACQUIRE);
	ck_epoch_begin(r, NULL);
	return r;
}

void fr_state_reader_leave_mc(struct fr_state *st, ck_epoch_record_t *r)
{
	/* Pairs with the acquire loads in blk_free_now, client_destroy_cb (state_client.c) and
	 * fr_state_reader_enter_mc. It comes BEFORE ck_epoch_end: a writer that sees this section
	 * ended (and so may free what it read) is then certain to read this add or a later one, so
	 * ThreadSanitizer sees the edge too. */
	__atomic_fetch_add(&st->reader_sync, 1, __ATOMIC_RELEASE);
	ck_epoch_end(r, NULL);
	ck_epoch_unregister(r);
}

void fr_state_reclaim_sp(struct fr_state *st)
{
	fr_state_writer_enter_sp(st);
	if (st->pending_frees)
		ck_epoch_poll(&st->wrec);
}

/* ---- arena of packed closed records ---- */

static void chunk_free(struct fr_state *st, struct fr_state_chunk *c)
{
	if (st->nspare < FR_STATE_ARENA_SPARE) {
		st->spare[st->nspare++] = c;
		return;
	}
	cnt_sub(&st->stats.arena_bytes_current, FR_STATE_ARENA_CHUNK);
	cnt_sub(&st->stats.mem_bytes_current, FR_STATE_ARENA_CHUNK);
	free(c);
}

/* Room for one more record of up to FR_CONN_PACKED_MAX bytes in the tail chunk. */
static uint8_t *arena_reserve(struct fr_state *st)
{
	struct fr_state_chunk *c = (struct fr_state_chunk *)st->tail;
	void *mem;

	if (c && c->used + FR_CONN_PACKED_MAX <= FR_STATE_ARENA_CHUNK)
		return st->tail + c->used;
	if (c && c->refs == 0) {
		c->used = sizeof(*c); /* nothing references it: reuse it in place */
		return st->tail + c->used;
	}
	/* a retired chunk with references is freed by the last fr_state_arena_unref_sp */
	if (st->nspare) {
		mem = st->spare[--st->nspare];
	} else {
		if (posix_memalign(&mem, FR_STATE_ARENA_CHUNK, FR_STATE_ARENA_CHUNK) != 0)
			return NULL;
		cnt_add(&st->stats.arena_bytes_current, FR_STATE_ARENA_CHUNK);
		cnt_add(&st->stats.mem_bytes_current, FR_STATE_ARENA_CHUNK);
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
	struct fr_state_chunk *c = (struct fr_state_chunk *)st->tail;
	c->used += (uint32_t)((len + 3u) & ~3u);
}

void fr_state_arena_unref_sp(struct fr_state *st, const uint8_t *rec)
{
	struct fr_state_chunk *c = fr_state_chunk_of(rec);
	if (--c->refs == 0 && (uint8_t *)c != st->tail)
		chunk_free(st, c);
}

const uint8_t *fr_state_arena_store_sp(struct fr_state *st, const struct fr_conn *c)
{
	uint8_t *p = arena_reserve(st);
	if (!p)
		return NULL;
	arena_commit(st, fr_conn_pack(c, p));
	return p;
}

void fr_state_arena_release_sp(struct fr_state *st)
{
	if (st->tail)
		free(st->tail);
	while (st->nspare)
		free(st->spare[--st->nspare]);
}
