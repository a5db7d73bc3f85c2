/* Description: how `flowring conns` shows a snapshot (tools/cli_conns_view.c): table columns sized to the rows shown, busiest first, the --watch header's counts, totals and rates. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli_conns_view.h"
#include "cli_fake.h"
#include "cli_run.h"

/* What fn printed into a memory stream (not a terminal: the screen neither clears nor truncates). */
struct shown {
	char *buf;
	size_t len;
	FILE *f;
};

static void shown_open(struct shown *s)
{
	s->buf = NULL;
	s->len = 0;
	s->f = open_memstream(&s->buf, &s->len);
	assert_non_null(s->f);
}

static const char *shown_close(struct shown *s)
{
	assert_int_equal(fclose(s->f), 0);
	return s->buf;
}

/* Column of needle in line k of text (fails the test if it is not there). */
static long column_of(const char *text, unsigned k, const char *needle)
{
	char line[1024];
	assert_non_null(nth_line(text, k, line, sizeof(line)));
	const char *p = strstr(line, needle);
	if (!p)
		fail_msg("'%s' not in line %u: %s", needle, k, line);
	return p - line;
}

static void test_table_sizes_columns_to_the_rows_it_shows(void **state)
{
	struct fr_conn recs[NKNOWN];
	struct shown s;
	(void)state;
	known_records(recs);

	/* all four: the v6 peer "[2001:db8::2]:51000" (19) is wider than its title (17) */
	shown_open(&s);
	fr_cli_conns_table(s.f, recs, NKNOWN, UINT64_MAX);
	const char *all = shown_close(&s);
	assert_int_equal(count_lines(all), 1 + NKNOWN);
	long peer = column_of(all, 0, "Peer Address:Port");
	assert_int_equal(column_of(all, 1, "10.9.8.7:443"), peer);
	assert_int_equal(column_of(all, 3, "[2001:db8::2]:51000"), peer);
	assert_int_equal(column_of(all, 0, "Dir"), peer + 19 + 1);
	assert_int_equal(column_of(all, 1, "outgoing"), peer + 19 + 1);
	assert_int_equal(column_of(all, 4, "local"), peer + 19 + 1);
	free(s.buf);

	/* limit 2: only the v4 rows are shown, and only they size the columns */
	shown_open(&s);
	fr_cli_conns_table(s.f, recs, NKNOWN, 2);
	const char *two = shown_close(&s);
	assert_int_equal(count_lines(two), 1 + 2);
	assert_null(strstr(two, "2001:db8"));
	peer = column_of(two, 0, "Peer Address:Port");
	assert_int_equal(column_of(two, 0, "Dir"), peer + 17 + 1);
	assert_int_equal(column_of(two, 2, "local"), peer + 17 + 1);
	free(s.buf);
}

static void test_busiest_first_then_by_lifetime_bytes(void **state)
{
	struct fr_conn recs[4];
	(void)state;
	memset(recs, 0, sizeof(recs));
	recs[0].sport = 1, recs[0].monotonic_sent_bytes = 1u << 30;                  /* idle since last read */
	recs[1].sport = 2, recs[1].last_sent_bytes = 10, recs[1].monotonic_sent_bytes = 10;
	recs[2].sport = 3, recs[2].last_recv_bytes = 10, recs[2].monotonic_recv_bytes = 500;
	recs[3].sport = 4, recs[3].last_sent_bytes = 5, recs[3].last_recv_bytes = 6;
	fr_cli_conns_sort_by_activity(recs, 4);
	/* 11 bytes since the last read beat 10; at 10 each, 500 lifetime bytes beat 10; idle last */
	assert_int_equal(recs[0].sport, 4);
	assert_int_equal(recs[1].sport, 3);
	assert_int_equal(recs[2].sport, 2);
	assert_int_equal(recs[3].sport, 1);
}

static void test_screen_counts_sums_and_shows_the_busiest_first(void **state)
{
	struct fr_cli_screen_head h = {.instance = "inst1", .client = "c1", .snap_seq = 7, .interval_ms = 500};
	struct fr_conn recs[NKNOWN];
	char line[1024];
	struct shown s;
	(void)state;
	known_records(recs);
	shown_open(&s);
	fr_cli_conns_screen(s.f, recs, NKNOWN, &h);
	const char *out = shown_close(&s);

	assert_non_null(nth_line(out, 0, line, sizeof(line)));
	assert_true(strncmp(line, "flowring conns - ", 17) == 0);
	assert_has(line, " UTC - instance inst1, client c1, snapshot 7, every 500 ms", NULL);
	/* since the last read: sent 234 + 40, received 1 MiB + 7, 1 retransmit; one closed (record 3) */
	assert_string_equal(nth_line(out, 1, line, sizeof(line)),
			    "4 connections: 3 tcp, 1 udp; 3 active, 1 closed | since last: sent 274B, recv 1.0M, "
			    "retrans 1");
	assert_string_equal(nth_line(out, 2, line, sizeof(line)), "");
	assert_has(nth_line(out, 3, line, sizeof(line)), "Proto", "Local Address:Port", NULL);
	/* by bytes since the last read: 1 MiB + 234, 40, 7, 0 */
	assert_has(nth_line(out, 4, line, sizeof(line)), "10.1.2.3:40001", NULL);
	assert_has(nth_line(out, 5, line, sizeof(line)), "127.0.0.1:53000", NULL);
	assert_has(nth_line(out, 6, line, sizeof(line)), "[::1]:6000", NULL);
	assert_has(nth_line(out, 7, line, sizeof(line)), "[2001:db8::1]:8080", NULL);
	/* not a terminal: every row, then a blank line between screens */
	assert_int_equal(count_lines(out), 4 + NKNOWN + 1);
	assert_string_equal(nth_line(out, 8, line, sizeof(line)), "");
	/* the first screen has no previous read: no rate */
	assert_null(strstr(out, "/s out"));
	free(s.buf);
}

static void test_screen_rates_are_per_second_between_the_daemon_reads(void **state)
{
	/* the daemon read this snapshot 2 s after the previous one */
	struct fr_cli_screen_head h = {.instance = "i", .client = "c", .snap_seq = 2, .interval_ms = 2000,
				       .read_time_ns = 5000000000ull, .prev_read_time_ns = 3000000000ull};
	struct fr_conn recs[NKNOWN];
	struct shown s;
	(void)state;
	known_records(recs);
	shown_open(&s);
	fr_cli_conns_screen(s.f, recs, NKNOWN, &h);
	const char *out = shown_close(&s);
	/* 274 B / 2 s out, (1 MiB + 7 B) / 2 s in */
	assert_has(out, "since last: sent 274B, recv 1.0M (137B/s out, 512K/s in), retrans 1\n", NULL);
	free(s.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_sizes_columns_to_the_rows_it_shows),
		cmocka_unit_test(test_busiest_first_then_by_lifetime_bytes),
		cmocka_unit_test(test_screen_counts_sums_and_shows_the_busiest_first),
		cmocka_unit_test(test_screen_rates_are_per_second_between_the_daemon_reads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
