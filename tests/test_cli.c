/* Description: the flowring CLI end to end: the real binary against a fake producer in this process (events region, snapshot regions, control server on a temp socket) - exact JSON/table/Prometheus output, laps, generations, exit codes. */
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

/* ---- fixtures ---- */

static int setup(void **state)
{
	(void)state;
	return fake_producer_start();
}

static int teardown(void **state)
{
	(void)state;
	return fake_producer_stop();
}

/* ---- conns ---- */

static void test_conns_json_lines_carry_the_known_records(void **state)
{
	char line[2048];
	(void)state;
	assert_int_equal(cli("conns", "--json", "--client", "j1", NULL), 0);
	assert_int_equal(count_lines(run.out), NKNOWN);
	/* v4 TCP with NAT */
	assert_non_null(nth_line(run.out, 0, line, sizeof(line)));
	assert_json_field(line, "src", "\"10.1.2.3\"");
	assert_json_field(line, "dst", "\"10.9.8.7\"");
	assert_json_field(line, "sport", "40001");
	assert_json_field(line, "type", "\"tcp\"");
	assert_json_field(line, "family", "\"v4\"");
	assert_json_field(line, "direction", "\"outgoing\"");
	assert_json_field(line, "pid", "4242");
	assert_json_field(line, "monotonic_sent_bytes", "1234");
	assert_json_field(line, "last_sent_bytes", "234");
	assert_json_field(line, "last_recv_bytes", "1048576");
	assert_json_field(line, "last_retransmits", "1");
	assert_json_field(line, "ip_translation",
			  "{\"repl_src_ip\":\"192.168.9.9\",\"repl_dst_ip\":\"10.9.8.7\",\"repl_src_port\":5000,"
			  "\"repl_dst_port\":443}");
	/* v4 UDP without NAT */
	assert_non_null(nth_line(run.out, 1, line, sizeof(line)));
	assert_json_field(line, "type", "\"udp\"");
	assert_json_field(line, "dport", "53");
	assert_json_field(line, "ip_translation", "null");
	/* v6 with NAT, v6 closed without */
	assert_non_null(nth_line(run.out, 2, line, sizeof(line)));
	assert_json_field(line, "src", "\"2001:db8::1\"");
	assert_json_field(line, "family", "\"v6\"");
	assert_json_field(line, "direction", "\"incoming\"");
	assert_json_field(line, "ip_translation",
			  "{\"repl_src_ip\":\"2001:db8::99\",\"repl_dst_ip\":\"2001:db8::1\",\"repl_src_port\":80,"
			  "\"repl_dst_port\":51000}");
	assert_non_null(nth_line(run.out, 3, line, sizeof(line)));
	assert_json_field(line, "src", "\"::1\"");
	assert_json_field(line, "ip_translation", "null");
	assert_json_field(line, "flags", "[\"closed\"]");
	/* --client: the client stays registered */
	assert_true(registered("j1"));
}

static void test_conns_table_has_the_expected_rows_and_unregisters(void **state)
{
	char id[FR_NAME_MAX], last[FR_NAME_MAX], line[512];
	unsigned before = unregisters(last, sizeof(last));
	(void)state;
	snprintf(id, sizeof(id), "cli-%u", (unsigned)getuid());
	assert_int_equal(cli("conns", NULL), 0);
	assert_int_equal(count_lines(run.out), 1 + NKNOWN);
	assert_has(nth_line(run.out, 0, line, sizeof(line)), "Proto", "Local Address:Port", "Peer Address:Port", "Dir",
		   "Pid", "Sent", "Recv", "Retrans", "RTT/Var", "State", "NAT", NULL);
	assert_has(nth_line(run.out, 1, line, sizeof(line)), "tcp ", "10.1.2.3:40001", "10.9.8.7:443", "outgoing",
		   "4242", "1.2K(+234B)", "5.0M(+1.0M)", "3(+1)", "150us/20us", "active",
		   "192.168.9.9:5000->10.9.8.7:443", NULL);
	assert_has(nth_line(run.out, 2, line, sizeof(line)), "udp ", "127.0.0.1:53000", "127.0.0.53:53", "local", "77",
		   "40B(+40B)", " - ", "active", NULL);
	assert_true(line[strlen(line) - 1] == '-'); /* no NAT */
	assert_has(nth_line(run.out, 3, line, sizeof(line)), "tcp6 ", "[2001:db8::1]:8080", "[2001:db8::2]:51000",
		   "incoming", "2.50ms/0us", "[2001:db8::99]:80->[2001:db8::1]:51000", NULL);
	assert_has(nth_line(run.out, 4, line, sizeof(line)), "tcp6 ", "[::1]:6000", "[::1]:6001", "closed",
		   "7B(+7B)", NULL);
	/* the default client was created by this run: unregistered at exit */
	assert_int_equal(unregisters(last, sizeof(last)), before + 1);
	assert_string_equal(last, id);
	assert_false(registered(id));
}

static void test_conns_unregisters_when_its_reader_goes_away(void **state)
{
	const char *argv[] = {FR_CLI_BIN, "conns", "--watch", "--interval", "50ms", "--shm-dir", tmpdir, "--control",
			      sock_path, "--instance", instance, NULL};
	char id[FR_NAME_MAX], last[FR_NAME_MAX];
	unsigned before = unregisters(last, sizeof(last));
	posix_spawn_file_actions_t fa;
	int pfd[2], st;
	pid_t pid;
	(void)state;
	snprintf(id, sizeof(id), "cli-%u", (unsigned)getuid());
	assert_int_equal(pipe(pfd), 0);
	close(pfd[0]); /* `flowring conns --watch | head` after head exited */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	assert_int_equal(posix_spawn(&pid, FR_CLI_BIN, &fa, NULL, (char **)argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	st = wait_exit(pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(unregisters(last, sizeof(last)), before + 1);
	assert_false(registered(id));
}

static void test_conns_keep_leaves_the_client_registered(void **state)
{
	char id[FR_NAME_MAX], last[FR_NAME_MAX];
	unsigned before = unregisters(last, sizeof(last));
	(void)state;
	snprintf(id, sizeof(id), "cli-%u", (unsigned)getuid());
	assert_int_equal(cli("conns", "--keep", NULL), 0);
	assert_int_equal(unregisters(last, sizeof(last)), before);
	assert_true(registered(id));
	/* a later run did not create it, so it does not remove it either */
	assert_int_equal(cli("conns", "--json", NULL), 0);
	assert_int_equal(count_lines(run.out), NKNOWN);
	assert_true(registered(id));
	assert_int_equal(fake_unregister(NULL, id, NULL), 0);
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

static void test_conns_without_daemon_exits_1_naming_the_socket(void **state)
{
	char absent[256];
	const char *args[] = {"conns", "--control", absent, "--shm-dir", tmpdir, NULL};
	(void)state;
	snprintf(absent, sizeof(absent), "%s/absent.sock", tmpdir);
	collect(spawn_cli(args));
	assert_int_equal(run.status, 1);
	assert_has(run.err, absent, "not running", "flowringd --instance default --control ", NULL);
	assert_string_equal(run.out, "");
}

static void test_bad_usage_exits_2_with_a_message(void **state)
{
	static const struct {
		const char *args[6];
		const char *msg;
	} cases[] = {
		{{"bogus"}, "unknown command 'bogus'"},
		{{NULL}, "missing command"},
		{{"conns", "--frob"}, "flowring conns: unknown option '--frob'"},
		{{"conns", "--interval", "1s"}, "--interval needs --watch"},
		{{"conns", "--watch", "--interval", "soon"}, "invalid --interval 'soon'"},
		{{"conns", "--client", "a/b"}, "invalid client id 'a/b'"},
		{{"conns", "--publish-interval", "5ms"}, "invalid --publish-interval '5ms'"},
		{{"conns", "--publish-interval", "25h"}, "invalid --publish-interval '25h'"},
		{{"conns", "-w", "--interval", "1s", "-p", "1s"}, "--interval and --publish-interval exclude"},
		{{"events", "--count", "0"}, "invalid --count '0'"},
		{{"events", "--count"}, "option '--count' needs a value"},
		{{"events", "extra"}, "unexpected argument 'extra'"},
		{{"stats", "--json", "--prometheus"}, "exclusive"},
		{{"dump"}, "--client ID is required"},
		{{"clients", "--client", "x"}, "unknown option '--client'"},
		{{"--instance", "../x", "stats"}, "invalid --instance '../x'"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		collect(spawn_cli(cases[i].args));
		if (run.status != 2 || !strstr(run.err, cases[i].msg) || !strstr(run.err, "--help'"))
			fail_msg("case %zu: exit %d, stderr: %s", i, run.status, run.err);
		assert_string_equal(run.out, "");
	}
	/* --help and --version are not errors */
	collect(spawn_cli((const char *[]){"conns", "--help", NULL}));
	assert_int_equal(run.status, 0);
	assert_has(run.out, "Usage: flowring conns", "--watch", NULL);
	collect(spawn_cli((const char *[]){"--version", NULL}));
	assert_int_equal(run.status, 0);
	assert_has(run.out, "flowring ", "consumer SDK " FLOWRING_SDK_VERSION, NULL);
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

/* ---- clients, dump ---- */

static void test_clients_and_dump_print_the_daemon_lists(void **state)
{
	char line[512];
	(void)state;
	assert_int_equal(cli("conns", "--client", "d1", "--json", NULL), 0);
	assert_int_equal(cli("clients", "--json", NULL), 0);
	assert_has(run.out, "{\"id\":\"d1\",\"keys\":", ",\"closed\":3,\"idle_ms\":250}\n", NULL);
	for (unsigned i = 0; nth_line(run.out, i, line, sizeof(line)); i++)
		assert_json_field(line, "closed", "3");
	assert_int_equal(cli("clients", NULL), 0);
	assert_has(run.out, "Client", "Idle(ms)", "d1 ", NULL);
	assert_int_equal(cli("dump", "--client", "d1", "--json", NULL), 0);
	assert_int_equal(count_lines(run.out), 1);
	assert_json_field(nth_line(run.out, 0, line, sizeof(line)), "key",
			  "\"p:4242|src:10.1.2.3:40001|dst:10.9.8.7:443|f:0|t:0\"");
	assert_json_field(line, "sent", "1234");
	assert_json_field(line, "recv", "99");
	assert_json_field(line, "retransmits", "2");
	assert_int_equal(cli("conns", "--client", "big", "--json", NULL), 0);
	assert_int_equal(cli("dump", "--client", "big", NULL), 0);
	assert_int_equal(count_lines(run.out), 1 + 60);
	assert_int_equal(count_str(run.out, "Key "), 1);
	assert_has(run.out, "p:4242|src:10.1.2.3:40060|dst:10.9.8.7:443|f:0|t:0", NULL);
	assert_int_equal(cli("dump", "--client", "nobody", NULL), 1);
	assert_has(run.err, "no client 'nobody'", NULL);
}

/* ---- events ---- */

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

/* ---- stats ---- */

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

/* ---- formatting units ---- */

static void test_byte_units_are_binary_and_short(void **state)
{
	char b[32];
	(void)state;
	fr_cli_fmt_bytes(0, b, sizeof(b));
	assert_string_equal(b, "0B");
	fr_cli_fmt_bytes(1023, b, sizeof(b));
	assert_string_equal(b, "1023B");
	fr_cli_fmt_bytes(1536, b, sizeof(b));
	assert_string_equal(b, "1.5K");
	fr_cli_fmt_bytes(500ull << 20, b, sizeof(b));
	assert_string_equal(b, "500M");
	fr_cli_fmt_bytes(3ull << 40, b, sizeof(b));
	assert_string_equal(b, "3.0T");
	fr_cli_fmt_usec(1500000, b, sizeof(b));
	assert_string_equal(b, "1.50s");
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
		cmocka_unit_test(test_conns_json_lines_carry_the_known_records),
		cmocka_unit_test(test_conns_table_has_the_expected_rows_and_unregisters),
		cmocka_unit_test(test_conns_unregisters_when_its_reader_goes_away),
		cmocka_unit_test(test_conns_keep_leaves_the_client_registered),
		cmocka_unit_test(test_conns_reads_the_snapshot_it_asked_for_not_a_newer_one),
		cmocka_unit_test(test_conns_watch_follows_regrown_regions_and_exits_on_sigint),
		cmocka_unit_test(test_conns_watch_registers_again_after_the_client_expired),
		cmocka_unit_test(test_conns_registers_for_snapshots_on_request_unless_given_an_interval),
		cmocka_unit_test(test_conns_watch_with_publish_interval_shows_published_snapshots_without_asking),
		cmocka_unit_test(test_conns_without_daemon_exits_1_naming_the_socket),
		cmocka_unit_test(test_conns_with_another_shm_dir_than_the_daemon_exits_1),
		cmocka_unit_test(test_bad_usage_exits_2_with_a_message),
		cmocka_unit_test(test_clients_and_dump_print_the_daemon_lists),
		cmocka_unit_test(test_events_count_prints_exactly_n_from_the_oldest),
		cmocka_unit_test(test_events_reports_exact_loss_when_lapped),
		cmocka_unit_test(test_events_follow_reopens_a_new_generation),
		cmocka_unit_test(test_events_without_producer_exits_1_naming_the_region),
		cmocka_unit_test(test_events_of_a_dead_producer_prints_its_records_and_says_so),
		cmocka_unit_test(test_stats_prometheus_has_help_type_and_label_lines),
		cmocka_unit_test(test_stats_json_is_one_object),
		cmocka_unit_test(test_byte_units_are_binary_and_short),
		cmocka_unit_test(test_prometheus_escapes_label_values),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
