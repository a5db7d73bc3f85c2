/* region.h - producer side of a shared-memory region: safe create, publish, heartbeat, retire,
 * and cleanup of regions left behind by dead producers.
 *
 * Lifecycle (DESIGN §5, docs/WIRE_FORMAT.md): fr_region_create() makes a temporary file
 * <path>.tmp.<pid> with O_CREAT|O_EXCL|O_NOFOLLOW, mode 0640 (+ optional group), allocates every
 * byte with posix_fallocate (ENOSPC here, never SIGBUS later), maps it read-write and fills the
 * immutable header (state INIT). The caller initialises its sections, then fr_region_publish()
 * stores READY (release) and renames the file over the public name. fr_region_retire() stores
 * RETIRED and removes the public name if it is still ours. A region is never shrunk or resized:
 * growth and restart make a new generation.
 *
 * Threading: one thread owns a struct fr_region; nothing here blocks on readers.
 */
#ifndef FR_REGION_H
#define FR_REGION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <flowring/region.h>

#define FR_REGION_DEFAULT_MODE 0640
#define FR_REGION_DEFAULT_HEARTBEAT_MS 100u

struct fr_region_params {
	const char *shm_dir;           /* NULL: /dev/shm */
	const char *instance;          /* fr_name_valid() */
	const char *client_id;         /* NULL for the events region */
	uint32_t kind;                 /* enum fr_region_kind */
	uint32_t slot_size;            /* geometry, see flowring/region.h */
	uint32_t slot_count;
	uint32_t slot_capacity;
	uint64_t telemetry_bytes;      /* bytes reserved between header and ring (events) */
	uint32_t telemetry_count;
	uint32_t heartbeat_interval_ms; /* 0: FR_REGION_DEFAULT_HEARTBEAT_MS */
	gid_t gid;                     /* group of the file; (gid_t)-1 keeps the creator's */
	uint32_t mode;                 /* 0: FR_REGION_DEFAULT_MODE */
	uint64_t generation;           /* 0: one more than the region now under the name, else 1 */
};

struct fr_region {
	struct fr_region_header *hdr;  /* NULL when closed */
	unsigned char *base;
	size_t size;
	dev_t dev;
	ino_t ino;
	bool published;
	char path[512];
	char tmp_path[528];
};

/* Create and map a new region (state INIT) under a temporary name. Returns 0 or -errno (logged):
 * -EINVAL bad name/geometry, -EEXIST/-ELOOP something (e.g. a symlink) at the temporary or public
 * name, -ENOSPC the shm filesystem is full. */
int fr_region_create(struct fr_region *r, const struct fr_region_params *p);

/* Mark READY (release: pairs with readers' acquire of state) and rename over the public name.
 * Refuses (-ELOOP) if the public name is a symlink or not a regular file. */
int fr_region_publish(struct fr_region *r);

/* Heartbeat: store now_ns (CLOCK_MONOTONIC) into the header. Call at least every interval. */
void fr_region_heartbeat_sp(struct fr_region *r, uint64_t now_ns);

/* Store RETIRED, unlink the public name if it still names this file, unmap. Idempotent. */
int fr_region_retire(struct fr_region *r);

/* Store RETIRED and unmap without touching the name (a newer generation was renamed over it). */
void fr_region_close_replaced(struct fr_region *r);

/* Remove flowring.<instance>.* files (and their .tmp.<pid> leftovers) in shm_dir whose producer
 * is dead. Live producers' regions are left alone. Returns the number removed or -errno. */
int fr_region_cleanup_stale(const char *shm_dir, const char *instance);

/* CLOCK_MONOTONIC now, in ns. */
uint64_t fr_now_ns(void);

/* This process's start time as in /proc/self/stat field 22, or 0 if unknown. */
uint64_t fr_region_self_start_time(void);

#endif /* FR_REGION_H */
