/* Description: the CLI's shared formatting (tools/cli_output.c): binary byte units and durations. */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_byte_units_are_binary_and_short),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
