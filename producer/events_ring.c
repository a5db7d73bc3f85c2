/* events_ring.c - see events_ring.h. */
#include "events_ring.h"

#include <errno.h>
#include <limits.h>
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

int fr_events_create(struct fr_events_writer *w, const struct fr_events_params *p)
{
	struct fr_region_params rp = {
		.shm_dir = p->shm_dir,
		.instance = p->instance,
		.client_id = NULL,
		.kind = FR_REGION_EVENTS,
		.slot_size = FR_EVENTS_SLOT_SIZE,
		.slot_count = p->capacity ? p->capacity : FR_EVENTS_DEFAULT_CAPACITY,
		.telemetry_bytes = (uint64_t)FR_TELEMETRY_MAX * sizeof(struct fr_telemetry_entry),
		.telemetry_count = FR_TELEMETRY_MAX,
		.heartbeat_interval_ms = p->heartbeat_interval_ms,
		.gid = p->gid,
		.mode = p->mode,
	};
	int rc;

	memset(w, 0, sizeof(*w));
	if ((rp.slot_count & (rp.slot_count - 1u)) != 0 || rp.slot_count < 2) {
		fr_err("events ring: capacity %u is not a power of two >= 2", rp.slot_count);
		return -EINVAL;
	}
	rc = fr_region_create(&w->region, &rp);
	if (rc != 0)
		return rc;
	w->slots = (struct fr_events_slot *)(void *)(w->region.base + w->region.hdr->ring_offset);
	w->mask = rp.slot_count - 1u;
	rc = fr_telemetry_init(&w->telemetry, &w->region);
	if (rc == 0)
		rc = fr_region_publish(&w->region);
	if (rc != 0) {
		fr_region_retire(&w->region);
		return rc;
	}
	fr_info("events ring %s: %u slots, generation %llu", w->region.path, rp.slot_count,
		(unsigned long long)w->region.hdr->generation);
	return 0;
}

void fr_events_publish_sp(struct fr_events_writer *w, const struct fr_conn *rec)
{
	uint64_t pos = w->head;
	struct fr_events_slot *s = &w->slots[pos & w->mask];
	const fr_u64a *src = (const fr_u64a *)(const void *)rec;
	fr_u64a *dst = (fr_u64a *)(void *)&s->rec;

	/* Boehm's writer: odd sequence, release fence, data, even sequence with release. The fence
	 * pairs with the reader's acquire fence before its re-check: a reader that saw any of the
	 * new data sees the odd (or a newer) sequence and discards the record. */
	__atomic_store_n(&s->seq, 2u * pos + 1u, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	for (unsigned i = 0; i < FR_CONN_SIZE / 8u; i++)
		__atomic_store_n(&dst[i], src[i], __ATOMIC_RELAXED);
	/* release: pairs with the reader's acquire load of seq; the data above is complete */
	__atomic_store_n(&s->seq, 2u * pos + 2u, __ATOMIC_RELEASE);
	w->head = pos + 1u;
	/* release: pairs with the lapped reader's acquire load of head; positions < head are
	 * complete, so head - capacity is the oldest record still valid */
	__atomic_store_n(&w->region.hdr->head, w->head, __ATOMIC_RELEASE);
}

int fr_events_flush_sp(struct fr_events_writer *w)
{
	if (w->head == w->woken_head)
		return 0;
	w->woken_head = w->head;
	fr_telemetry_set(&w->telemetry, FR_TM_EVENTS_PUBLISHED, w->head);
	/* release: pairs with the waiting reader's acquire load of wake_seq, made before it checks
	 * its slot; a reader that checked before our publish now finds the word changed and its
	 * FUTEX_WAIT returns at once; readers already asleep are woken below */
	uint32_t old = __atomic_load_n(&w->region.hdr->wake_seq, __ATOMIC_RELAXED);
	__atomic_store_n(&w->region.hdr->wake_seq, old + 1u, __ATOMIC_RELEASE);
	/* one sleeper of the old value; the readers pass it on among themselves (flowring.h
	 * fr__futex_pass_on): the writer's cost does not grow with the number of readers */
	syscall(SYS_futex, &w->region.hdr->wake_seq, 10 /* FUTEX_WAKE_BITSET, shared */, 1, NULL, NULL,
		fr__wake_bit(old));
	w->wakes++;
	return 1;
}

int fr_events_flush_lazy_sp(struct fr_events_writer *w, uint64_t now_ns, uint64_t min_interval_ns)
{
	if (w->head == w->woken_head || now_ns - w->last_wake_ns < min_interval_ns)
		return 0;
	w->last_wake_ns = now_ns;
	return fr_events_flush_sp(w);
}

void fr_events_heartbeat_sp(struct fr_events_writer *w, uint64_t now_ns)
{
	fr_region_heartbeat_sp(&w->region, now_ns);
}

int fr_events_retire(struct fr_events_writer *w)
{
	if (!w->region.hdr)
		return 0;
	fr_events_flush_sp(w);
	return fr_region_retire(&w->region);
}
