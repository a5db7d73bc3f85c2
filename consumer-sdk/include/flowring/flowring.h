/* flowring.h - flowring consumer SDK v1.0.0 - MIT license - header only, libc only.
 *
 * Reads the shared-memory rings of a flowring producer (flowringd) zero-copy: the events ring
 * (every closed connection) and a client's snapshot ring (that client's view of all connections).
 *
 * USAGE (complete program: follow the events ring of instance "default")
 *
 *     #include <flowring/flowring.h>
 *     #include <stdio.h>
 *
 *     int main(void)
 *     {
 *             struct fr_events_reader r;
 *             const struct fr_conn *c;
 *             int st = fr_events_open(&r, NULL, "default", FR_FROM_LATEST);
 *             if (st != FR_OK) {
 *                     fprintf(stderr, "open: %s\n", fr_status_str(st));
 *                     return 1;
 *             }
 *             for (;;) {
 *                     st = fr_events_next(&r, &c);
 *                     if (st == FR_OK) {
 *                             unsigned pid = c->pid, sport = c->sport;   // use the record...
 *                             if (fr_events_check(&r) == FR_OK)          // ...then check it was intact
 *                                     printf("pid %u sport %u\n", pid, sport);
 *                     } else if (st == FR_LAPPED) {
 *                             fprintf(stderr, "lost %llu\n", (unsigned long long)fr_events_lost(&r));
 *                     } else if (st == FR_AGAIN || st == FR_PRODUCER_STALE) {
 *                             fr_events_wait(&r, 1000);
 *                     } else if (st == FR_NEW_GENERATION) {
 *                             while (fr_events_reopen(&r) != FR_OK) fr_sleep_ms(100);
 *                     } else {
 *                             fprintf(stderr, "%s\n", fr_status_str(st));   // dead, corrupt, -errno
 *                             break;
 *                     }
 *             }
 *             fr_events_close(&r);
 *             return 0;
 *     }
 *
 * Build: cc app.c $(pkg-config --cflags flowring)   or CMake: find_package(flowring) +
 * target_link_libraries(app flowring::consumer). Every function is static inline: nothing to link.
 * Include it first (it selects _DEFAULT_SOURCE) or build with _GNU_SOURCE / -std=gnu11.
 *
 * COMPILE-TIME OPTIONS (define before including)
 *   FLOWRING_STALE_INTERVALS  heartbeat intervals without a heartbeat before a producer is
 *                             checked for liveness and reported stale (default 3)
 *   FLOWRING_MAX_RETRIES      snapshot lookups before FR_AGAIN when the writer laps us (default 64)
 *
 * API (all return FR_OK (0), a positive enum fr_status, or a negative errno)
 *   fr_events_open / _attach / _reopen / _close     map an events region read-only
 *   fr_events_next + fr_events_check                zero-copy record, then "was it intact?"
 *   fr_events_read                                  copy-out record (validated)
 *   fr_events_wait                                  block until a record, a state change or timeout
 *   fr_events_lost / _position                      loss of the last FR_LAPPED, reader position
 *   fr_events_telemetry_count / fr_events_telemetry producer counters (name, value)
 *   fr_snapshot_open / _attach / _reopen / _close   map a client's snapshot region read-only
 *   fr_snapshot_latest + fr_snapshot_valid          zero-copy view of the newest snapshot, then check
 *   fr_snapshot_copy                                copy-out of the newest snapshot (validated)
 *   fr_snapshot_wait                                block until a snapshot newer than N is committed
 *   fr_region_validate                              validate a region image (no mapping needed)
 *   fr_region_version / fr_region_path / fr_name_valid / fr_status_str / fr_sleep_ms
 *
 * THREADING: a reader object belongs to one thread at a time; use one reader per thread. Readers
 * never write shared memory (O_RDONLY, PROT_READ), so they cannot slow or corrupt the producer.
 * Zero-copy pointers stay mapped until close/reopen but their contents may change at any time:
 * use them, then call the check function, and discard what you derived if it says FR_LAPPED.
 *
 * CHANGELOG
 *   1.0.0  first release: ABI 1.0, events ring, snapshot ring, telemetry, futex wait.
 */
#ifndef FLOWRING_H
#define FLOWRING_H

#if !defined(__cplusplus) && !defined(_GNU_SOURCE) && !defined(_DEFAULT_SOURCE)
#define _DEFAULT_SOURCE 1
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <flowring/record.h>
#include <flowring/region.h>
#include <flowring/telemetry.h>

#if defined(__GLIBC__) && !defined(__USE_MISC)
#error "flowring.h needs _DEFAULT_SOURCE: include it before other headers or compile with -D_GNU_SOURCE"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define FLOWRING_SDK_VERSION_MAJOR 1
#define FLOWRING_SDK_VERSION_MINOR 0
#define FLOWRING_SDK_VERSION_PATCH 0
#define FLOWRING_SDK_VERSION "1.0.0"
/* true when this SDK is at least version maj.min.patch (compile time) */
#define FLOWRING_CHECK_VERSION(maj, min, patch)                                                          \
	(FLOWRING_SDK_VERSION_MAJOR > (maj) ||                                                           \
	 (FLOWRING_SDK_VERSION_MAJOR == (maj) &&                                                         \
	  (FLOWRING_SDK_VERSION_MINOR > (min) ||                                                         \
	   (FLOWRING_SDK_VERSION_MINOR == (min) && FLOWRING_SDK_VERSION_PATCH >= (patch)))))

#ifndef FLOWRING_STALE_INTERVALS
#define FLOWRING_STALE_INTERVALS 3
#endif
#ifndef FLOWRING_MAX_RETRIES
#define FLOWRING_MAX_RETRIES 64
#endif
#define FLOWRING_DEFAULT_SHM_DIR "/dev/shm"
#define FLOWRING_PATH_MAX 512

/* Results. Waiting is not failing: FR_AGAIN .. FR_TIMED_OUT are states to wait out or follow;
 * FR_VERSION_MISMATCH and later say the region cannot be read; negative values are -errno. */
enum fr_status {
	FR_OK = 0,
	FR_AGAIN = 1,           /* nothing new yet */
	FR_NOT_READY = 2,       /* no region under that name yet, or still initialising */
	FR_LAPPED = 3,          /* records were overwritten before we read them: fr_events_lost() */
	FR_NEW_GENERATION = 4,  /* the producer retired this region or renamed a new one over it: reopen */
	FR_PRODUCER_STALE = 5,  /* no heartbeat for FLOWRING_STALE_INTERVALS intervals, process alive */
	FR_PRODUCER_DEAD = 6,   /* the producer process is gone (or its pid was reused) */
	FR_TIMED_OUT = 7,       /* a wait ran out */
	FR_VERSION_MISMATCH = 8, /* other ABI major: fr_region_version() gives the region's version */
	FR_BAD_MAGIC = 9,       /* not a flowring region */
	FR_CORRUPT = 10,        /* a header field or offset is impossible (truncated, foreign, damaged) */
	FR_WRONG_KIND = 11,     /* an events region opened as a snapshot region or the other way round */
};

/* Reader start position in the events ring. */
#define FR_FROM_LATEST 0u /* only records published after open */
#define FR_FROM_OLDEST 1u /* every record still in the ring */

/* A read-only view of one region file. */
struct fr_region_ro {
	const unsigned char *base;
	uint64_t size; /* bytes mapped (the file size at open) */
	const struct fr_region_header *hdr;
	uint64_t dev, ino; /* identity of the file, to notice a newer generation under the name */
	uint64_t generation;
	uint64_t start_time;
	uint32_t pid;
	uint32_t kind;
	uint32_t hb_interval_ms;
	uint16_t found_major, found_minor; /* set even when the open fails with FR_VERSION_MISMATCH */
	int mapped;                        /* 1: we mmap'd it and munmap at close */
	char path[FLOWRING_PATH_MAX];      /* empty for attached memory */
};

struct fr_events_reader {
	struct fr_region_ro region;
	const struct fr_events_slot *slots;
	uint64_t capacity, mask;
	uint64_t cursor;                   /* position of the next record */
	const struct fr_events_slot *cur;  /* slot of the record last returned by next() */
	uint64_t cur_seq;                  /* its sequence when returned */
	uint64_t lost;                     /* records lost in the last FR_LAPPED */
	uint64_t total_lost;
	uint64_t received;
	const struct fr_telemetry_entry *telemetry;
	uint32_t telemetry_count;
};

struct fr_snapshot_reader {
	struct fr_region_ro region;
	const unsigned char *slots;
	uint64_t slot_bytes;
	uint32_t nslots, capacity;
};

/* One snapshot, zero-copy. records[0..count) live in shared memory: check fr_snapshot_valid()
 * after using them. */
struct fr_snapshot_view {
	const struct fr_conn *records;
	uint64_t count;
	uint64_t snap_seq;     /* snapshot number, grows by one per committed snapshot */
	uint64_t read_time_ns; /* CLOCK_MONOTONIC of the client read it answers */
	uint64_t generation;
	const struct fr_snapshot_slot *slot;
};

/* ---- small helpers ------------------------------------------------------------------------ */

typedef uint64_t __attribute__((may_alias)) fr__u64a;

static inline uint64_t fr__ld64(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline uint64_t fr__ld64_acq(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline uint32_t fr__ld32_acq(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
/* GCC's TSan does not model fences and warns (-Wtsan); the fence is still needed for the
 * seqlock and is kept. TSan has nothing to miss: every shared word is accessed atomically. */
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wtsan"
#endif
static inline void fr__fence_acq(void) { __atomic_thread_fence(__ATOMIC_ACQUIRE); }
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

static inline uint64_t fr__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void fr_sleep_ms(unsigned ms)
{
	struct timespec ts;
	ts.tv_sec = (time_t)(ms / 1000u);
	ts.tv_nsec = (long)(ms % 1000u) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

/* Copy one record with relaxed 64-bit loads: the words may be written concurrently, which is a
 * data race for memcpy but not for atomics; the caller re-checks the slot sequence afterwards. */
static inline void fr__copy_rec(struct fr_conn *out, const struct fr_conn *src)
{
	const fr__u64a *s = (const fr__u64a *)(const void *)src;
	fr__u64a *d = (fr__u64a *)(void *)out;
	for (unsigned i = 0; i < FR_CONN_SIZE / 8u; i++)
		d[i] = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
}

static inline const char *fr_status_str(int st)
{
	switch (st) {
	case FR_OK: return "ok";
	case FR_AGAIN: return "nothing new yet";
	case FR_NOT_READY: return "region not ready (producer not running yet?)";
	case FR_LAPPED: return "lapped: records were overwritten before they were read";
	case FR_NEW_GENERATION: return "region retired or replaced: reopen";
	case FR_PRODUCER_STALE: return "producer stale: no heartbeat";
	case FR_PRODUCER_DEAD: return "producer dead";
	case FR_TIMED_OUT: return "timed out";
	case FR_VERSION_MISMATCH: return "ABI major version mismatch";
	case FR_BAD_MAGIC: return "not a flowring region (bad magic)";
	case FR_CORRUPT: return "corrupt or truncated region";
	case FR_WRONG_KIND: return "wrong region kind";
	default: break;
	}
	return st < 0 ? strerror(-st) : "unknown status";
}

/* Instance and client ids: 1..FR_NAME_MAX-1 printable ASCII bytes (no space), no '/', no leading
 * '.'. The debug client id "-1" is valid. Returns 0 or -EINVAL. */
static inline int fr_name_valid(const char *s)
{
	size_t n = 0;
	if (!s || s[0] == '\0' || s[0] == '.')
		return -EINVAL;
	for (; s[n]; n++) {
		unsigned char c = (unsigned char)s[n];
		if (n + 1 >= FR_NAME_MAX || c <= 0x20 || c >= 0x7f || c == '/')
			return -EINVAL;
	}
	return 0;
}

/* <shm_dir>/flowring.<instance>.events, or .client.<client_id> when client_id is not NULL. */
static inline int fr_region_path(char *buf, size_t len, const char *shm_dir, const char *instance,
				 const char *client_id)
{
	int n;
	if (fr_name_valid(instance) != 0 || (client_id && fr_name_valid(client_id) != 0))
		return -EINVAL;
	if (!shm_dir)
		shm_dir = FLOWRING_DEFAULT_SHM_DIR;
	if (client_id)
		n = snprintf(buf, len, "%s/flowring.%s.client.%s", shm_dir, instance, client_id);
	else
		n = snprintf(buf, len, "%s/flowring.%s.events", shm_dir, instance);
	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

static inline void fr_region_version(const struct fr_region_ro *v, unsigned *major, unsigned *minor)
{
	*major = v->found_major;
	*minor = v->found_minor;
}

/* Validate a region image of size bytes at base (page aligned) before trusting any of it. Fills
 * v (found_major/minor even on FR_VERSION_MISMATCH). kind 0 accepts either kind. */
static inline int fr_region_validate(const void *base, uint64_t size, uint32_t kind, struct fr_region_ro *v)
{
	const struct fr_region_header *h = (const struct fr_region_header *)base;
	uint64_t end;

	v->base = (const unsigned char *)base;
	v->size = size;
	v->hdr = h;
	if (size < FR_REGION_HEADER_SIZE)
		return FR_CORRUPT;
	if (h->magic != FR_REGION_MAGIC)
		return FR_BAD_MAGIC;
	v->found_major = h->abi_major;
	v->found_minor = h->abi_minor;
	if (h->abi_major != FR_ABI_MAJOR)
		return FR_VERSION_MISMATCH;
	/* acquire: pairs with the producer's release store of READY, after which the geometry
	 * below is immutable */
	uint32_t state = fr__ld32_acq(&h->state);
	if (state == FR_STATE_INIT)
		return FR_NOT_READY;
	if (state > FR_STATE_RETIRED)
		return FR_CORRUPT;
	if (kind != 0 && h->kind != kind)
		return (h->kind == FR_REGION_EVENTS || h->kind == FR_REGION_SNAPSHOT) ? FR_WRONG_KIND : FR_CORRUPT;
	if (h->header_size < FR_REGION_HEADER_SIZE || h->header_size % 64u != 0 || h->region_size > size ||
	    h->region_size < h->header_size || h->record_size != FR_CONN_SIZE || h->producer_pid == 0 ||
	    h->producer_pid > (uint32_t)INT_MAX || h->heartbeat_interval_ms == 0 ||
	    h->heartbeat_interval_ms > 3600000u || h->ring_offset < h->header_size || h->ring_offset % 64u != 0 ||
	    h->ring_offset > h->region_size || h->slot_count == 0 || h->slot_size == 0)
		return FR_CORRUPT;
	/* slot_count * slot_size fits in 64 bits: both are 32-bit */
	end = (uint64_t)h->slot_count * h->slot_size;
	if (h->ring_size != end || end > h->region_size - h->ring_offset)
		return FR_CORRUPT;
	if (h->kind == FR_REGION_EVENTS) {
		if (h->slot_size != FR_EVENTS_SLOT_SIZE || (h->slot_count & (h->slot_count - 1u)) != 0 ||
		    h->slot_count < 2u)
			return FR_CORRUPT;
		if (h->telemetry_offset != 0) {
			uint64_t tend = (uint64_t)h->telemetry_count * sizeof(struct fr_telemetry_entry);
			if (h->telemetry_offset < h->header_size || h->telemetry_offset % 64u != 0 ||
			    h->telemetry_offset > h->region_size || tend > h->region_size - h->telemetry_offset ||
			    (h->telemetry_offset < h->ring_offset + h->ring_size &&
			     h->telemetry_offset + tend > h->ring_offset))
				return FR_CORRUPT;
		}
	} else if (h->kind == FR_REGION_SNAPSHOT) {
		if (h->slot_count < 2u || h->slot_count > 64u || h->slot_capacity == 0 ||
		    h->slot_size != FR_SNAPSHOT_SLOT_BYTES(h->slot_capacity))
			return FR_CORRUPT;
	} else {
		return FR_CORRUPT;
	}
	v->kind = h->kind;
	v->generation = h->generation;
	v->pid = h->producer_pid;
	v->start_time = h->producer_start_time;
	v->hb_interval_ms = h->heartbeat_interval_ms;
	return FR_OK;
}

static inline void fr__region_unmap(struct fr_region_ro *v)
{
	if (v->mapped && v->base)
		munmap((void *)(uintptr_t)v->base, (size_t)v->size);
	v->mapped = 0;
	v->base = NULL;
	v->hdr = NULL;
}

/* Map path read-only and validate it. O_NOFOLLOW: a symlink planted at the name is refused;
 * O_NONBLOCK: a FIFO planted there cannot block us. */
static inline int fr__region_open(struct fr_region_ro *v, const char *path, uint32_t kind)
{
	struct stat st;
	void *p;
	int fd, st_code;
	size_t plen = strlen(path);

	if (plen >= sizeof(v->path))
		return -ENAMETOOLONG;
	memcpy(v->path, path, plen + 1);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? FR_NOT_READY : -errno;
	if (fstat(fd, &st) != 0) {
		st_code = -errno;
		close(fd);
		return st_code;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	if ((uint64_t)st.st_size < FR_REGION_HEADER_SIZE) {
		close(fd);
		return st.st_size == 0 ? FR_NOT_READY : FR_CORRUPT;
	}
	/* MAP_POPULATE: fault every page in now, not one by one on the first pass over the ring */
#ifdef MAP_POPULATE
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
#else
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
#endif
	st_code = -errno;
	close(fd); /* the mapping keeps the file; the fd is not needed */
	if (p == MAP_FAILED)
		return st_code;
	v->mapped = 1;
	v->dev = (uint64_t)st.st_dev;
	v->ino = (uint64_t)st.st_ino;
	st_code = fr_region_validate(p, (uint64_t)st.st_size, kind, v);
	v->mapped = 1;
	if (st_code != FR_OK) {
		v->base = (const unsigned char *)p;
		v->size = (uint64_t)st.st_size;
		fr__region_unmap(v);
	}
	return st_code;
}

/* Read state (field 3) and starttime (field 22) of /proc/<pid>/stat. 0 or -errno. */
static inline int fr__proc_stat(uint32_t pid, uint64_t *start_time, char *state)
{
	char path[64], buf[1024];
	int saved = errno, fd, fields = 0;
	ssize_t n;
	const char *p;
	uint64_t st = 0;

	snprintf(path, sizeof(path), "/proc/%u/stat", (unsigned)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fd = -errno;
		errno = saved;
		return fd;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	errno = saved;
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* comm may contain spaces and parentheses */
	if (!p || p[1] != ' ' || !p[2])
		return -EIO;
	p += 2;
	*state = *p;
	while (*p && fields < 19) { /* from field 3 to field 22 */
		if (*p++ == ' ')
			fields++;
	}
	if (fields != 19 || *p < '0' || *p > '9')
		return -EIO;
	while (*p >= '0' && *p <= '9')
		st = st * 10u + (uint64_t)(*p++ - '0');
	*start_time = st;
	return 0;
}

/* 1 alive, 0 dead (gone, zombie, or pid reused: start time differs), -1 unknown (e.g. the
 * producer is in another pid namespace: then only the heartbeat speaks). */
static inline int fr__pid_alive(uint32_t pid, uint64_t start_time)
{
	int saved = errno, rc;
	uint64_t st = 0;
	char state = 0;

	if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
		errno = saved;
		return 0;
	}
	errno = saved;
	rc = fr__proc_stat(pid, &st, &state);
	if (rc == -ENOENT)
		return 0;
	if (rc != 0)
		return -1;
	if (state == 'Z' || state == 'X')
		return 0;
	return (start_time != 0 && st != start_time) ? 0 : 1;
}

/* Inode of this process's pid namespace, 0 if unknown. */
static inline uint64_t fr__pidns_self(void)
{
	struct stat st;
	int saved = errno;
	uint64_t ino = stat("/proc/self/ns/pid", &st) == 0 ? (uint64_t)st.st_ino : 0;
	errno = saved;
	return ino;
}

/* Called when there is nothing to read: is the producer still there, and is this still the
 * current generation? Cheap unless the heartbeat is old (one clock read). */
static inline int fr__region_liveness(const struct fr_region_ro *v)
{
	const struct fr_region_header *h = v->hdr;
	/* acquire: pairs with the producer's release store of RETIRED after its last publish */
	if (fr__ld32_acq(&h->state) == FR_STATE_RETIRED)
		return FR_NEW_GENERATION;
	uint64_t hb = fr__ld64(&h->heartbeat_ns);
	uint64_t now = fr__now_ns();
	uint64_t bound = (uint64_t)v->hb_interval_ms * 1000000ull * FLOWRING_STALE_INTERVALS;
	if (now <= hb || now - hb <= bound)
		return FR_OK;
	if (v->path[0]) {
		struct stat st;
		int saved = errno;
		if (stat(v->path, &st) == 0 && ((uint64_t)st.st_ino != v->ino || (uint64_t)st.st_dev != v->dev)) {
			errno = saved;
			return FR_NEW_GENERATION;
		}
		errno = saved;
	}
	/* a pid from another pid namespace means nothing here: then only the heartbeat speaks */
	if (v->hdr->producer_pidns != 0 && v->hdr->producer_pidns != fr__pidns_self())
		return FR_PRODUCER_STALE;
	return fr__pid_alive(v->pid, v->start_time) == 0 ? FR_PRODUCER_DEAD : FR_PRODUCER_STALE;
}

#ifndef FUTEX_WAIT_BITSET
#define FUTEX_WAIT_BITSET 9
#endif
#ifndef FUTEX_WAKE_BITSET
#define FUTEX_WAKE_BITSET 10
#endif

/* The wake chain (docs/WIRE_FORMAT.md "Waiting"): wake_seq counts the producer's wakes. A reader
 * sleeps on the value it read, tagged with bit (value % 32). The producer, changing the word from
 * v to v+1, wakes ONE sleeper of bit(v); every reader woken that way wakes one more of the same
 * bit. So the producer pays one wake whatever the number of readers, readers wake each other,
 * and a reader back asleep on v+1 (another bit) can never be woken by the chain for v. */
static inline uint32_t fr__wake_bit(uint32_t v) { return 1u << (v & 31u); }

/* Sleep while *word == val, at most ms milliseconds; 1 if a wake for val woke us. The word is in
 * a MAP_SHARED file mapping: a shared (not private) futex; PROT_READ is enough. */
static inline int fr__futex_wait(const uint32_t *word, uint32_t val, uint64_t ms)
{
	struct timespec ts;
	int saved = errno;
	clock_gettime(CLOCK_MONOTONIC, &ts); /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time */
	ts.tv_sec += (time_t)(ms / 1000u);
	ts.tv_nsec += (long)(ms % 1000u) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	long rc = syscall(SYS_futex, word, FUTEX_WAIT_BITSET, val, &ts, NULL, fr__wake_bit(val));
	errno = saved;
	return rc == 0;
}

/* Pass a wake for value val on to one more sleeper of that value (needs only read access). */
static inline void fr__futex_pass_on(const uint32_t *word, uint32_t val)
{
	int saved = errno;
	syscall(SYS_futex, word, FUTEX_WAKE_BITSET, 1, NULL, NULL, fr__wake_bit(val));
	errno = saved;
}

/* Wait for cond (1: ready) with a futex on the header's wake word, in steps of at most one
 * heartbeat interval so liveness is re-checked. STALE is only returned when the time runs out. */
static inline int fr__wait(const struct fr_region_ro *v, int (*ready)(const void *), const void *arg,
			   int timeout_ms)
{
	uint64_t start = fr__now_ns();
	int stale = 0;
	for (;;) {
		/* acquire: pairs with the producer's release store of wake_seq before FUTEX_WAKE; read
		 * before the condition, so a publish after the check changes the word and the
		 * FUTEX_WAIT below returns at once (no lost wake-up) */
		uint32_t w = fr__ld32_acq(&v->hdr->wake_seq);
		if (ready(arg))
			return FR_OK;
		int st = fr__region_liveness(v);
		if (st == FR_NEW_GENERATION || st == FR_PRODUCER_DEAD)
			return st;
		stale = st == FR_PRODUCER_STALE;
		uint64_t step = v->hb_interval_ms;
		if (timeout_ms >= 0) {
			uint64_t el = (fr__now_ns() - start) / 1000000ull;
			if (el >= (uint64_t)timeout_ms)
				return stale ? FR_PRODUCER_STALE : FR_TIMED_OUT;
			if ((uint64_t)timeout_ms - el < step)
				step = (uint64_t)timeout_ms - el;
		}
		/* woken for our value while the word moved on: a real wake, pass it on down the chain
		 * (acquire load pairs with the producer's release store of the new value) */
		if (fr__futex_wait(&v->hdr->wake_seq, w, step ? step : 1) && fr__ld32_acq(&v->hdr->wake_seq) != w)
			fr__futex_pass_on(&v->hdr->wake_seq, w);
	}
}

/* ---- events ring -------------------------------------------------------------------------- */

static inline int fr__events_setup(struct fr_events_reader *r, unsigned from)
{
	const struct fr_region_header *h = r->region.hdr;
	r->slots = (const struct fr_events_slot *)(const void *)(r->region.base + h->ring_offset);
	r->capacity = h->slot_count;
	r->mask = h->slot_count - 1u;
	r->telemetry = h->telemetry_offset
			       ? (const struct fr_telemetry_entry *)(const void *)(r->region.base + h->telemetry_offset)
			       : NULL;
	r->telemetry_count = h->telemetry_offset ? h->telemetry_count : 0;
	/* acquire: pairs with the writer's release store of head; records below it are complete */
	uint64_t head = fr__ld64_acq(&h->head);
	r->cursor = (from == FR_FROM_OLDEST && head > r->capacity) ? head - r->capacity
		    : from == FR_FROM_OLDEST                        ? 0
								    : head;
	r->cur = NULL;
	r->lost = 0;
	return FR_OK;
}

/* Map an events region read-only. shm_dir NULL = /dev/shm. from: FR_FROM_LATEST or _OLDEST.
 * On failure r->region.found_major/minor say what was found (FR_VERSION_MISMATCH). */
static inline int fr_events_open(struct fr_events_reader *r, const char *shm_dir, const char *instance,
				 unsigned from)
{
	char path[FLOWRING_PATH_MAX];
	memset(r, 0, sizeof(*r));
	int st = fr_region_path(path, sizeof(path), shm_dir, instance, NULL);
	if (st != 0)
		return st;
	st = fr__region_open(&r->region, path, FR_REGION_EVENTS);
	return st != FR_OK ? st : fr__events_setup(r, from);
}

/* Read an events region image the caller mapped or copied (page aligned); not unmapped at close. */
static inline int fr_events_attach(struct fr_events_reader *r, const void *base, uint64_t size, unsigned from)
{
	memset(r, 0, sizeof(*r));
	int st = fr_region_validate(base, size, FR_REGION_EVENTS, &r->region);
	return st != FR_OK ? st : fr__events_setup(r, from);
}

static inline void fr_events_close(struct fr_events_reader *r) { fr__region_unmap(&r->region); }

/* After FR_NEW_GENERATION (or DEAD, to look for a restarted producer): map the file now under
 * the same name and read it from its oldest record. Loss counters carry over. */
static inline int fr_events_reopen(struct fr_events_reader *r)
{
	struct fr_events_reader n;
	char path[FLOWRING_PATH_MAX];
	memcpy(path, r->region.path, sizeof(path));
	memset(&n, 0, sizeof(n));
	int st = fr__region_open(&n.region, path, FR_REGION_EVENTS);
	if (st != FR_OK)
		return st;
	if (n.region.ino == r->region.ino && n.region.dev == r->region.dev) {
		fr__region_unmap(&n.region);
		return FR_NOT_READY; /* same file: no new generation yet */
	}
	n.total_lost = r->total_lost;
	n.received = r->received;
	fr_events_close(r);
	*r = n;
	return fr__events_setup(r, FR_FROM_OLDEST);
}

/* The writer lapped us: the slot at our cursor holds a newer position. Jump to the oldest record
 * still valid and account exactly for the skipped positions (all were overwritten). */
static inline int fr__events_lapped(struct fr_events_reader *r, uint64_t seq)
{
	/* acquire: pairs with the writer's release store of head after each complete slot */
	uint64_t head = fr__ld64_acq(&r->region.hdr->head);
	uint64_t p = (seq - 1u) / 2u; /* position the slot holds or is being written with */
	uint64_t n = head > r->capacity ? head - r->capacity : 0;
	uint64_t n2 = p + 1u > r->capacity ? p + 1u - r->capacity : 0;
	if (n2 > n)
		n = n2;
	if (n <= r->cursor)
		n = r->cursor + 1u; /* only reachable with a damaged region: still make progress */
	r->lost = n - r->cursor;
	r->total_lost += r->lost;
	r->cursor = n;
	r->cur = NULL;
	return FR_LAPPED;
}

static inline int fr__events_idle(struct fr_events_reader *r)
{
	int st = fr__region_liveness(&r->region);
	return st == FR_OK ? FR_AGAIN : st;
}

/* Zero-copy: *rec points at the next record in shared memory. Use it, then fr_events_check().
 * Returns FR_OK, FR_AGAIN, FR_LAPPED (fr_events_lost() records skipped; call again), or a
 * liveness state when there is nothing to read (FR_PRODUCER_STALE/_DEAD, FR_NEW_GENERATION). */
static inline int fr_events_next(struct fr_events_reader *r, const struct fr_conn **rec)
{
	const struct fr_events_slot *s = &r->slots[r->cursor & r->mask];
	uint64_t want = 2u * r->cursor + 2u;
	/* acquire: pairs with the writer's release store of the even sequence after the data */
	uint64_t seq = fr__ld64_acq(&s->seq);
	if (seq == want) {
		r->cur = s;
		r->cur_seq = want;
		r->cursor++;
		r->received++;
		*rec = &s->rec;
		return FR_OK;
	}
	*rec = NULL;
	if (seq > want)
		return fr__events_lapped(r, seq);
	return fr__events_idle(r);
}

/* Was the record last returned by fr_events_next() intact while it was used? FR_OK, or
 * FR_LAPPED: it was overwritten, discard what was read (counted as one lost record). */
static inline int fr_events_check(struct fr_events_reader *r)
{
	if (!r->cur)
		return FR_OK;
	/* acquire fence: pairs with the writer's release fence after it made the slot odd; if any
	 * byte we read was overwritten, the sequence load below sees the odd (or newer) value */
	fr__fence_acq();
	if (fr__ld64(&r->cur->seq) == r->cur_seq)
		return FR_OK;
	r->cur = NULL;
	r->lost = 1;
	r->total_lost++;
	r->received--;
	return FR_LAPPED;
}

/* Copy-out: the next record into *out, already validated. Same results as fr_events_next(). */
static inline int fr_events_read(struct fr_events_reader *r, struct fr_conn *out)
{
	const struct fr_events_slot *s = &r->slots[r->cursor & r->mask];
	uint64_t want = 2u * r->cursor + 2u;
	uint64_t seq = fr__ld64_acq(&s->seq); /* pairs with the writer's release of the even seq */
	if (seq == want) {
		fr__copy_rec(out, &s->rec);
		fr__fence_acq(); /* pairs with the writer's release fence after the odd store */
		seq = fr__ld64(&s->seq);
		if (seq == want) {
			r->cursor++;
			r->received++;
			r->cur = NULL;
			return FR_OK;
		}
	}
	if (seq > want)
		return fr__events_lapped(r, seq);
	return fr__events_idle(r);
}

static inline int fr__events_ready(const void *arg)
{
	const struct fr_events_reader *r = (const struct fr_events_reader *)arg;
	const struct fr_events_slot *s = &r->slots[r->cursor & r->mask];
	return fr__ld64_acq(&s->seq) >= 2u * r->cursor + 2u; /* pairs with the writer's even store */
}

/* Block until fr_events_next() has something (FR_OK), or timeout_ms passes (FR_TIMED_OUT, or
 * FR_PRODUCER_STALE if the heartbeat stopped), or FR_NEW_GENERATION / FR_PRODUCER_DEAD.
 * timeout_ms < 0 waits forever. The producer wakes waiters at the end of each batch. */
static inline int fr_events_wait(struct fr_events_reader *r, int timeout_ms)
{
	return fr__wait(&r->region, fr__events_ready, r, timeout_ms);
}

static inline uint64_t fr_events_lost(const struct fr_events_reader *r) { return r->lost; }
static inline uint64_t fr_events_position(const struct fr_events_reader *r) { return r->cursor; }
static inline uint32_t fr_events_telemetry_count(const struct fr_events_reader *r) { return r->telemetry_count; }

/* Telemetry entry i: name (NUL-terminated) and value. FR_OK, FR_AGAIN for an unused entry,
 * -ERANGE past the end. Values are independent relaxed counters (telemetry.h). */
static inline int fr_events_telemetry(const struct fr_events_reader *r, uint32_t i,
				      char name[FR_TELEMETRY_NAME_LEN], uint64_t *value)
{
	if (i >= r->telemetry_count)
		return -ERANGE;
	const struct fr_telemetry_entry *e = &r->telemetry[i];
	/* acquire: pairs with the producer's release store of name[0], written after the rest */
	if (__atomic_load_n(&e->name[0], __ATOMIC_ACQUIRE) == '\0')
		return FR_AGAIN;
	for (unsigned k = 0; k < FR_TELEMETRY_NAME_LEN; k++)
		name[k] = __atomic_load_n(&e->name[k], __ATOMIC_RELAXED);
	name[FR_TELEMETRY_NAME_LEN - 1] = '\0';
	*value = fr__ld64(&e->value);
	return FR_OK;
}

/* ---- snapshot ring ------------------------------------------------------------------------ */

static inline int fr__snapshot_setup(struct fr_snapshot_reader *r)
{
	const struct fr_region_header *h = r->region.hdr;
	r->slots = r->region.base + h->ring_offset;
	r->slot_bytes = h->slot_size;
	r->nslots = h->slot_count;
	r->capacity = h->slot_capacity;
	return FR_OK;
}

/* Map client client_id's snapshot region read-only (shm_dir NULL = /dev/shm). */
static inline int fr_snapshot_open(struct fr_snapshot_reader *r, const char *shm_dir, const char *instance,
				   const char *client_id)
{
	char path[FLOWRING_PATH_MAX];
	memset(r, 0, sizeof(*r));
	int st = fr_region_path(path, sizeof(path), shm_dir, instance, client_id ? client_id : "");
	if (st != 0)
		return st;
	st = fr__region_open(&r->region, path, FR_REGION_SNAPSHOT);
	return st != FR_OK ? st : fr__snapshot_setup(r);
}

static inline int fr_snapshot_attach(struct fr_snapshot_reader *r, const void *base, uint64_t size)
{
	memset(r, 0, sizeof(*r));
	int st = fr_region_validate(base, size, FR_REGION_SNAPSHOT, &r->region);
	return st != FR_OK ? st : fr__snapshot_setup(r);
}

static inline void fr_snapshot_close(struct fr_snapshot_reader *r) { fr__region_unmap(&r->region); }

/* After FR_NEW_GENERATION: map the newer file under the same name (FR_NOT_READY if none yet). */
static inline int fr_snapshot_reopen(struct fr_snapshot_reader *r)
{
	struct fr_snapshot_reader n;
	memset(&n, 0, sizeof(n));
	int st = fr__region_open(&n.region, r->region.path, FR_REGION_SNAPSHOT);
	if (st != FR_OK)
		return st;
	if (n.region.ino == r->region.ino && n.region.dev == r->region.dev) {
		fr__region_unmap(&n.region);
		return FR_NOT_READY;
	}
	fr_snapshot_close(r);
	*r = n;
	return fr__snapshot_setup(r);
}

static inline const struct fr_snapshot_slot *fr__snapshot_slot(const struct fr_snapshot_reader *r, uint64_t n)
{
	return (const struct fr_snapshot_slot *)(const void *)(r->slots + (n % r->nslots) * r->slot_bytes);
}

/* Zero-copy view of the newest committed snapshot. FR_OK; FR_AGAIN (none yet, or the writer kept
 * lapping us); FR_NEW_GENERATION (retired: reopen); FR_PRODUCER_*; FR_CORRUPT. */
static inline int fr_snapshot_latest(struct fr_snapshot_reader *r, struct fr_snapshot_view *v)
{
	const struct fr_region_header *h = r->region.hdr;
	memset(v, 0, sizeof(*v));
	for (int i = 0; i < FLOWRING_MAX_RETRIES; i++) {
		if (fr__ld32_acq(&h->state) == FR_STATE_RETIRED) /* pairs with the retire release */
			return FR_NEW_GENERATION;
		uint64_t n = fr__ld64_acq(&h->head); /* pairs with the commit's release store of head */
		if (n == 0) {
			int st = fr__region_liveness(&r->region);
			return st == FR_OK ? FR_AGAIN : st;
		}
		const struct fr_snapshot_slot *s = fr__snapshot_slot(r, n);
		if (fr__ld64_acq(&s->seq) != 2u * n) /* pairs with the commit's release of the even seq */
			continue;
		uint64_t count = fr__ld64(&s->count), snap = fr__ld64(&s->snap_seq);
		uint64_t rt = fr__ld64(&s->read_time_ns);
		fr__fence_acq(); /* pairs with the writer's release fence after the odd store */
		if (fr__ld64(&s->seq) != 2u * n)
			continue;
		if (count > r->capacity || snap != n)
			return FR_CORRUPT;
		v->records = (const struct fr_conn *)(const void *)((const unsigned char *)s +
								     FR_SNAPSHOT_SLOT_HEADER_SIZE);
		v->count = count;
		v->snap_seq = n;
		v->read_time_ns = rt;
		v->generation = r->region.generation;
		v->slot = s;
		return FR_OK;
	}
	return FR_AGAIN;
}

/* Were the view's records intact while they were used? FR_OK or FR_LAPPED (take a new view). */
static inline int fr_snapshot_valid(const struct fr_snapshot_reader *r, const struct fr_snapshot_view *v)
{
	(void)r;
	fr__fence_acq(); /* pairs with the writer's release fence after the odd store */
	return fr__ld64(&v->slot->seq) == 2u * v->snap_seq ? FR_OK : FR_LAPPED;
}

/* Copy-out the newest snapshot into out[0..cap). On FR_OK meta (optional) describes it and
 * meta->records is NULL. -ENOBUFS: cap is too small, meta->count is what is needed. */
static inline int fr_snapshot_copy(struct fr_snapshot_reader *r, struct fr_conn *out, uint64_t cap,
				   struct fr_snapshot_view *meta)
{
	struct fr_snapshot_view v;
	for (int i = 0; i < FLOWRING_MAX_RETRIES; i++) {
		int st = fr_snapshot_latest(r, &v);
		if (st != FR_OK)
			return st;
		if (v.count > cap) {
			if (meta) {
				*meta = v;
				meta->records = NULL;
			}
			return -ENOBUFS;
		}
		for (uint64_t k = 0; k < v.count; k++)
			fr__copy_rec(&out[k], &v.records[k]);
		if (fr_snapshot_valid(r, &v) == FR_OK) {
			if (meta) {
				*meta = v;
				meta->records = NULL;
			}
			return FR_OK;
		}
	}
	return FR_AGAIN;
}

struct fr__snap_wait {
	const struct fr_region_header *h;
	uint64_t after;
};

static inline int fr__snapshot_ready(const void *arg)
{
	const struct fr__snap_wait *w = (const struct fr__snap_wait *)arg;
	return fr__ld64_acq(&w->h->head) > w->after; /* pairs with the commit's release of head */
}

/* Block until a snapshot numbered above after_seq is committed (FR_OK), or as fr_events_wait. */
static inline int fr_snapshot_wait(struct fr_snapshot_reader *r, uint64_t after_seq, int timeout_ms)
{
	struct fr__snap_wait w;
	w.h = r->region.hdr;
	w.after = after_seq;
	return fr__wait(&r->region, fr__snapshot_ready, &w, timeout_ms);
}

#ifdef __cplusplus
}
#endif

#endif /* FLOWRING_H */
