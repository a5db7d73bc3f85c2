/* Description: snapshot ring: commit/read zero-copy and copied, growth into a new generation (never truncated), overwrite detection, waits, concurrent reader (TSan). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <flowring/flowring.h>

#include "snapshot_ring.h"

static char shm_dir[128];
static struct fr_snapshot_writer w;

static int setup(void **state)
{
	(void)state;
	snprintf(shm_dir, sizeof(shm_dir), "/dev/shm/fr-test-snap-%d-XXXXXX", (int)getpid());
	return mkdtemp(shm_dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return rmdir(shm_dir);
}

static int ring_up(void **state)
{
	struct fr_snapshot_params p = {.shm_dir = shm_dir, .instance = "sn", .client_id = "-1", .slots = 3,
				       .capacity = 8, .gid = (gid_t)-1, .heartbeat_interval_ms = 1000};
	(void)state;
	return fr_snapshot_create(&w, &p);
}

static int ring_down(void **state)
{
	(void)state;
	return fr_snapshot_retire(&w);
}

/* Record k of snapshot n: cookie = n, pid = k, the rest derived from both. */
static void make_rec(struct fr_conn *c, uint64_t n, uint64_t k)
{
	memset(c, 0, sizeof(*c));
	c->cookie = n;
	c->pid = (uint32_t)k;
	c->monotonic_sent_bytes = n * 1000003u + k;
	c->last_sent_bytes = ~c->monotonic_sent_bytes;
}

static int rec_ok(const struct fr_conn *c, uint64_t n, uint64_t k)
{
	struct fr_conn want;
	make_rec(&want, n, k);
	return memcmp(c, &want, sizeof(want)) == 0;
}

static void write_snapshot(uint64_t count)
{
	struct fr_conn c;
	uint64_t n = w.next;
	assert_int_equal(fr_snapshot_begin_sp(&w, 1000 + n, 0), 0);
	for (uint64_t k = 0; k < count; k++) {
		make_rec(&c, n, k);
		assert_int_equal(fr_snapshot_append_sp(&w, &c), 0);
	}
	assert_int_equal(fr_snapshot_commit_sp(&w), 0);
}

static void test_reader_gets_again_before_first_commit(void **state)
{
	struct fr_snapshot_reader r;
	struct fr_snapshot_view v;
	(void)state;
	assert_int_equal(fr_snapshot_open(&r, shm_dir, "sn", "-1"), FR_OK);
	assert_int_equal(fr_snapshot_latest(&r, &v), FR_AGAIN);
	fr_snapshot_heartbeat_sp(&w, fr_now_ns());
	assert_int_equal(fr_snapshot_wait(&r, 0, 20), FR_TIMED_OUT);
	fr_snapshot_close(&r);
	assert_int_equal(fr_snapshot_open(&r, shm_dir, "sn", "nobody"), FR_NOT_READY);
}

static void test_committed_snapshot_reads_zero_copy_and_copied(void **state)
{
	struct fr_snapshot_reader r;
	struct fr_snapshot_view v, meta;
	struct fr_conn out[8];
	(void)state;
	assert_int_equal(fr_snapshot_open(&r, shm_dir, "sn", "-1"), FR_OK);
	write_snapshot(5);
	assert_int_equal(fr_snapshot_latest(&r, &v), FR_OK);
	assert_int_equal(v.snap_seq, 1);
	assert_int_equal(v.count, 5);
	assert_int_equal(v.read_time_ns, 1001);
	for (uint64_t k = 0; k < v.count; k++)
		assert_true(rec_ok(&v.records[k], 1, k));
	assert_int_equal(fr_snapshot_valid(&r, &v), FR_OK);
	write_snapshot(7);
	assert_int_equal(fr_snapshot_copy(&r, out, 8, &meta), FR_OK);
	assert_int_equal(meta.snap_seq, 2);
	assert_int_equal(meta.count, 7);
	for (uint64_t k = 0; k < 7; k++)
		assert_true(rec_ok(&out[k], 2, k));
	assert_int_equal(fr_snapshot_copy(&r, out, 6, &meta), -ENOBUFS);
	assert_int_equal(meta.count, 7);
	fr_snapshot_close(&r);
}

static void test_valid_fails_once_the_slot_is_reused(void **state)
{
	struct fr_snapshot_reader r;
	struct fr_snapshot_view v;
	(void)state;
	assert_int_equal(fr_snapshot_open(&r, shm_dir, "sn", "-1"), FR_OK);
	write_snapshot(3);
	assert_int_equal(fr_snapshot_latest(&r, &v), FR_OK);
	write_snapshot(3);
	write_snapshot(3);
	assert_int_equal(fr_snapshot_valid(&r, &v), FR_OK); /* 3 slots: snapshot 1's slot is still intact */
	assert_int_equal(fr_snapshot_begin_sp(&w, 0, 0), 0);  /* snapshot 4 reuses slot 1 */
	assert_int_equal(fr_snapshot_valid(&r, &v), FR_LAPPED);
	fr_snapshot_abort_sp(&w);
	assert_int_equal(fr_snapshot_latest(&r, &v), FR_OK); /* abort keeps snapshot 3 readable */
	assert_int_equal(v.snap_seq, 3);
	fr_snapshot_close(&r);
}

static void test_oversized_snapshot_grows_new_generation_and_reader_follows(void **state)
{
	struct fr_snapshot_reader r;
	struct fr_snapshot_view v;
	(void)state;
	assert_int_equal(fr_snapshot_open(&r, shm_dir, "sn", "-1"), FR_OK);
	write_snapshot(4);
	write_snapshot(50); /* capacity 8: grows while appending */
	assert_true(w.regrows >= 1);
	assert_true(w.capacity >= 50);
	assert_int_equal(fr_snapshot_latest(&r, &v), FR_NEW_GENERATION);
	assert_int_equal(fr_snapshot_reopen(&r), FR_OK);
	assert_true(r.region.generation >= 2);
	assert_int_equal(fr_snapshot_latest(&r, &v), FR_OK);
	assert_int_equal(v.snap_seq, 2);
	assert_int_equal(v.count, 50); /* never truncated */
	for (uint64_t k = 0; k < 50; k++)
		assert_true(rec_ok(&v.records[k], 2, k));
	assert_int_equal(fr_snapshot_valid(&r, &v), FR_OK);
	fr_snapshot_close(&r);
}

static void test_growth_carries_over_last_committed_snapshot(void **state)
{
	struct fr_snapshot_reader r;
	struct fr_snapshot_view v;
	struct fr_conn c;
	(void)state;
	write_snapshot(6);
	make_rec(&c, 2, 0);
	assert_int_equal(fr_snapshot_begin_sp(&w, 0, 100), 0); /* expected size known up front: grows now */
	assert_int_equal(fr_snapshot_open(&r, shm_dir, "sn", "-1"), FR_OK);
	assert_true(r.region.generation >= 2);
	assert_int_equal(fr_snapshot_latest(&r, &v), FR_OK); /* snapshot 1 readable in the new generation */
	assert_int_equal(v.snap_seq, 1);
	assert_int_equal(v.count, 6);
	assert_true(rec_ok(&v.records[5], 1, 5));
	assert_int_equal(fr_snapshot_append_sp(&w, &c), 0);
	assert_int_equal(fr_snapshot_commit_sp(&w), 0);
	assert_int_equal(fr_snapshot_wait(&r, 1, 1000), FR_OK);
	assert_int_equal(fr_snapshot_latest(&r, &v), FR_OK);
	assert_int_equal(v.snap_seq, 2);
	fr_snapshot_close(&r);
}

static void test_retired_region_reports_new_generation(void **state)
{
	struct fr_snapshot_writer tmp;
	struct fr_snapshot_reader r;
	struct fr_snapshot_view v;
	struct fr_snapshot_params p = {.shm_dir = shm_dir, .instance = "sn", .client_id = "gone", .gid = (gid_t)-1};
	(void)state;
	assert_int_equal(fr_snapshot_create(&tmp, &p), 0);
	assert_int_equal(fr_snapshot_open(&r, shm_dir, "sn", "gone"), FR_OK);
	assert_int_equal(fr_snapshot_retire(&tmp), 0);
	assert_int_equal(fr_snapshot_latest(&r, &v), FR_NEW_GENERATION);
	assert_int_equal(fr_snapshot_wait(&r, 0, 1000), FR_NEW_GENERATION);
	assert_int_equal(fr_snapshot_reopen(&r), FR_NOT_READY);
	fr_snapshot_close(&r);
}

struct snap_reader {
	uint64_t last, seen, bad, copies;
	int done;
};

static void *snapshot_reader(void *arg)
{
	struct snap_reader *s = arg;
	static struct fr_conn out[4096];
	struct fr_snapshot_reader r;
	struct fr_snapshot_view meta;
	if (fr_snapshot_open(&r, shm_dir, "sn", "-1") != FR_OK) {
		s->bad++;
		return NULL;
	}
	while (!__atomic_load_n(&s->done, __ATOMIC_ACQUIRE) || s->last < 400) {
		int st = fr_snapshot_copy(&r, out, 4096, &meta);
		if (st == FR_NEW_GENERATION) {
			fr_snapshot_reopen(&r);
			continue;
		}
		if (st == FR_AGAIN) {
			fr_snapshot_wait(&r, s->last, 50);
			continue;
		}
		if (st != FR_OK) {
			s->bad++;
			break;
		}
		s->copies++;
		/* snapshot n holds n % 700 records, all stamped with n */
		if (meta.count != meta.snap_seq % 700 || meta.snap_seq < s->last)
			s->bad++;
		for (uint64_t k = 0; k < meta.count; k++)
			s->bad += !rec_ok(&out[k], meta.snap_seq, k);
		if (meta.snap_seq != s->last)
			s->seen++;
		s->last = meta.snap_seq;
	}
	fr_snapshot_close(&r);
	return NULL;
}

/* A writer thread commits 400 snapshots of varying size (growing the region on the way) while a
 * reader thread copies them out: every copy is one whole snapshot, never a mix. */
static void test_concurrent_reader_copies_only_whole_snapshots(void **state)
{
	static struct snap_reader s;
	pthread_t t;
	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(pthread_create(&t, NULL, snapshot_reader, &s), 0);
	for (uint64_t n = 1; n <= 400; n++) {
		write_snapshot(n % 700);
		fr_snapshot_heartbeat_sp(&w, fr_now_ns());
	}
	__atomic_store_n(&s.done, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	assert_int_equal(s.bad, 0);
	assert_int_equal(s.last, 400);
	assert_true(s.seen > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reader_gets_again_before_first_commit, ring_up, ring_down),
		cmocka_unit_test_setup_teardown(test_committed_snapshot_reads_zero_copy_and_copied, ring_up, ring_down),
		cmocka_unit_test_setup_teardown(test_valid_fails_once_the_slot_is_reused, ring_up, ring_down),
		cmocka_unit_test_setup_teardown(test_oversized_snapshot_grows_new_generation_and_reader_follows, ring_up,
						ring_down),
		cmocka_unit_test_setup_teardown(test_growth_carries_over_last_committed_snapshot, ring_up, ring_down),
		cmocka_unit_test_setup_teardown(test_retired_region_reports_new_generation, ring_up, ring_down),
		cmocka_unit_test_setup_teardown(test_concurrent_reader_copies_only_whole_snapshots, ring_up, ring_down),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
