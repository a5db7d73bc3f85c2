/* state_arena.h - the state's memory: a counting allocator whose frees wait out the epoch grace
 * period, the reader sections that grace period waits for, and the shared reference-counted arena
 * of packed closed records. Writer-only except the *_mc reader sections. Private to state*.c. */
#ifndef FR_STATE_ARENA_H
#define FR_STATE_ARENA_H

#include <ck_epoch.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state_internal.h"

#define FR_STATE_ARENA_CHUNK (16u * 1024u) /* aligned to its size: a record finds its chunk by masking */

/* ck_malloc callbacks get no context, so the writer's entry points name the state they run for;
 * only the writer thread mutates tables, hence only it allocates or frees through them. */
extern __thread struct fr_state *fr_state_tls_writer;

static inline void fr_state_writer_enter_sp(struct fr_state *st)
{
	fr_state_tls_writer = st;
}

/* Install the counting allocator as st->alloc, the one every ck_hs table of the state uses. */
void fr_state_mem_init_sp(struct fr_state *st);

/* Allocate size bytes counted in mem_bytes_current; NULL on ENOMEM. */
void *fr_state_mem_alloc_sp(struct fr_state *st, size_t size);

/* Free p (NULL is a no-op): at once, or if defer after every reader section that could see it. */
void fr_state_mem_free_sp(void *p, bool defer);

/* Enter a reader section from any thread (a lazily registered epoch record); NULL on ENOMEM. */
ck_epoch_record_t *fr_state_reader_enter_mc(struct fr_state *st);

/* Leave the section fr_state_reader_enter_mc opened and give its record back. */
void fr_state_reader_leave_mc(struct fr_state *st, ck_epoch_record_t *r);

/* Arena chunk header: records follow it, 4-byte aligned. */
struct fr_state_chunk {
	uint32_t refs; /* client references to records in this chunk */
	uint32_t used; /* bytes used, header included */
};

static inline struct fr_state_chunk *fr_state_chunk_of(const uint8_t *rec)
{
	return (struct fr_state_chunk *)((uintptr_t)rec & ~(uintptr_t)(FR_STATE_ARENA_CHUNK - 1));
}

/* Pack a record into the arena; NULL on ENOMEM. The caller references it at once. */
const uint8_t *fr_state_arena_store_sp(struct fr_state *st, const struct fr_conn *c);

/* One more client reference to the record's chunk. */
static inline void fr_state_arena_ref_sp(const uint8_t *rec)
{
	fr_state_chunk_of(rec)->refs++;
}

/* Drop a reference; the last one frees (or keeps as spare) a chunk that is no longer the tail. */
void fr_state_arena_unref_sp(struct fr_state *st, const uint8_t *rec);

/* Free the tail and spare chunks: fr_state_free_sp, after every client released its references. */
void fr_state_arena_release_sp(struct fr_state *st);

#endif /* FR_STATE_ARENA_H */
