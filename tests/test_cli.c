/* Description: the flowring command itself (tools/flowring.c dispatch, cli_common.c option checks): bad command lines exit 2 with a message naming the problem and --help, --help and --version exit 0. */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_usage_exits_2_with_a_message),
	};
	return cmocka_run_group_tests(tests, fake_producer_group_setup, fake_producer_group_teardown);
}
