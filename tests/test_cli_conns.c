/* Description: `flowring conns` (tools/cli_conns.c) end to end against the fake producer: JSON lines and table of the known records, which runs unregister the client and which keep it, a closed stdout, no daemon. */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conns_json_lines_carry_the_known_records),
		cmocka_unit_test(test_conns_table_has_the_expected_rows_and_unregisters),
		cmocka_unit_test(test_conns_unregisters_when_its_reader_goes_away),
		cmocka_unit_test(test_conns_keep_leaves_the_client_registered),
		cmocka_unit_test(test_conns_without_daemon_exits_1_naming_the_socket),
	};
	return cmocka_run_group_tests(tests, fake_producer_group_setup, fake_producer_group_teardown);
}
