/* telemetry.h - producer side of the telemetry block in the events region (flowring/telemetry.h).
 *
 * fr_telemetry_init() writes the names of the fixed counters (FR_TELEMETRY_FIXED) before the
 * region is published; fr_telemetry_register() adds a named counter later (per-BPF-program run
 * counts and the like). Values are set with relaxed atomic stores.
 *
 * Threading: each counter has exactly one writer thread (the one that owns what it counts);
 * registration happens on one thread (the daemon's main thread). Readers are other processes.
 */
#ifndef FR_TELEMETRY_H
#define FR_TELEMETRY_H

#include <stdint.h>

#include <flowring/telemetry.h>

struct fr_region;

struct fr_telemetry {
	struct fr_telemetry_entry *entries; /* in the events region */
	uint32_t count;                     /* entries in the block */
	uint32_t used;                      /* entries with a name */
};

/* Attach to the events region's telemetry block and name the fixed counters. 0 or -EINVAL
 * (region without a block big enough for FR_TM__COUNT entries). */
int fr_telemetry_init(struct fr_telemetry *t, struct fr_region *events);

/* Name the next free entry; returns its index (>= FR_TM__COUNT), -EINVAL for an empty or too long
 * name (FR_TELEMETRY_NAME_LEN - 1 bytes at most), -ENOSPC when the block is full. Registering
 * a name twice returns the existing index. */
int fr_telemetry_register(struct fr_telemetry *t, const char *name);

/* Value of counter id: single writer per id (see above). Out-of-range ids are ignored. */
void fr_telemetry_set(struct fr_telemetry *t, uint32_t id, uint64_t value);
void fr_telemetry_add(struct fr_telemetry *t, uint32_t id, uint64_t delta);
uint64_t fr_telemetry_get(const struct fr_telemetry *t, uint32_t id);

#endif /* FR_TELEMETRY_H */
