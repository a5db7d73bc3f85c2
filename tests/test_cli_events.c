/* Description: `flowring events` (tools/cli_events.c) end to end against the fake events region: exactly --count records from the oldest, exact loss when lapped, a new generation, no producer, a dead producer. */
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

static void test_events_count_prints_exactly_n_from_the_oldest(void **state)
{
	char line[2048], want[16];
	(void)state;
	events_make(EV_CAP);
	events_publish(1000, 10);
	assert_int_equal(cli("events", "--json", "--count", "3", NULL), 0);
	assert_int_equal(count_lines(run.out), 3);
	for (unsigned i = 0; i < 3; i++) {
		snprintf(want, sizeof(want), "%u", 1000 + i);
		assert_json_field(nth_line(run.out, i, line, sizeof(line)), "sport", want);
		assert_json_field(line, "flags", i % NKNOWN != 1 ? "[\"closed\",\"nat\"]" : "[\"closed\"]");
	}
	/* without --count: everything the ring holds, then exit */
	assert_int_equal(cli("events", NULL), 0);
	assert_int_equal(count_lines(run.out), 1 + 10);
	assert_has(nth_line(run.out, 10, line, sizeof(line)), "udp ", "127.0.0.1:1009", "closed", NULL);
	assert_string_equal(run.err, "");
}

static void test_events_reports_exact_loss_when_lapped(void **state)
{
	const char *args[] = {"events", "--follow", "--from-start", "--json", "--count", "17", "--shm-dir", tmpdir,
			      "--instance", instance, NULL};
	char line[2048];
	(void)state;
	events_make(EV_CAP);
	events_publish(2000, 1);
	pid_t pid = spawn_cli(args);
	wait_lines(1); /* it has read the one record and waits for more */
	kill(pid, SIGSTOP);
	/* 16 + 5 records while it is stopped: the 5 oldest of them are overwritten before it reads */
	events_publish(3000, EV_CAP + 5);
	kill(pid, SIGCONT);
	collect(pid);
	assert_int_equal(run.status, 0);
	assert_int_equal(count_lines(run.out), 17);
	assert_json_field(nth_line(run.out, 0, line, sizeof(line)), "sport", "2000");
	assert_json_field(nth_line(run.out, 1, line, sizeof(line)), "sport", "3005");
	assert_json_field(nth_line(run.out, 16, line, sizeof(line)), "sport", "3020");
	assert_string_equal(run.err, "flowring events: lapped: lost 5 records\n");
}

static void test_events_follow_reopens_a_new_generation(void **state)
{
	const char *args[] = {"events", "--follow", "--from-start", "--json", "--count", "2", "--shm-dir", tmpdir,
			      "--instance", instance, NULL};
	char line[2048];
	(void)state;
	events_make(EV_CAP);
	events_publish(7000, 1);
	pid_t pid = spawn_cli(args);
	wait_lines(1);
	events_make(EV_CAP); /* the producer restarts: retire, then a new generation under the name */
	events_publish(8000, 1);
	collect(pid);
	assert_int_equal(run.status, 0);
	assert_int_equal(count_lines(run.out), 2);
	assert_json_field(nth_line(run.out, 1, line, sizeof(line)), "sport", "8000");
	assert_has(run.err, "new region (generation ", NULL);
}

static void test_events_without_producer_exits_1_naming_the_region(void **state)
{
	const char *args[] = {"events", "--instance", "nosuch", "--shm-dir", tmpdir, NULL};
	char path[256];
	(void)state;
	collect(spawn_cli(args));
	snprintf(path, sizeof(path), "%s/flowring.nosuch.events", tmpdir);
	assert_int_equal(run.status, 1);
	assert_has(run.err, path, "not running", "flowringd --instance nosuch", NULL);
}

static void test_events_of_a_dead_producer_prints_its_records_and_says_so(void **state)
{
	struct fr_events_params p = {.shm_dir = tmpdir, .instance = "deadprod", .capacity = EV_CAP,
				     .heartbeat_interval_ms = 10, .gid = (gid_t)-1};
	const char *args[] = {"events", "--json", "--instance", "deadprod", "--shm-dir", tmpdir, NULL};
	struct fr_events_writer w;
	struct fr_conn c[NKNOWN];
	char line[2048];
	pid_t dead = fork();
	(void)state;
	if (dead == 0)
		_exit(0);
	assert_int_equal(waitpid(dead, NULL, 0), dead);
	assert_int_equal(fr_events_create(&w, &p), 0);
	known_records(c);
	c[0].sport = 4321;
	fr_events_publish_sp(&w, &c[0]);
	fr_events_flush_sp(&w);
	/* as if the process that made it had died: its pid is gone and the heartbeat is old */
	w.region.hdr->producer_pid = (uint32_t)dead;
	w.region.hdr->producer_start_time = 0;
	fr_events_heartbeat_sp(&w, 1);
	collect(spawn_cli(args));
	fr_events_retire(&w);
	assert_int_equal(run.status, 0);
	assert_int_equal(count_lines(run.out), 1);
	assert_json_field(nth_line(run.out, 0, line, sizeof(line)), "sport", "4321");
	assert_has(run.err, "is not running: these records are from its last run", NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events_count_prints_exactly_n_from_the_oldest),
		cmocka_unit_test(test_events_reports_exact_loss_when_lapped),
		cmocka_unit_test(test_events_follow_reopens_a_new_generation),
		cmocka_unit_test(test_events_without_producer_exits_1_naming_the_region),
		cmocka_unit_test(test_events_of_a_dead_producer_prints_its_records_and_says_so),
	};
	return cmocka_run_group_tests(tests, fake_producer_group_setup, fake_producer_group_teardown);
}
