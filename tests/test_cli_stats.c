/* Description: `flowring stats` (tools/cli_stats.c): Prometheus, JSON and text of the fake events region's telemetry end to end, and Prometheus label escaping. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <flowring/flowring.h>

#include "cli.h"
#include "cli_fake.h"
#include "cli_run.h"

extern char **environ;

static void stats_fixture(void)
{
	events_make(EV_CAP);
	fr_telemetry_set(&ev.telemetry, FR_TM_CONNS_CLOSED, 7);
	fr_telemetry_set(&ev.telemetry, FR_TM_CLIENTS_CURRENT, 2);
	int a = fr_telemetry_register(&ev.telemetry, "bpf_prog_run_cnt:fr_tcp_state");
	int b = fr_telemetry_register(&ev.telemetry, "bpf_prog_run_time_ns:fr_tcp_state");
	int c = fr_telemetry_register(&ev.telemetry, "bpf_prog_run_cnt:fr_udp_send");
	assert_true(a >= 0 && b >= 0 && c >= 0);
	fr_telemetry_set(&ev.telemetry, (uint32_t)a, 11);
	fr_telemetry_set(&ev.telemetry, (uint32_t)b, 99);
	fr_telemetry_set(&ev.telemetry, (uint32_t)c, 5);
}

static void test_stats_prometheus_has_help_type_and_label_lines(void **state)
{
	(void)state;
	stats_fixture();
	assert_int_equal(cli("stats", "--prometheus", NULL), 0);
	assert_has(run.out,
		   "# HELP flowring_conns_closed closed connections ingested from the kernel\n"
		   "# TYPE flowring_conns_closed counter\nflowring_conns_closed 7\n",
		   "# TYPE flowring_clients_current gauge\nflowring_clients_current 2\n",
		   "# TYPE flowring_bpf_prog_run_cnt counter\n"
		   "flowring_bpf_prog_run_cnt{prog=\"fr_tcp_state\"} 11\n"
		   "flowring_bpf_prog_run_cnt{prog=\"fr_udp_send\"} 5\n",
		   "# TYPE flowring_bpf_prog_run_time_ns counter\n"
		   "flowring_bpf_prog_run_time_ns{prog=\"fr_tcp_state\"} 99\n",
		   "flowring_ctl_flood_refused 0\n", NULL);
	assert_int_equal(count_str(run.out, "# TYPE flowring_bpf_prog_run_cnt "), 1);
	assert_int_equal(count_str(run.out, "# HELP "), count_str(run.out, "# TYPE "));
	assert_int_equal(count_str(run.out, "# TYPE "), FR_TM__COUNT + 2);
	assert_int_equal(count_lines(run.out), 3 * FR_TM__COUNT + 2 * 2 + 3);
}

static void test_stats_json_is_one_object(void **state)
{
	char v[64];
	(void)state;
	stats_fixture();
	assert_int_equal(cli("stats", "--json", NULL), 0);
	assert_int_equal(count_lines(run.out), 1);
	run.out[strcspn(run.out, "\n")] = '\0';
	assert_json_field(run.out, "conns_closed", "7");
	assert_json_field(run.out, "bpf_prog_run_cnt:fr_udp_send", "5");
	assert_true(js_get(run.out, "clients_current", v, sizeof(v)) && strcmp(v, "2") == 0);
	assert_int_equal(cli("stats", NULL), 0);
	assert_int_equal(count_lines(run.out), FR_TM__COUNT + 3);
	assert_has(run.out, "conns_closed ", " 7\n", NULL);
}

static void test_prometheus_escapes_label_values(void **state)
{
	struct fr_cli_stat s[2] = {{"bpf_prog_run_cnt:a\"b\\c", 1}, {"odd-name:x", 2}};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	(void)state;
	fr_cli_stats_prometheus(f, s, 2);
	fclose(f);
	assert_has(buf, "flowring_bpf_prog_run_cnt{prog=\"a\\\"b\\\\c\"} 1\n", "flowring_odd_name{name=\"x\"} 2\n",
		   "# TYPE flowring_odd_name counter\n", NULL);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stats_prometheus_has_help_type_and_label_lines),
		cmocka_unit_test(test_stats_json_is_one_object),
		cmocka_unit_test(test_prometheus_escapes_label_values),
	};
	return cmocka_run_group_tests(tests, fake_producer_group_setup, fake_producer_group_teardown);
}
