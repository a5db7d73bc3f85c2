/* region.c - see region.h. */
#define _GNU_SOURCE
#include "region.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <flowring/flowring.h> /* fr_name_valid, fr_region_path, fr__proc_stat: one definition of the names */

#include "log.h"

uint64_t fr_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t fr_region_self_start_time(void)
{
	uint64_t st = 0;
	char state;
	if (fr__proc_stat((uint32_t)getpid(), &st, &state) != 0)
		return 0;
	return st;
}

/* The generation now under path (0 if none or unreadable): a new region takes the next one. */
static uint64_t fr_region_current_generation(const char *path)
{
	struct fr_region_header h;
	uint64_t gen = 0;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) && h.magic == FR_REGION_MAGIC)
		gen = h.generation;
	close(fd);
	return gen;
}

static int fr_region_check_params(const struct fr_region_params *p, uint64_t *size)
{
	uint64_t ring, total;
	if ((p->kind != FR_REGION_EVENTS && p->kind != FR_REGION_SNAPSHOT) || p->slot_count == 0 ||
	    p->slot_size == 0 || p->slot_size % 64u != 0 || p->telemetry_bytes % 64u != 0)
		return -EINVAL;
	if (p->kind == FR_REGION_EVENTS &&
	    (p->slot_size != FR_EVENTS_SLOT_SIZE || (p->slot_count & (p->slot_count - 1u)) != 0 || p->slot_count < 2))
		return -EINVAL;
	if (p->kind == FR_REGION_SNAPSHOT &&
	    (p->slot_count < 2 || p->slot_count > 64 || p->slot_capacity == 0 ||
	     p->slot_size != FR_SNAPSHOT_SLOT_BYTES(p->slot_capacity)))
		return -EINVAL;
	ring = (uint64_t)p->slot_count * p->slot_size;
	total = FR_REGION_HEADER_SIZE + p->telemetry_bytes + ring;
	*size = (total + 4095u) & ~(uint64_t)4095u;
	return 0;
}

static void fr_region_fill_header(struct fr_region *r, const struct fr_region_params *p, uint64_t gen)
{
	struct fr_region_header *h = r->hdr;
	struct timespec rt;

	clock_gettime(CLOCK_REALTIME, &rt);
	h->magic = FR_REGION_MAGIC;
	h->abi_major = FR_ABI_MAJOR;
	h->abi_minor = FR_ABI_MINOR;
	h->header_size = FR_REGION_HEADER_SIZE;
	h->kind = p->kind;
	h->record_size = FR_CONN_SIZE;
	h->slot_size = p->slot_size;
	h->slot_count = p->slot_count;
	h->region_size = r->size;
	h->generation = gen;
	h->slot_capacity = p->kind == FR_REGION_SNAPSHOT ? p->slot_capacity : 1u;
	h->heartbeat_interval_ms = p->heartbeat_interval_ms ? p->heartbeat_interval_ms : FR_REGION_DEFAULT_HEARTBEAT_MS;
	h->producer_pid = (uint32_t)getpid();
	h->telemetry_offset = p->telemetry_bytes ? FR_REGION_HEADER_SIZE : 0;
	h->telemetry_count = p->telemetry_bytes ? p->telemetry_count : 0;
	h->ring_offset = FR_REGION_HEADER_SIZE + p->telemetry_bytes;
	h->ring_size = (uint64_t)p->slot_count * p->slot_size;
	h->producer_start_time = fr_region_self_start_time();
	h->created_realtime_ns = (uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec;
	h->producer_pidns = fr__pidns_self();
	snprintf(h->instance, sizeof(h->instance), "%s", p->instance);
	snprintf(h->client_id, sizeof(h->client_id), "%s", p->client_id ? p->client_id : "");
	__atomic_store_n(&h->heartbeat_ns, fr_now_ns(), __ATOMIC_RELAXED);
	/* state stays INIT (the file is zero-filled); READY is stored by fr_region_publish() */
}

int fr_region_create(struct fr_region *r, const struct fr_region_params *p)
{
	uint64_t size = 0, gen;
	int fd = -1, rc;
	void *base = MAP_FAILED;
	struct stat st;
	mode_t mode = p->mode ? (mode_t)p->mode : FR_REGION_DEFAULT_MODE;

	memset(r, 0, sizeof(*r));
	rc = fr_region_path(r->path, sizeof(r->path), p->shm_dir, p->instance, p->client_id);
	if (rc != 0) {
		fr_err("region: invalid instance '%s' or client id '%s' (printable, no '/', no leading '.', < %u bytes)",
		       p->instance ? p->instance : "(null)", p->client_id ? p->client_id : "", FR_NAME_MAX);
		return rc;
	}
	rc = fr_region_check_params(p, &size);
	if (rc != 0) {
		fr_err("region %s: invalid geometry (slot_size %u, slot_count %u)", r->path, p->slot_size,
		       p->slot_count);
		return rc;
	}
	snprintf(r->tmp_path, sizeof(r->tmp_path), "%s.tmp.%d", r->path, (int)getpid());
	gen = p->generation ? p->generation : fr_region_current_generation(r->path) + 1u;

	/* O_EXCL|O_NOFOLLOW: never open something planted at the temporary name */
	fd = open(r->tmp_path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0) {
		rc = -errno;
		fr_err("region: cannot create %s: %s%s", r->tmp_path, strerror(-rc),
		       rc == -EEXIST ? " (left by a crashed producer, or planted: refusing to reuse it)" : "");
		return rc;
	}
	if (fchmod(fd, mode) != 0 || (p->gid != (gid_t)-1 && fchown(fd, (uid_t)-1, p->gid) != 0)) {
		rc = -errno;
		fr_err("region %s: cannot set mode %o / group %d: %s", r->tmp_path, (unsigned)mode, (int)p->gid,
		       strerror(-rc));
		goto cleanup;
	}
	/* allocate every page now: a full tmpfs fails here, not with SIGBUS on a later store */
	rc = posix_fallocate(fd, 0, (off_t)size);
	if (rc != 0) {
		rc = -rc;
		fr_err("region %s: cannot allocate %llu bytes: %s%s", r->tmp_path, (unsigned long long)size,
		       strerror(-rc), rc == -ENOSPC ? " (shared-memory filesystem full: free space in it, raise its "
						     "size, or use a smaller ring)" : "");
		goto cleanup;
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		goto cleanup;
	}
	/* The events ring is populated: its pages exist already (fallocate), and mapping them now spares the
	 * writer a minor fault per page on its first pass, on the ingest path. Snapshot regions are not: they
	 * are large, grow on the loop thread, and a slot is often never written (populating a 1M-connection
	 * region took ~0.5 GB more RSS, bench_scale (d)). */
	int flags = MAP_SHARED | (p->kind == FR_REGION_EVENTS ? MAP_POPULATE : 0);
	base = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, flags, fd, 0);
	if (base == MAP_FAILED) {
		rc = -errno;
		fr_err("region %s: mmap %llu bytes: %s", r->tmp_path, (unsigned long long)size, strerror(-rc));
		goto cleanup;
	}
	r->base = base;
	r->hdr = base;
	r->size = (size_t)size;
	r->dev = st.st_dev;
	r->ino = st.st_ino;
	fr_region_fill_header(r, p, gen);
	rc = 0;
cleanup:
	if (fd >= 0)
		close(fd);
	if (rc != 0) {
		unlink(r->tmp_path);
		r->hdr = NULL;
		r->base = NULL;
	}
	return rc;
}

int fr_region_publish(struct fr_region *r)
{
	struct stat st;
	if (lstat(r->path, &st) == 0 && !S_ISREG(st.st_mode)) {
		fr_err("region: refusing to publish over %s: it is a %s, not a region file", r->path,
		       S_ISLNK(st.st_mode) ? "symlink" : "non-regular file");
		return -ELOOP;
	}
	/* release: pairs with readers' acquire load of state; every header field and section the
	 * caller initialised is visible to a reader that sees READY */
	__atomic_store_n(&r->hdr->state, (uint32_t)FR_STATE_READY, __ATOMIC_RELEASE);
	/* rename() replaces the name atomically and never follows a symlink at the target */
	if (rename(r->tmp_path, r->path) != 0) {
		int rc = -errno;
		fr_err("region: rename %s -> %s: %s", r->tmp_path, r->path, strerror(-rc));
		return rc;
	}
	r->published = true;
	return 0;
}

void fr_region_heartbeat_sp(struct fr_region *r, uint64_t now_ns)
{
	/* relaxed: readers only compare it with their clock; it orders nothing */
	__atomic_store_n(&r->hdr->heartbeat_ns, now_ns, __ATOMIC_RELAXED);
}

/* Wake every reader blocked on the wake word (shared futex: no FUTEX_PRIVATE_FLAG). */
static void fr_region_wake_all(struct fr_region *r)
{
	syscall(SYS_futex, &r->hdr->wake_seq, 1 /* FUTEX_WAKE */, INT_MAX, NULL, NULL, 0);
}

static void fr_region_mark_retired(struct fr_region *r)
{
	/* release: pairs with readers' acquire of state; everything published before is visible */
	__atomic_store_n(&r->hdr->state, (uint32_t)FR_STATE_RETIRED, __ATOMIC_RELEASE);
	/* changing the word makes a reader about to FUTEX_WAIT return at once (pairs with its acquire) */
	__atomic_store_n(&r->hdr->wake_seq, __atomic_load_n(&r->hdr->wake_seq, __ATOMIC_RELAXED) + 1u,
			 __ATOMIC_RELEASE);
	fr_region_wake_all(r);
}

void fr_region_close_replaced(struct fr_region *r)
{
	if (!r->hdr)
		return;
	fr_region_mark_retired(r);
	munmap(r->base, r->size);
	r->hdr = NULL;
	r->base = NULL;
}

int fr_region_retire(struct fr_region *r)
{
	struct stat st;
	int rc = 0;
	if (!r->hdr)
		return 0;
	fr_region_mark_retired(r);
	if (!r->published) {
		unlink(r->tmp_path);
	} else if (stat(r->path, &st) == 0 && st.st_ino == r->ino && st.st_dev == r->dev) {
		if (unlink(r->path) != 0) {
			rc = -errno;
			fr_warn("region: unlink %s: %s", r->path, strerror(-rc));
		}
	}
	munmap(r->base, r->size);
	r->hdr = NULL;
	r->base = NULL;
	return rc;
}

/* Is the file at dirfd/name a region (or temporary) of a dead producer? */
static bool fr_region_is_stale(int dirfd, const char *name)
{
	struct fr_region_header h;
	const char *tmp = strstr(name, ".tmp.");
	if (tmp) {
		char *end;
		long pid = strtol(tmp + 5, &end, 10);
		return *end == '\0' && pid > 0 && fr__pid_alive((uint32_t)pid, 0) == 0;
	}
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool stale = pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) && h.magic == FR_REGION_MAGIC &&
		     h.producer_pid > 0 && fr__pid_alive(h.producer_pid, h.producer_start_time) == 0;
	close(fd);
	return stale;
}

int fr_region_cleanup_stale(const char *shm_dir, const char *instance)
{
	char prefix[64];
	struct dirent *de;
	int removed = 0;
	DIR *d;

	if (fr_name_valid(instance) != 0)
		return -EINVAL;
	snprintf(prefix, sizeof(prefix), "flowring.%s.", instance);
	d = opendir(shm_dir ? shm_dir : FLOWRING_DEFAULT_SHM_DIR);
	if (!d) {
		int rc = -errno;
		fr_err("region: cannot scan %s: %s", shm_dir ? shm_dir : FLOWRING_DEFAULT_SHM_DIR, strerror(-rc));
		return rc;
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0 || !fr_region_is_stale(dirfd(d), de->d_name))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0) {
			fr_info("region: removed %s left by a dead producer", de->d_name);
			removed++;
		}
	}
	closedir(d);
	return removed;
}
