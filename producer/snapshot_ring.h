/* snapshot_ring.h - the producer side of one client's snapshot ring (DESIGN §1, §5).
 *
 * A snapshot region has slot_count slots (default 3); snapshot n goes to slot n % slot_count, so
 * a reader can finish snapshot n while n+1 is written. Publishing: fr_snapshot_begin_sp(), any
 * number of fr_snapshot_append_sp(), fr_snapshot_commit_sp(). A snapshot is never truncated:
 * when it outgrows the slot capacity, the writer creates a new generation of the region with a
 * larger capacity (carrying over the last committed snapshot and the records appended so far),
 * renames it over the public name and retires the old one; readers see FR_NEW_GENERATION and
 * reopen. Commit wakes waiting readers (one FUTEX_WAKE per snapshot).
 *
 * Threading: one writer thread per client region; _sp functions only from that thread.
 */
#ifndef FR_SNAPSHOT_RING_H
#define FR_SNAPSHOT_RING_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <flowring/record.h>
#include <flowring/region.h>

#include "region.h"

#define FR_SNAPSHOT_DEFAULT_SLOTS 3u
#define FR_SNAPSHOT_DEFAULT_CAPACITY 1024u

struct fr_snapshot_params {
	const char *shm_dir;            /* NULL: /dev/shm */
	const char *instance;
	const char *client_id;          /* fr_name_valid(); "-1" is the debug client */
	uint32_t slots;                 /* 2..64; 0: FR_SNAPSHOT_DEFAULT_SLOTS */
	uint32_t capacity;              /* initial records per slot; 0: FR_SNAPSHOT_DEFAULT_CAPACITY */
	uint32_t heartbeat_interval_ms; /* 0: FR_REGION_DEFAULT_HEARTBEAT_MS */
	gid_t gid;                      /* (gid_t)-1: creator's group */
	uint32_t mode;                  /* 0: 0640 */
};

struct fr_snapshot_writer {
	struct fr_region region;
	char shm_dir[256];
	char instance[FR_NAME_MAX];
	char client_id[FR_NAME_MAX];
	uint32_t slots, capacity, heartbeat_interval_ms, mode;
	gid_t gid;
	uint64_t next;                  /* number of the snapshot being / to be written */
	struct fr_snapshot_slot *cur;   /* slot of the open snapshot, NULL when none */
	uint64_t count;                 /* records appended to it */
	uint64_t read_time_ns;
	uint64_t regrows;               /* new generations made because a snapshot outgrew a slot */
};

/* Create and publish client client_id's region. 0 or -errno (logged). */
int fr_snapshot_create(struct fr_snapshot_writer *w, const struct fr_snapshot_params *p);

/* Open snapshot number w->next taken at read_time_ns (CLOCK_MONOTONIC). expected (may be 0) lets
 * the writer grow before writing. -EBUSY if one is open; -ENOSPC/-E2BIG if growing failed. */
int fr_snapshot_begin_sp(struct fr_snapshot_writer *w, uint64_t read_time_ns, uint64_t expected);

/* Append one record; grows the region (new generation) when the slot is full. 0 or -errno
 * (-ENOSPC, -E2BIG: the snapshot stays open and intact; commit what is there or abort). */
int fr_snapshot_append_sp(struct fr_snapshot_writer *w, const struct fr_conn *rec);

/* Publish the open snapshot and wake waiting readers. 0 or -EINVAL (none open). */
int fr_snapshot_commit_sp(struct fr_snapshot_writer *w);

/* Abandon the open snapshot; its slot becomes empty, the number is reused. */
void fr_snapshot_abort_sp(struct fr_snapshot_writer *w);

void fr_snapshot_heartbeat_sp(struct fr_snapshot_writer *w, uint64_t now_ns);

/* Mark RETIRED (readers see FR_NEW_GENERATION), remove the name, unmap. */
int fr_snapshot_retire(struct fr_snapshot_writer *w);

#endif /* FR_SNAPSHOT_RING_H */
