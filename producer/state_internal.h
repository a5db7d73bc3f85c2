/* state_internal.h - the state's private structures, shared by state.c, state_arena.c, state_client.c
 * and state_read.c only; users of the state include state.h. Threads and memory: see state.h. */
#ifndef FR_STATE_INTERNAL_H
#define FR_STATE_INTERNAL_H

#include <ck_epoch.h>
#include <ck_hs.h>
#include <ck_malloc.h>
#include <stdint.h>

#include "state.h"

#define FR_STATE_TABLE_MIN 64u
#define FR_STATE_ARENA_SPARE 64u /* up to 1 MiB of empty chunks kept instead of churning malloc */

struct fr_client;
struct scratch;

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
	void *spare[FR_STATE_ARENA_SPARE]; /* emptied chunks kept for reuse: a read empties many at once */
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

/* Sum add's monotonic and DNS counters into dst and mark it merged: a store merging two closed
 * records of a key and a read merging a closed record with its re-opened active twin agree. */
static inline void fr_state_conn_sum_into(struct fr_conn *dst, const struct fr_conn *add)
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

#endif /* FR_STATE_INTERNAL_H */
