/* snapshot_ring.c - see snapshot_ring.h. */
#include "snapshot_ring.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <flowring/flowring.h> /* fr__wake_bit: the wake chain's tag, shared with readers */

#include "log.h"

/* GCC's TSan does not model fences (-Wtsan); the release fence of the seqlock writer stays.
 * TSan has nothing to miss here: every shared word is written with an atomic store. */
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wtsan"
#endif

typedef uint64_t __attribute__((may_alias)) fr_u64a;

/* Largest capacity whose slot size still fits the header's 32-bit slot_size. */
#define FR_SNAPSHOT_MAX_CAPACITY ((UINT32_MAX - 127u) / FR_CONN_SIZE)

static struct fr_snapshot_slot *fr_snapshot_slot(struct fr_region *r, uint64_t n)
{
	struct fr_region_header *h = r->hdr;
	return (struct fr_snapshot_slot *)(void *)(r->base + h->ring_offset + (n % h->slot_count) * h->slot_size);
}

static struct fr_conn *fr_snapshot_records(struct fr_snapshot_slot *s)
{
	return (struct fr_conn *)(void *)((unsigned char *)s + FR_SNAPSHOT_SLOT_HEADER_SIZE);
}

static void fr_snapshot_store_rec(struct fr_conn *dst, const struct fr_conn *src)
{
	const fr_u64a *s = (const fr_u64a *)(const void *)src;
	fr_u64a *d = (fr_u64a *)(void *)dst;
	for (unsigned i = 0; i < FR_CONN_SIZE / 8u; i++)
		__atomic_store_n(&d[i], s[i], __ATOMIC_RELAXED);
}

/* Make slot s odd for snapshot n: readers of its previous snapshot will see it changed. */
static void fr_snapshot_open_slot(struct fr_snapshot_slot *s, uint64_t n)
{
	__atomic_store_n(&s->seq, 2u * n - 1u, __ATOMIC_RELAXED);
	/* pairs with the reader's acquire fence before its re-check (Boehm's writer) */
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static void fr_snapshot_close_slot(struct fr_snapshot_slot *s, uint64_t n, uint64_t count, uint64_t read_time_ns)
{
	__atomic_store_n(&s->count, count, __ATOMIC_RELAXED);
	__atomic_store_n(&s->snap_seq, n, __ATOMIC_RELAXED);
	__atomic_store_n(&s->read_time_ns, read_time_ns, __ATOMIC_RELAXED);
	/* release: pairs with the reader's acquire load of seq; records and counts are complete */
	__atomic_store_n(&s->seq, 2u * n, __ATOMIC_RELEASE);
}

static int fr_snapshot_new_region(struct fr_snapshot_writer *w, struct fr_region *r, uint32_t capacity,
				  uint64_t generation)
{
	struct fr_region_params rp = {
		.shm_dir = w->shm_dir[0] ? w->shm_dir : NULL,
		.instance = w->instance,
		.client_id = w->client_id,
		.kind = FR_REGION_SNAPSHOT,
		.slot_size = (uint32_t)FR_SNAPSHOT_SLOT_BYTES(capacity),
		.slot_count = w->slots,
		.slot_capacity = capacity,
		.heartbeat_interval_ms = w->heartbeat_interval_ms,
		.gid = w->gid,
		.mode = w->mode,
		.generation = generation,
	};
	return fr_region_create(r, &rp);
}

int fr_snapshot_create(struct fr_snapshot_writer *w, const struct fr_snapshot_params *p)
{
	int rc;
	memset(w, 0, sizeof(*w));
	if (p->shm_dir && (size_t)snprintf(w->shm_dir, sizeof(w->shm_dir), "%s", p->shm_dir) >= sizeof(w->shm_dir))
		return -ENAMETOOLONG;
	snprintf(w->instance, sizeof(w->instance), "%s", p->instance ? p->instance : "");
	snprintf(w->client_id, sizeof(w->client_id), "%s", p->client_id ? p->client_id : "");
	w->slots = p->slots ? p->slots : FR_SNAPSHOT_DEFAULT_SLOTS;
	w->capacity = p->capacity ? p->capacity : FR_SNAPSHOT_DEFAULT_CAPACITY;
	w->heartbeat_interval_ms = p->heartbeat_interval_ms;
	w->gid = p->gid;
	w->mode = p->mode;
	w->next = 1;
	if (w->capacity > FR_SNAPSHOT_MAX_CAPACITY)
		return -E2BIG;
	rc = fr_snapshot_new_region(w, &w->region, w->capacity, 0);
	if (rc != 0)
		return rc;
	rc = fr_region_publish(&w->region);
	if (rc != 0)
		fr_region_retire(&w->region);
	return rc;
}

/* Replace the region with a generation holding need records per slot: the last committed
 * snapshot and the open one's records so far are copied over, so readers lose nothing. */
static int fr_snapshot_grow(struct fr_snapshot_writer *w, uint64_t need)
{
	struct fr_region nr;
	uint64_t cap = (uint64_t)w->capacity * 2u;
	uint64_t last = w->next - 1u;
	int rc;

	if (cap < need)
		cap = need;
	if (cap > FR_SNAPSHOT_MAX_CAPACITY)
		cap = FR_SNAPSHOT_MAX_CAPACITY;
	if (cap < need) {
		fr_err("snapshot %s: %llu records exceed the largest slot (%u)", w->region.path,
		       (unsigned long long)need, FR_SNAPSHOT_MAX_CAPACITY);
		return -E2BIG;
	}
	rc = fr_snapshot_new_region(w, &nr, (uint32_t)cap, w->region.hdr->generation + 1u);
	if (rc != 0)
		return rc;
	if (last > 0) {
		struct fr_snapshot_slot *os = fr_snapshot_slot(&w->region, last), *ns = fr_snapshot_slot(&nr, last);
		uint64_t cnt = os->count;
		for (uint64_t i = 0; i < cnt; i++)
			fr_snapshot_store_rec(&fr_snapshot_records(ns)[i], &fr_snapshot_records(os)[i]);
		fr_snapshot_close_slot(ns, last, cnt, os->read_time_ns);
		nr.hdr->head = last; /* not yet visible to readers: published below */
	}
	if (w->cur) {
		struct fr_snapshot_slot *ns = fr_snapshot_slot(&nr, w->next);
		fr_snapshot_open_slot(ns, w->next);
		for (uint64_t i = 0; i < w->count; i++)
			fr_snapshot_store_rec(&fr_snapshot_records(ns)[i], &fr_snapshot_records(w->cur)[i]);
		w->cur = ns;
	}
	rc = fr_region_publish(&nr);
	if (rc != 0) {
		fr_region_retire(&nr);
		if (w->cur)
			w->cur = fr_snapshot_slot(&w->region, w->next);
		return rc;
	}
	fr_region_close_replaced(&w->region);
	w->region = nr;
	w->capacity = (uint32_t)cap;
	w->regrows++;
	fr_info("snapshot %s: grown to %llu records per slot (generation %llu)", w->region.path,
		(unsigned long long)cap, (unsigned long long)w->region.hdr->generation);
	return 0;
}

int fr_snapshot_begin_sp(struct fr_snapshot_writer *w, uint64_t read_time_ns, uint64_t expected)
{
	if (w->cur)
		return -EBUSY;
	if (expected > w->capacity) {
		int rc = fr_snapshot_grow(w, expected);
		if (rc != 0)
			return rc;
	}
	w->cur = fr_snapshot_slot(&w->region, w->next);
	fr_snapshot_open_slot(w->cur, w->next);
	w->count = 0;
	w->read_time_ns = read_time_ns;
	return 0;
}

int fr_snapshot_append_sp(struct fr_snapshot_writer *w, const struct fr_conn *rec)
{
	if (!w->cur)
		return -EINVAL;
	if (w->count >= w->capacity) {
		int rc = fr_snapshot_grow(w, w->count + 1u);
		if (rc != 0)
			return rc;
	}
	fr_snapshot_store_rec(&fr_snapshot_records(w->cur)[w->count], rec);
	w->count++;
	return 0;
}

int fr_snapshot_commit_sp(struct fr_snapshot_writer *w)
{
	struct fr_region_header *h = w->region.hdr;
	if (!w->cur)
		return -EINVAL;
	fr_snapshot_close_slot(w->cur, w->next, w->count, w->read_time_ns);
	/* release: pairs with the reader's acquire load of head; slot next is complete */
	__atomic_store_n(&h->head, w->next, __ATOMIC_RELEASE);
	/* release: pairs with the waiting reader's acquire load of wake_seq (see fr__wait) */
	uint32_t old = __atomic_load_n(&h->wake_seq, __ATOMIC_RELAXED);
	__atomic_store_n(&h->wake_seq, old + 1u, __ATOMIC_RELEASE);
	/* one sleeper of the old value; readers pass it on (see events_ring.c) */
	syscall(SYS_futex, &h->wake_seq, 10 /* FUTEX_WAKE_BITSET, shared */, 1, NULL, NULL, fr__wake_bit(old));
	w->next++;
	w->cur = NULL;
	return 0;
}

void fr_snapshot_abort_sp(struct fr_snapshot_writer *w)
{
	if (!w->cur)
		return;
	/* release: the slot now holds no snapshot; readers never pick it (head points elsewhere) */
	__atomic_store_n(&w->cur->seq, 0, __ATOMIC_RELEASE);
	w->cur = NULL;
}

void fr_snapshot_heartbeat_sp(struct fr_snapshot_writer *w, uint64_t now_ns)
{
	fr_region_heartbeat_sp(&w->region, now_ns);
}

int fr_snapshot_retire(struct fr_snapshot_writer *w)
{
	w->cur = NULL;
	return fr_region_retire(&w->region);
}
