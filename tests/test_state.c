/* Description: per-client state - every SEMANTICS.md "A client's view" rule with concrete numbers: deltas, merges, ordering, memory of keys, removal, stats, dump. Caps, expiry and memory: test_state_caps.c. */
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

static void test_first_read_reports_monotonic_and_closed_since_registration(void **state)
{
	struct fixture *f = *state;
	struct fr_conn closed = CLOSED(1, 100, 10), act = ACTIVE(2, 50, 20);

	assert_int_equal(fr_state_store_closed_sp(f->st, &closed), 0); /* before registration: nobody */
	assert_int_equal(fr_state_register_sp(f->st, "A", 5), 0);
	closed = CLOSED(1, 300, 10);
	assert_int_equal(fr_state_store_closed_sp(f->st, &closed), 1);
	assert_int_equal(rd(f->st, "A", 30, &act, 1, &f->sink), 2);
	assert_last(find(&f->sink, 1), 300);
	assert_int_not_equal(find(&f->sink, 1)->end_ns, 0);
	assert_last(find(&f->sink, 2), 50);
}

static void test_two_clients_reading_at_different_times_get_independent_deltas(void **state)
{
	struct fixture *f = *state;
	struct fr_conn a = ACTIVE(7, 100, 10);

	assert_int_equal(fr_state_register_sp(f->st, "A", 0), 0);
	assert_int_equal(fr_state_register_sp(f->st, "B", 0), 0);
	assert_int_equal(rd(f->st, "A", 1, &a, 1, &f->sink), 1);
	assert_last(find(&f->sink, 7), 100);
	assert_int_equal(rd(f->st, "B", 2, &a, 1, &f->sink), 1);
	assert_last(find(&f->sink, 7), 100);
	a = ACTIVE(7, 300, 20);
	rd(f->st, "A", 3, &a, 1, &f->sink);
	assert_last(find(&f->sink, 7), 200);
	a = ACTIVE(7, 450, 30);
	rd(f->st, "B", 4, &a, 1, &f->sink);
	assert_last(find(&f->sink, 7), 350);
	rd(f->st, "A", 5, &a, 1, &f->sink);
	assert_last(find(&f->sink, 7), 150);
	assert_int_equal(find(&f->sink, 7)->monotonic_sent_bytes, 450);
}

static void test_client_that_skipped_a_read_gets_the_sum(void **state)
{
	struct fixture *f = *state;
	struct fr_conn a = ACTIVE(7, 100, 10);

	fr_state_register_sp(f->st, "A", 0);
	fr_state_register_sp(f->st, "B", 0);
	rd(f->st, "A", 1, &a, 1, &f->sink);
	rd(f->st, "B", 1, &a, 1, &f->sink);
	a = ACTIVE(7, 250, 20);
	rd(f->st, "A", 2, &a, 1, &f->sink); /* B skips this one */
	assert_last(find(&f->sink, 7), 150);
	a = ACTIVE(7, 400, 30);
	rd(f->st, "A", 3, &a, 1, &f->sink);
	assert_last(find(&f->sink, 7), 150);
	rd(f->st, "B", 3, &a, 1, &f->sink);
	assert_last(find(&f->sink, 7), 300); /* 150 + 150 */
}

static void test_closed_newer_than_active_reports_the_closed_record_only(void **state)
{
	struct fixture *f = *state;
	struct fr_conn a = ACTIVE(7, 100, 10), c = CLOSED(7, 180, 30);

	fr_state_register_sp(f->st, "A", 0);
	rd(f->st, "A", 1, &a, 1, &f->sink);
	fr_state_store_closed_sp(f->st, &c);
	a = ACTIVE(7, 150, 20); /* stale: the map entry lags the close */
	assert_int_equal(rd(f->st, "A", 2, &a, 1, &f->sink), 1);
	assert_int_equal(f->sink.recs[0].end_ns, 30);
	assert_int_equal(f->sink.recs[0].monotonic_sent_bytes, 180);
	assert_last(&f->sink.recs[0], 80);
	assert_int_equal(stats(f->st).time_sync_collisions, 0);
}

static void test_active_newer_than_closed_sums_the_reopened_connection(void **state)
{
	struct fixture *f = *state;
	struct fr_conn a = ACTIVE(7, 100, 10), c = CLOSED(7, 150, 30);

	fr_state_register_sp(f->st, "A", 0);
	rd(f->st, "A", 1, &a, 1, &f->sink);
	fr_state_store_closed_sp(f->st, &c);
	a = ACTIVE(7, 30, 40); /* re-opened under the same key */
	assert_int_equal(rd(f->st, "A", 2, &a, 1, &f->sink), 1);
	assert_int_equal(f->sink.recs[0].monotonic_sent_bytes, 180);
	assert_int_equal(f->sink.recs[0].monotonic_recv_bytes, 360);
	assert_int_equal(f->sink.recs[0].last_sent_bytes, 80);  /* 50 rest of the first + 30 */
	assert_int_equal(f->sink.recs[0].last_recv_bytes, 160); /* 300+60 - 200 */
	assert_true(f->sink.recs[0].flags & FR_CONN_F_MERGED);
	a = ACTIVE(7, 45, 50);
	rd(f->st, "A", 3, &a, 1, &f->sink);
	assert_int_equal(f->sink.recs[0].last_sent_bytes, 15); /* against the active's own 30 */
	assert_int_equal(stats(f->st).stats_resets, 0);
}

static void test_equal_times_report_closed_and_count_a_collision(void **state)
{
	struct fixture *f = *state;
	struct fr_conn a = ACTIVE(7, 100, 10), c = CLOSED(7, 150, 30);

	fr_state_register_sp(f->st, "A", 0);
	rd(f->st, "A", 1, &a, 1, &f->sink);
	fr_state_store_closed_sp(f->st, &c);
	a = ACTIVE(7, 140, 30);
	assert_int_equal(rd(f->st, "A", 2, &a, 1, &f->sink), 1);
	assert_int_equal(f->sink.recs[0].end_ns, 30);
	assert_last(&f->sink.recs[0], 50);
	assert_int_equal(stats(f->st).time_sync_collisions, 1);
}

static void test_closing_twice_under_one_key_sums_the_buffered_records(void **state)
{
	struct fixture *f = *state;
	struct fr_conn c1 = CLOSED(7, 100, 10), c2 = CLOSED(7, 40, 20);

	fr_state_register_sp(f->st, "A", 0);
	fr_state_register_sp(f->st, "B", 0);
	assert_int_equal(fr_state_store_closed_sp(f->st, &c1), 2);
	assert_int_equal(fr_state_store_closed_sp(f->st, &c2), 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(rd(f->st, i ? "B" : "A", 30, NULL, 0, &f->sink), 1);
		assert_int_equal(f->sink.recs[0].monotonic_sent_bytes, 140);
		assert_last(&f->sink.recs[0], 140);
		assert_int_equal(f->sink.recs[0].last_update_ns, 20); /* the newer time */
		assert_int_equal(f->sink.recs[0].start_ns, 9);        /* the first one's start */
		assert_true(f->sink.recs[0].flags & FR_CONN_F_MERGED);
	}
	assert_int_equal(stats(f->st).closed_merged, 2);
}

static void test_unordered_close_is_skipped_and_counted(void **state)
{
	struct fixture *f = *state;
	struct fr_conn c1 = CLOSED(7, 100, 20), older = CLOSED(7, 40, 10), same = CLOSED(7, 70, 20);

	fr_state_register_sp(f->st, "A", 0);
	fr_state_store_closed_sp(f->st, &c1);
	assert_int_equal(fr_state_store_closed_sp(f->st, &older), 0);
	assert_int_equal(fr_state_store_closed_sp(f->st, &same), 0);
	assert_int_equal(stats(f->st).unordered_conns, 2);
	assert_int_equal(rd(f->st, "A", 30, NULL, 0, &f->sink), 1);
	assert_last(&f->sink.recs[0], 100);
}

static void test_counter_below_memory_resets_the_key_and_counts(void **state)
{
	struct fixture *f = *state;
	struct fr_conn a = ACTIVE(7, 500, 10);

	fr_state_register_sp(f->st, "A", 0);
	rd(f->st, "A", 1, &a, 1, &f->sink);
	a = ACTIVE(7, 200, 20);
	rd(f->st, "A", 2, &a, 1, &f->sink);
	assert_last(&f->sink.recs[0], 200);
	assert_int_equal(stats(f->st).stats_resets, 1);
	a = ACTIVE(7, 260, 30);
	rd(f->st, "A", 3, &a, 1, &f->sink);
	assert_last(&f->sink.recs[0], 60); /* remembered after the reset: no double count */
	assert_int_equal(stats(f->st).stats_resets, 1);
}

static void test_closed_record_of_a_remembered_key_reports_the_delta(void **state)
{
	struct fixture *f = *state;
	struct fr_conn a = ACTIVE(7, 100, 10), c = CLOSED(7, 130, 20);

	fr_state_register_sp(f->st, "A", 0);
	rd(f->st, "A", 1, &a, 1, &f->sink);
	fr_state_store_closed_sp(f->st, &c);
	assert_int_equal(rd(f->st, "A", 2, NULL, 0, &f->sink), 1);
	assert_last(&f->sink.recs[0], 30);
	assert_int_equal(stats(f->st).tracked_current, 0); /* not active any more: forgotten */
}

static void test_keys_no_longer_active_are_forgotten(void **state)
{
	struct fixture *f = *state;
	struct fr_conn a = ACTIVE(7, 100, 10), b = ACTIVE(8, 10, 10);
	struct fr_conn both[2] = { a, b };

	fr_state_register_sp(f->st, "A", 0);
	rd(f->st, "A", 1, both, 2, &f->sink);
	assert_int_equal(stats(f->st).tracked_current, 2);
	rd(f->st, "A", 2, &b, 1, &f->sink);
	assert_int_equal(stats(f->st).tracked_current, 1);
	a = ACTIVE(7, 150, 20);
	rd(f->st, "A", 3, &a, 1, &f->sink);
	assert_last(&f->sink.recs[0], 150);
}

static void test_remove_client_drops_all_its_state_at_once(void **state)
{
	struct fixture *f = *state;
	struct fr_conn a = ACTIVE(7, 100, 10), c = CLOSED(8, 5, 10);

	fr_state_register_sp(f->st, "A", 0);
	fr_state_register_sp(f->st, "B", 0);
	rd(f->st, "A", 1, &a, 1, &f->sink);
	rd(f->st, "B", 1, &a, 1, &f->sink);
	fr_state_store_closed_sp(f->st, &c);
	assert_int_equal(fr_state_remove_client_sp(f->st, "A"), 0);
	assert_int_equal(fr_state_remove_client_sp(f->st, "A"), -ENOENT);
	assert_int_equal(rd(f->st, "A", 2, &a, 1, &f->sink), -ENOENT);
	assert_int_equal(stats(f->st).clients_current, 1);
	assert_int_equal(stats(f->st).closed_buffered_current, 1);
	assert_int_equal(fr_state_register_sp(f->st, "A", 3), 0);
	a = ACTIVE(7, 120, 20);
	assert_int_equal(rd(f->st, "A", 4, &a, 1, &f->sink), 1); /* no closed from before */
	assert_last(&f->sink.recs[0], 120);
	assert_int_equal(rd(f->st, "B", 4, &a, 1, &f->sink), 2);
	assert_last(find(&f->sink, 7), 20);
}

static void test_remove_connections_forgets_memory_for_every_client_but_keeps_closed(void **state)
{
	struct fixture *f = *state;
	struct fr_conn a = ACTIVE(7, 100, 10), c = CLOSED(8, 5, 10);
	struct fr_conn_key k;

	fr_state_register_sp(f->st, "A", 0);
	fr_state_register_sp(f->st, "B", 0);
	rd(f->st, "A", 1, &a, 1, &f->sink);
	rd(f->st, "B", 1, &a, 1, &f->sink);
	fr_state_store_closed_sp(f->st, &c);
	fr_conn_key_from_conn(&k, &a);
	assert_int_equal(fr_state_remove_conns_sp(f->st, &k, 1), 2);
	a = ACTIVE(7, 150, 20);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(rd(f->st, i ? "B" : "A", 2, &a, 1, &f->sink), 2);
		assert_last(find(&f->sink, 7), 150);
		assert_last(find(&f->sink, 8), 5);
	}
}

static int client_cb(void *ctx, const struct fr_state_client_stats *c)
{
	struct fr_state_client_stats *out = ctx;
	*out = *c;
	return 0;
}

static void test_stats_and_dump_report_contents(void **state)
{
	struct fixture *f = *state;
	struct fr_conn a[2] = { ACTIVE(7, 100, 10), ACTIVE(8, 300, 10) }, c = CLOSED(9, 5, 10);
	struct fr_state_client_stats cs;
	struct fr_state_stats s;
	struct dump_seen d = { 0 };
	uint64_t tm[FR_TM__COUNT] = { 0 };

	fr_state_register_sp(f->st, "A", 3 * SEC);
	rd(f->st, "A", 4 * SEC, a, 2, &f->sink);
	fr_state_store_closed_sp(f->st, &c);
	assert_int_equal(fr_state_stats_mc(f->st, &s, client_cb, &cs), 0);
	assert_int_equal(s.clients_current, 1);
	assert_int_equal(s.clients_registered, 1);
	assert_int_equal(s.tracked_current, 2);
	assert_int_equal(s.closed_buffered_current, 1);
	assert_int_equal(s.records_emitted, 2);
	assert_string_equal(cs.id, "A");
	assert_int_equal(cs.tracked, 2);
	assert_int_equal(cs.closed, 1);
	assert_int_equal(cs.registered_ns, 3 * SEC);
	assert_int_equal(cs.last_read_ns, 4 * SEC);
	assert_int_equal(cs.reads, 1);

	assert_int_equal(fr_state_dump_mc(f->st, "A", dump_cb, &d), 0);
	assert_int_equal(d.n, 2);
	for (int i = 0; i < 2; i++) {
		int is7 = strcmp(d.text[i], "p:100|src:10.0.0.1:7|dst:10.0.0.2:80|f:0|t:0") == 0;
		assert_true(is7 || strcmp(d.text[i], "p:100|src:10.0.0.1:8|dst:10.0.0.2:80|f:0|t:0") == 0);
		assert_int_equal(d.t[i].sent_bytes, is7 ? 100 : 300);
		assert_int_equal(d.t[i].recv_bytes, is7 ? 200 : 600);
		assert_int_equal(d.t[i].retransmits, is7 ? 700 : 2100);
		assert_int_equal(d.t[i].sent_packets, is7 ? 300 : 900);
		assert_int_equal(d.t[i].recv_packets, is7 ? 500 : 1500);
	}
	assert_int_equal(fr_state_dump_mc(f->st, "nobody", dump_cb, &d), -ENOENT);
	fr_state_stats_to_telemetry(&s, tm);
	assert_int_equal(tm[FR_TM_CLIENTS_CURRENT], 1);
	assert_int_equal(tm[FR_TM_CLIENTS_REGISTERED], 1);
}

static void test_stats_counters_are_not_reset_by_reading_them(void **state)
{
	struct fixture *f = *state;
	struct fr_conn c1 = CLOSED(7, 100, 20), older = CLOSED(7, 40, 10);

	fr_state_register_sp(f->st, "A", 0);
	fr_state_store_closed_sp(f->st, &c1);
	fr_state_store_closed_sp(f->st, &older);
	assert_int_equal(stats(f->st).unordered_conns, 1);
	assert_int_equal(stats(f->st).unordered_conns, 1);
	fr_state_store_closed_sp(f->st, &older);
	assert_int_equal(stats(f->st).unordered_conns, 2);
}

static void test_emit_failure_stops_calls_but_completes_the_read(void **state)
{
	struct fixture *f = *state;
	struct fr_conn a[3] = { ACTIVE(1, 10, 10), ACTIVE(2, 20, 10), ACTIVE(3, 30, 10) };

	fr_state_register_sp(f->st, "A", 0);
	f->sink.fail_at = 2;
	assert_int_equal(rd(f->st, "A", 1, a, 3, &f->sink), -ENOSPC);
	assert_int_equal(f->sink.n, 1);
	assert_int_equal(stats(f->st).emit_failed, 2);
	assert_int_equal(stats(f->st).tracked_current, 3); /* the state moved on as a whole */
	f->sink.fail_at = 0;
	for (int i = 0; i < 3; i++)
		a[i] = ACTIVE((uint16_t)(1 + i), 10 * (uint64_t)(i + 1) + 5, 20);
	assert_int_equal(rd(f->st, "A", 2, a, 3, &f->sink), 3);
	assert_last(find(&f->sink, 2), 5);
}

static void test_v4mapped_closed_record_merges_with_its_ipv4_active_twin(void **state)
{
	struct fixture *f = *state;
	struct fr_conn a = ACTIVE(7, 100, 10), c = CLOSED(7, 150, 30);

	fr_state_register_sp(f->st, "A", 0);
	rd(f->st, "A", 1, &a, 1, &f->sink);
	memset(c.saddr, 0, 16);
	memset(c.daddr, 0, 16);
	c.saddr[10] = c.saddr[11] = c.daddr[10] = c.daddr[11] = 0xff;
	c.saddr[12] = 10, c.saddr[15] = 1, c.daddr[12] = 10, c.daddr[15] = 2;
	c.family = FR_CONN_V6;
	fr_state_store_closed_sp(f->st, &c);
	a = ACTIVE(7, 120, 20);
	assert_int_equal(rd(f->st, "A", 2, &a, 1, &f->sink), 1);
	assert_int_equal(f->sink.recs[0].family, FR_CONN_V4);
	assert_last(&f->sink.recs[0], 50);
}

/* docs/SEMANTICS.md section 3, step by step: if this test changes, the document must too. */
static void test_worked_example_of_docs_semantics(void **state)
{
	struct fixture *f = *state;
	struct fr_conn k1 = ACTIVE(7, 100, 10), c;

	fr_state_register_sp(f->st, "A", 0);
	fr_state_register_sp(f->st, "B", 0);
	/* 1 */
	assert_int_equal(rd(f->st, "A", 1 * SEC, &k1, 1, &f->sink), 1);
	assert_last(find(&f->sink, 7), 100);
	/* 2 */
	c = CLOSED(7, 150, 30);
	assert_int_equal(fr_state_store_closed_sp(f->st, &c), 2);
	/* 3 */
	c = CLOSED(8, 100, 10);
	fr_state_store_closed_sp(f->st, &c);
	c = CLOSED(8, 40, 20);
	fr_state_store_closed_sp(f->st, &c);
	assert_int_equal(stats(f->st).closed_merged, 2);
	/* 4 */
	c = CLOSED(8, 999, 15);
	assert_int_equal(fr_state_store_closed_sp(f->st, &c), 0);
	assert_int_equal(stats(f->st).unordered_conns, 2);
	/* 5 */
	k1 = ACTIVE(7, 30, 40);
	assert_int_equal(rd(f->st, "A", 5 * SEC, &k1, 1, &f->sink), 2);
	assert_int_equal(find(&f->sink, 7)->monotonic_sent_bytes, 180);
	assert_int_equal(find(&f->sink, 7)->last_sent_bytes, 80);
	assert_true(find(&f->sink, 7)->flags & FR_CONN_F_MERGED);
	assert_int_equal(find(&f->sink, 8)->monotonic_sent_bytes, 140);
	assert_last(find(&f->sink, 8), 140);
	/* 6 */
	k1 = ACTIVE(7, 45, 50);
	assert_int_equal(rd(f->st, "B", 6 * SEC, &k1, 1, &f->sink), 2);
	assert_int_equal(find(&f->sink, 7)->monotonic_sent_bytes, 195);
	assert_last(find(&f->sink, 7), 195);
	assert_last(find(&f->sink, 8), 140);
	/* 7 */
	k1 = ACTIVE(7, 60, 60);
	rd(f->st, "A", 7 * SEC, &k1, 1, &f->sink);
	assert_last(find(&f->sink, 7), 30);
	/* 8 */
	k1 = ACTIVE(7, 20, 70);
	rd(f->st, "A", 8 * SEC, &k1, 1, &f->sink);
	assert_last(find(&f->sink, 7), 20);
	assert_int_equal(stats(f->st).stats_resets, 1);
	k1 = ACTIVE(7, 26, 80);
	rd(f->st, "A", 8 * SEC, &k1, 1, &f->sink);
	assert_last(find(&f->sink, 7), 6);
	/* 9 */
	assert_int_equal(fr_state_expire_sp(f->st, 126 * SEC - 1), 0);
	assert_int_equal(fr_state_expire_sp(f->st, 126 * SEC), 1);
	assert_false(fr_state_has_client_mc(f->st, "B"));
	assert_true(fr_state_has_client_mc(f->st, "A"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_first_read_reports_monotonic_and_closed_since_registration),
		T(test_two_clients_reading_at_different_times_get_independent_deltas),
		T(test_client_that_skipped_a_read_gets_the_sum),
		T(test_closed_newer_than_active_reports_the_closed_record_only),
		T(test_active_newer_than_closed_sums_the_reopened_connection),
		T(test_equal_times_report_closed_and_count_a_collision),
		T(test_closing_twice_under_one_key_sums_the_buffered_records),
		T(test_unordered_close_is_skipped_and_counted),
		T(test_counter_below_memory_resets_the_key_and_counts),
		T(test_closed_record_of_a_remembered_key_reports_the_delta),
		T(test_keys_no_longer_active_are_forgotten),
		T(test_remove_client_drops_all_its_state_at_once),
		T(test_remove_connections_forgets_memory_for_every_client_but_keeps_closed),
		T(test_stats_and_dump_report_contents),
		T(test_stats_counters_are_not_reset_by_reading_them),
		T(test_emit_failure_stops_calls_but_completes_the_read),
		T(test_v4mapped_closed_record_merges_with_its_ipv4_active_twin),
		T(test_worked_example_of_docs_semantics),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
