/* Description: how `flowring conns` gets snapshots (tools/cli_conns_snap.c), end to end against the fake producer: the snapshot it asked for, regrown regions, registering again after expiry, the REGISTER publish interval, periodic snapshots without asking, a wrong --shm-dir. */
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

/* The publish interval the fake got in the last REGISTER of id (-2: no such client). */
static int64_t registered_interval(const char *id)
{
	int64_t v = -2;
	pthread_mutex_lock(&fake.mu);
	struct fake_client *c = fake_find(id);
	if (c)
		v = c->publish_interval_ms;
	pthread_mutex_unlock(&fake.mu);
	return v;
}

/* Publish snapshots of n known records into id's region (as flowringd's periodic tick would) until
 * the running CLI prints needle; 10 s at most. */
static void publish_until(const char *id, unsigned n, const char *needle)
{
	struct fr_conn known[NKNOWN];
	char path[256];
	known_records(known);
	snprintf(path, sizeof(path), "%s/out", tmpdir);
	for (int i = 0; i < 200; i++) {
		pthread_mutex_lock(&fake.mu);
		struct fake_client *c = fake_find(id);
		int rc = c ? fr_snapshot_begin_sp(&c->w, fr_now_ns(), 0) : 0;
		for (unsigned k = 0; c && rc == 0 && k < n; k++)
			rc = fr_snapshot_append_sp(&c->w, &known[k % NKNOWN]);
		if (c && rc == 0)
			rc = fr_snapshot_commit_sp(&c->w);
		pthread_mutex_unlock(&fake.mu);
		assert_int_equal(rc, 0);
		usleep(50000);
		slurp(path, run.out, sizeof(run.out), &run.nout);
		if (strstr(run.out, needle))
			return;
	}
	fail_msg("flowring never printed '%s':\n%s", needle, run.out);
}

static void test_conns_reads_the_snapshot_it_asked_for_not_a_newer_one(void **state)
{
	(void)state;
	/* the fake commits snapshot n (4 records), then n+1 (1 record), and names n */
	assert_int_equal(cli("conns", "--json", "--client", "periodic", NULL), 0);
	assert_int_equal(count_lines(run.out), NKNOWN);
	assert_int_equal(cli("conns", "--json", "--client", "periodic", NULL), 0);
	assert_int_equal(count_lines(run.out), NKNOWN);
}

static void test_conns_watch_follows_regrown_regions_and_exits_on_sigint(void **state)
{
	const char *args[] = {"conns", "--watch", "--interval", "100ms", "--client", "grow", "--shm-dir", tmpdir,
			      "--control", sock_path, "--instance", instance, NULL};
	char want[64];
	(void)state;
	pid_t pid = spawn_cli(args);
	/* rounds grow by 4 records and the slots start at 2: every round needs a new generation */
	wait_output("\n12 connections: ");
	kill(pid, SIGINT);
	collect(pid);
	assert_int_equal(run.status, 0);
	assert_true(count_str(run.out, "flowring conns - ") >= 3);
	for (unsigned k = 1; k <= 3; k++) {
		snprintf(want, sizeof(want), "\n%u connections: ", 4 * k);
		if (!strstr(run.out, want))
			fail_msg("no round with %u records in:\n%s", 4 * k, run.out);
	}
	assert_has(run.out, "instance ", "client grow", "since last: sent", NULL);
	assert_string_equal(run.err, "");
	assert_true(registered("grow")); /* --client: kept */
	pthread_mutex_lock(&fake.mu);
	uint64_t gen = fake_find("grow")->w.region.hdr->generation;
	pthread_mutex_unlock(&fake.mu);
	assert_true(gen >= 4); /* the CLI really had to follow regrown regions */
}

static void test_conns_watch_registers_again_after_the_client_expired(void **state)
{
	const char *args[] = {"conns", "--watch", "--interval", "50ms", "--client", "exp", "--shm-dir", tmpdir,
			      "--control", sock_path, "--instance", instance, NULL};
	(void)state;
	pid_t pid = spawn_cli(args);
	wait_output("snapshot 2,");
	/* the daemon drops the client (expiry): its region is retired and removed; the next round gets
	 * NO_CLIENT, registers again and must follow the new region (numbering restarts at 1) */
	assert_int_equal(fake_unregister(NULL, "exp", NULL), 0);
	wait_output("snapshot 1, every 50 ms\n4 connections");
	wait_output("snapshot 1, every 50 ms\n4 connections: 3 tcp, 1 udp; 3 active, 1 closed");
	wait_count("flowring conns - ", count_str(run.out, "flowring conns - ") + 2);
	kill(pid, SIGINT);
	collect(pid);
	assert_int_equal(run.status, 0);
	assert_string_equal(run.err, "");
	assert_true(registered("exp"));
	assert_int_equal(count_str(run.out, ", snapshot 1, "), 2); /* before and after the expiry */
}

static void test_conns_registers_for_snapshots_on_request_unless_given_an_interval(void **state)
{
	char id[FR_NAME_MAX];
	(void)state;
	/* with the option: that interval (a fresh client first, so the 0 below is not left over) */
	assert_int_equal(cli("conns", "--json", "--client", "pi", "--publish-interval", "250ms", NULL), 0);
	assert_int_equal(count_lines(run.out), NKNOWN);
	assert_int_equal(registered_interval("pi"), 250);
	/* without: 0, snapshots on request only (an old CLI would have sent none: -1) */
	assert_int_equal(cli("conns", "--json", "--client", "pi", NULL), 0);
	assert_int_equal(registered_interval("pi"), 0);
	assert_int_equal(cli("conns", "--client", "pi", "--publish-interval", "2s", NULL), 0);
	assert_int_equal(registered_interval("pi"), 2000);
	assert_int_equal(cli("conns", "--client", "pi", "--publish-interval", "0", NULL), 0);
	assert_int_equal(registered_interval("pi"), 0);
	/* the default client too */
	snprintf(id, sizeof(id), "cli-%u", (unsigned)getuid());
	assert_int_equal(cli("conns", "--keep", NULL), 0);
	assert_int_equal(registered_interval(id), 0);
	assert_int_equal(fake_unregister(NULL, id, NULL), 0);
}

static void test_conns_watch_with_publish_interval_shows_published_snapshots_without_asking(void **state)
{
	const char *args[] = {"conns", "--watch", "--publish-interval", "100ms", "--client", "pw", "--shm-dir",
			      tmpdir, "--control", sock_path, "--instance", instance, NULL};
	(void)state;
	pid_t pid = spawn_cli(args);
	for (int i = 0; i < 1000 && !registered("pw"); i++)
		usleep(10000);
	assert_true(registered("pw"));
	publish_until("pw", 1, "\n1 connections: ");
	publish_until("pw", 2, "\n2 connections: ");
	/* 4 records do not fit the fake's 2-record slots: the region regrows and the CLI follows it */
	publish_until("pw", 4, "\n4 connections: ");
	kill(pid, SIGINT);
	collect(pid);
	assert_int_equal(run.status, 0);
	assert_string_equal(run.err, "");
	assert_has(run.out, "client pw", "every 100 ms", NULL);
	assert_int_equal(registered_interval("pw"), 100);
	pthread_mutex_lock(&fake.mu);
	unsigned rounds = fake_find("pw")->rounds;
	uint64_t gen = fake_find("pw")->w.region.hdr->generation;
	pthread_mutex_unlock(&fake.mu);
	assert_int_equal(rounds, 0); /* it never sent SNAPSHOT: every screen was a published one */
	assert_true(gen >= 2);
	assert_int_equal(fake_unregister(NULL, "pw", NULL), 0);
}

static void test_conns_with_another_shm_dir_than_the_daemon_exits_1(void **state)
{
	const char *args[] = {"conns", "--client", "wrongdir", "--shm-dir", "/nonexistent", "--control", sock_path,
			      "--instance", instance, NULL};
	(void)state;
	collect(spawn_cli(args));
	assert_int_equal(run.status, 1);
	assert_has(run.err, "/nonexistent/flowring.", ".client.wrongdir", "do --shm-dir and --instance match", NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conns_reads_the_snapshot_it_asked_for_not_a_newer_one),
		cmocka_unit_test(test_conns_watch_follows_regrown_regions_and_exits_on_sigint),
		cmocka_unit_test(test_conns_watch_registers_again_after_the_client_expired),
		cmocka_unit_test(test_conns_registers_for_snapshots_on_request_unless_given_an_interval),
		cmocka_unit_test(test_conns_watch_with_publish_interval_shows_published_snapshots_without_asking),
		cmocka_unit_test(test_conns_with_another_shm_dir_than_the_daemon_exits_1),
	};
	return cmocka_run_group_tests(tests, fake_producer_group_setup, fake_producer_group_teardown);
}
