/* Description: `flowring clients` and `flowring dump` (tools/cli_daemon.c) end to end against the fake producer: the daemon's lists as JSON and table, multi-message replies, an unknown client. */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clients_and_dump_print_the_daemon_lists),
	};
	return cmocka_run_group_tests(tests, fake_producer_group_setup, fake_producer_group_teardown);
}
