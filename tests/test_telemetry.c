/* Description: telemetry block: fixed names visible to SDK readers, run-time registration, set/add values. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <flowring/flowring.h>

#include "events_ring.h"
#include "telemetry.h"

static char shm_dir[128];
static struct fr_events_writer w;
static struct fr_events_reader r;

static int setup(void **state)
{
	struct fr_events_params p = {.instance = "tm", .capacity = 16, .gid = (gid_t)-1};
	(void)state;
	snprintf(shm_dir, sizeof(shm_dir), "/dev/shm/fr-test-tm-%d-XXXXXX", (int)getpid());
	if (!mkdtemp(shm_dir))
		return -1;
	p.shm_dir = shm_dir;
	if (fr_events_create(&w, &p) != 0)
		return -1;
	return fr_events_open(&r, shm_dir, "tm", FR_FROM_LATEST) == FR_OK ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	fr_events_close(&r);
	fr_events_retire(&w);
	return rmdir(shm_dir);
}

static void test_fixed_counters_are_named_for_readers(void **state)
{
	char name[FR_TELEMETRY_NAME_LEN];
	uint64_t v = 1;
	(void)state;
	assert_int_equal(fr_events_telemetry_count(&r), FR_TELEMETRY_MAX);
	assert_int_equal(fr_events_telemetry(&r, FR_TM_CONNS_CLOSED, name, &v), FR_OK);
	assert_string_equal(name, "conns_closed");
	assert_int_equal(v, 0);
	assert_int_equal(fr_events_telemetry(&r, FR_TM_CTL_FLOOD_REFUSED, name, &v), FR_OK);
	assert_string_equal(name, "ctl_flood_refused");
	assert_int_equal(fr_events_telemetry(&r, FR_TM__COUNT, name, &v), FR_AGAIN); /* unused entry */
	assert_int_equal(fr_events_telemetry(&r, FR_TELEMETRY_MAX, name, &v), -ERANGE);
}

static void test_set_and_add_are_visible_to_readers(void **state)
{
	char name[FR_TELEMETRY_NAME_LEN];
	uint64_t v = 0;
	(void)state;
	fr_telemetry_set(&w.telemetry, FR_TM_INGEST_EVENTS, 40);
	fr_telemetry_add(&w.telemetry, FR_TM_INGEST_EVENTS, 2);
	assert_int_equal(fr_events_telemetry(&r, FR_TM_INGEST_EVENTS, name, &v), FR_OK);
	assert_int_equal(v, 42);
	assert_int_equal(fr_telemetry_get(&w.telemetry, FR_TM_INGEST_EVENTS), 42);
	fr_telemetry_set(&w.telemetry, FR_TELEMETRY_MAX + 5, 1); /* out of range: ignored, no crash */
}

static void test_register_adds_names_until_the_block_is_full(void **state)
{
	char name[FR_TELEMETRY_NAME_LEN], n[64];
	uint64_t v;
	(void)state;
	int id = fr_telemetry_register(&w.telemetry, "bpf_prog_runs_tcp_state");
	assert_int_equal(id, FR_TM__COUNT);
	assert_int_equal(fr_telemetry_register(&w.telemetry, "bpf_prog_runs_tcp_state"), id); /* same name, same id */
	fr_telemetry_set(&w.telemetry, (uint32_t)id, 7);
	assert_int_equal(fr_events_telemetry(&r, (uint32_t)id, name, &v), FR_OK);
	assert_string_equal(name, "bpf_prog_runs_tcp_state");
	assert_int_equal(v, 7);
	assert_int_equal(fr_telemetry_register(&w.telemetry, ""), -EINVAL);
	memset(n, 'x', sizeof(n) - 1);
	n[sizeof(n) - 1] = '\0';
	assert_int_equal(fr_telemetry_register(&w.telemetry, n), -EINVAL);
	for (uint32_t i = (uint32_t)id + 1; i < FR_TELEMETRY_MAX; i++) {
		snprintf(n, sizeof(n), "dyn_%u", i);
		assert_int_equal(fr_telemetry_register(&w.telemetry, n), (int)i);
	}
	assert_int_equal(fr_telemetry_register(&w.telemetry, "one_too_many"), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed_counters_are_named_for_readers),
		cmocka_unit_test(test_set_and_add_are_visible_to_readers),
		cmocka_unit_test(test_register_adds_names_until_the_block_is_full),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
