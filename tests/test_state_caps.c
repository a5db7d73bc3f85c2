/* Description: per-client state limits - closed-buffer, max_tracked and max_clients caps, client expiry, bytes per buffered closed connection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"
#include "state_fixture.h"

static void test_closed_buffer_cap_drops_the_10001st_and_keeps_the_others(void **state)
{
	struct fixture *f = *state;

	fr_state_register_sp(f->st, "A", 0);
	for (uint32_t i = 0; i < 10001; i++) {
		struct fr_conn c = CLOSED((uint16_t)(1 + i % 60000), 1000 + i, 10 + i);
		c.pid = 100 + i / 60000;
		assert_int_equal(fr_state_store_closed_sp(f->st, &c), i < 10000 ? 1 : 0);
	}
	assert_int_equal(stats(f->st).closed_dropped, 1);
	/* a full buffer still sums a newer close of a key it holds: nothing new is buffered */
	struct fr_conn again = CLOSED(1, 5, 20000);
	assert_int_equal(fr_state_store_closed_sp(f->st, &again), 1);
	assert_int_equal(stats(f->st).closed_dropped, 1);
	assert_int_equal(stats(f->st).closed_merged, 1);
	assert_int_equal(fr_state_read_bound_sp(f->st, "A", 5), 10005);
	assert_int_equal(rd(f->st, "A", 1, NULL, 0, &f->sink), 10000);
	uint8_t *seen = calloc(10001, 1);
	for (size_t i = 0; i < f->sink.n; i++) {
		if (f->sink.recs[i].sport == 1 && f->sink.recs[i].pid == 100) { /* the merged one: 1000 + 5 */
			assert_int_equal(f->sink.recs[i].monotonic_sent_bytes, 1005);
			assert_int_equal(f->sink.recs[i].last_update_ns, 20000);
			seen[0] = 1;
			continue;
		}
		uint64_t idx = f->sink.recs[i].monotonic_sent_bytes - 1000;
		assert_true(idx < 10000);
		assert_true(idx > 0);
		assert_int_equal(f->sink.recs[i].last_update_ns, 10 + idx);
		assert_int_equal(f->sink.recs[i].sport, 1 + idx % 60000);
		assert_last(&f->sink.recs[i], 1000 + idx);
		assert_int_equal(seen[idx], 0);
		seen[idx] = 1;
	}
	free(seen);
	assert_int_equal(stats(f->st).closed_dropped, 1);
}

static void test_max_tracked_cap_drops_new_keys_and_counts(void **state)
{
	struct fr_state_config cfg = { .max_tracked = 3 };
	struct fr_state *st = fr_state_new_sp(&cfg);
	struct fixture *f = *state;
	struct fr_conn a[5];

	for (int i = 0; i < 5; i++)
		a[i] = ACTIVE((uint16_t)(1 + i), 100, 10);
	fr_state_register_sp(st, "A", 0);
	assert_int_equal(rd(st, "A", 1, a, 5, &f->sink), 5);
	for (int i = 0; i < 5; i++)
		assert_last(find(&f->sink, (uint16_t)(1 + i)), 100);
	assert_int_equal(stats(st).conn_dropped, 2);
	assert_int_equal(stats(st).tracked_current, 3);
	for (int i = 0; i < 5; i++)
		a[i] = ACTIVE((uint16_t)(1 + i), 130, 20);
	rd(st, "A", 2, a, 5, &f->sink);
	for (int i = 0; i < 3; i++)
		assert_last(find(&f->sink, (uint16_t)(1 + i)), 30);
	for (int i = 3; i < 5; i++) /* never remembered: reported whole, counted again */
		assert_last(find(&f->sink, (uint16_t)(1 + i)), 130);
	assert_int_equal(stats(st).conn_dropped, 4);
	fr_state_free_sp(st);
}

static void test_client_expires_at_the_bound_and_not_before(void **state)
{
	struct fixture *f = *state;

	fr_state_register_sp(f->st, "reads", 1 * SEC);
	fr_state_register_sp(f->st, "never", 2 * SEC);
	rd(f->st, "reads", 10 * SEC, NULL, 0, &f->sink);
	assert_int_equal(fr_state_expire_sp(f->st, 122 * SEC - 1), 0);
	assert_int_equal(fr_state_expire_sp(f->st, 122 * SEC), 1); /* never read: from registration */
	assert_false(fr_state_has_client_mc(f->st, "never"));
	assert_true(fr_state_has_client_mc(f->st, "reads"));
	assert_int_equal(fr_state_expire_sp(f->st, 130 * SEC - 1), 0);
	assert_int_equal(fr_state_expire_sp(f->st, 130 * SEC), 1);
	assert_false(fr_state_has_client_mc(f->st, "reads"));
	assert_int_equal(rd(f->st, "reads", 131 * SEC, NULL, 0, &f->sink), -ENOENT);
	assert_int_equal(stats(f->st).clients_expired, 2);
	assert_int_equal(stats(f->st).clients_current, 0);
}

static void test_register_rejects_bad_ids_duplicates_and_too_many_clients(void **state)
{
	struct fr_state_config cfg = { .max_clients = 2 };
	struct fr_state *st = fr_state_new_sp(&cfg);
	char longid[80];
	(void)state;

	memset(longid, 'x', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	assert_int_equal(fr_state_register_sp(st, "", 0), -EINVAL);
	assert_int_equal(fr_state_register_sp(st, "a b", 0), -EINVAL);
	assert_int_equal(fr_state_register_sp(st, longid, 0), -EINVAL);
	assert_int_equal(fr_state_register_sp(st, FR_STATE_DEBUG_CLIENT, 0), 0);
	assert_int_equal(fr_state_register_sp(st, "-1", 0), -EEXIST);
	assert_int_equal(fr_state_register_sp(st, "b", 0), 0);
	assert_int_equal(fr_state_register_sp(st, "c", 0), -ENOSPC);
	fr_state_free_sp(st);
}

/* The memory goal: <= 150 B per buffered closed connection per client, by the state's own
 * counting allocator (arena chunks and table maps included; malloc's headers are not). */
static void test_buffered_closed_connection_costs_at_most_150_bytes_per_client(void **state)
{
	struct fixture *f = *state;
	uint64_t before, after;
	(void)f;

	for (int clients = 1; clients <= 4; clients *= 4) {
		struct fr_state *st = fr_state_new_sp(NULL);
		char id[8];
		for (int i = 0; i < clients; i++) {
			snprintf(id, sizeof(id), "c%d", i);
			fr_state_register_sp(st, id, 0);
		}
		before = stats(st).mem_bytes_current;
		for (uint32_t i = 0; i < 10000; i++) {
			struct fr_conn c = CLOSED((uint16_t)(1024 + i), 20000 + i * 7, 86400 * SEC + i * 1000);
			c.netns = 4026531840u;
			c.rtt_us = 300;
			c.direction = FR_DIR_OUTGOING;
			fr_state_store_closed_sp(st, &c);
		}
		after = stats(st).mem_bytes_current;
		printf("# %d client(s): %.1f B per buffered closed connection per client\n", clients,
		       (double)(after - before) / (10000.0 * clients));
		assert_true((after - before) <= 150ull * 10000 * (uint64_t)clients);
		fr_state_free_sp(st);
	}
}

static int by_sport(const void *a, const void *b)
{
	const struct fr_conn *x = a, *y = b;
	return (int)x->sport - (int)y->sport;
}

/* One read scenario (memory, twins both ways, unmatched closed, stale and new keys) on a state. */
static void run_scenario(struct fr_state *st, struct sink *out)
{
	struct fr_conn a1[4] = { ACTIVE(1, 100, 10), ACTIVE(2, 200, 10), ACTIVE(3, 300, 10), ACTIVE(4, 400, 10) };
	struct fr_conn c[3] = { CLOSED(2, 250, 20), CLOSED(5, 50, 20), CLOSED(3, 390, 30) };
	struct fr_conn a2[4] = { ACTIVE(1, 150, 30), ACTIVE(2, 10, 40), ACTIVE(3, 350, 25), ACTIVE(6, 60, 30) };

	fr_state_register_sp(st, "A", 0);
	rd(st, "A", 1, a1, 4, out);
	for (int i = 0; i < 3; i++)
		fr_state_store_closed_sp(st, &c[i]);
	assert_int_equal(rd(st, "A", 2, a2, 4, out), 5);
	qsort(out->recs, out->n, sizeof(out->recs[0]), by_sport);
}

/* A read whose new keys are admitted past max_tracked for a moment (stale keys are forgotten after
 * the pass) must end exactly as if the stale keys had been forgotten first: same records, same
 * memory, nothing dropped when the survivors fit. */
static void test_read_at_max_tracked_matches_read_without_cap_pressure(void **state)
{
	struct fr_state_config big = { .max_tracked = 1000 }, tight = { .max_tracked = 4 };
	struct fr_state *fa = fr_state_new_sp(&big), *tb = fr_state_new_sp(&tight);
	struct sink sa = { 0 }, sb = { 0 };
	struct dump_seen da = { 0 }, db = { 0 };
	(void)state;

	run_scenario(fa, &sa);
	run_scenario(tb, &sb);
	assert_int_equal(sa.n, sb.n);
	assert_memory_equal(sa.recs, sb.recs, sa.n * sizeof(sa.recs[0]));
	assert_int_equal(sa.recs[1].last_sent_bytes, 250 + 10 - 200); /* K2 closed, re-opened */
	assert_int_equal(sa.recs[2].last_sent_bytes, 90);               /* K3 closed newer: 390 - 300 */
	assert_int_equal(sa.recs[3].last_sent_bytes, 50);               /* K5 never seen */
	assert_int_equal(stats(fa).conn_dropped, 0);
	assert_int_equal(stats(tb).conn_dropped, 0);
	assert_int_equal(stats(fa).tracked_current, 4); /* K1 K2 K3 K6; K4 forgotten */
	assert_int_equal(stats(tb).tracked_current, 4);
	assert_int_equal(fr_state_dump_mc(fa, "A", dump_cb, &da), 0);
	assert_int_equal(fr_state_dump_mc(tb, "A", dump_cb, &db), 0);
	assert_int_equal(da.n, 4);
	assert_int_equal(db.n, 4);
	free(sa.recs);
	free(sb.recs);
	fr_state_free_sp(fa);
	fr_state_free_sp(tb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_closed_buffer_cap_drops_the_10001st_and_keeps_the_others),
		T(test_max_tracked_cap_drops_new_keys_and_counts),
		T(test_client_expires_at_the_bound_and_not_before),
		T(test_register_rejects_bad_ids_duplicates_and_too_many_clients),
		T(test_buffered_closed_connection_costs_at_most_150_bytes_per_client),
		T(test_read_at_max_tracked_matches_read_without_cap_pressure),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
