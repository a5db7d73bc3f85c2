/* events_ring.h - the producer side of the events ring: one writer, any number of read-only
 * reader processes, readers never slow the writer (DESIGN §1, §5; docs/WIRE_FORMAT.md).
 *
 * Hot path: fr_events_publish_sp() copies one record into the next slot under its seqlock and
 * advances head; no syscall, no wait, never fails. Waiting readers sleep on a futex word that
 * fr_events_flush_sp() bumps and wakes, once per batch and only when something was published
 * since the last flush: call it at the end of each ingest batch, and always before the writer
 * thread goes idle (docs/WIRE_FORMAT.md "Waiting"). fr_events_flush_lazy_sp() rate-limits wakes.
 *
 * Threading: every _sp function is for the single writer thread of this ring; nothing else may
 * touch the writer. fr_events_create/retire run on that thread too (or before/after it exists).
 */
#ifndef FR_EVENTS_RING_H
#define FR_EVENTS_RING_H

#include <stdint.h>
#include <sys/types.h>

#include <flowring/record.h>
#include <flowring/region.h>

#include "region.h"
#include "telemetry.h"

#define FR_EVENTS_DEFAULT_CAPACITY 65536u

struct fr_events_params {
	const char *shm_dir;            /* NULL: /dev/shm */
	const char *instance;
	uint32_t capacity;              /* slots, a power of two >= 2; 0: FR_EVENTS_DEFAULT_CAPACITY */
	uint32_t heartbeat_interval_ms; /* 0: FR_REGION_DEFAULT_HEARTBEAT_MS */
	gid_t gid;                      /* (gid_t)-1: creator's group */
	uint32_t mode;                  /* 0: 0640 */
};

struct fr_events_writer {
	struct fr_region region;
	struct fr_telemetry telemetry;  /* the region's telemetry block, for the whole daemon */
	struct fr_events_slot *slots;
	uint64_t mask;
	uint64_t head;                  /* next position; mirrors region.hdr->head */
	uint64_t woken_head;            /* head at the last wake */
	uint64_t last_wake_ns;          /* CLOCK_MONOTONIC of the last wake (fr_events_flush_lazy_sp) */
	uint64_t wakes;                 /* FUTEX_WAKE calls made (for benches and tests) */
};

/* Create, initialise (telemetry names) and publish the events region. 0 or -errno (logged). */
int fr_events_create(struct fr_events_writer *w, const struct fr_events_params *p);

/* Publish one record. Never blocks, never fails; overwrites the oldest slot when full. */
void fr_events_publish_sp(struct fr_events_writer *w, const struct fr_conn *rec);

/* End of a batch: if anything was published since the last flush, bump the futex word and wake
 * the waiting readers (one syscall); also updates the events_published counter. Returns 1 if
 * it woke, 0 if there was nothing new. */
int fr_events_flush_sp(struct fr_events_writer *w);

/* Rate-limited flush for high event rates: like fr_events_flush_sp() but wakes at most once per
 * min_interval_ns; otherwise the wake stays pending and it returns 0. Contract: the writer thread
 * calls fr_events_flush_sp() before it goes idle (e.g. before blocking in its event loop), so a
 * pending wake is never lost; readers are woken at most min_interval_ns late while busy. */
int fr_events_flush_lazy_sp(struct fr_events_writer *w, uint64_t now_ns, uint64_t min_interval_ns);

/* Liveness: store now_ns as the heartbeat (call at least every heartbeat interval). */
void fr_events_heartbeat_sp(struct fr_events_writer *w, uint64_t now_ns);

/* Stop: flush, mark RETIRED (readers see FR_NEW_GENERATION), remove the name, unmap. */
int fr_events_retire(struct fr_events_writer *w);

#endif /* FR_EVENTS_RING_H */
