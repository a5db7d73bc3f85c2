/* Description: the SDK compiles as strict C11 -pedantic and its pure helpers behave. */
#include <flowring/flowring.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

static void test_names_follow_the_rules(void **state)
{
	(void)state;
	assert_int_equal(fr_name_valid("default"), 0);
	assert_int_equal(fr_name_valid("-1"), 0);
	assert_int_equal(fr_name_valid(""), -EINVAL);
	assert_int_equal(fr_name_valid(".hidden"), -EINVAL);
	assert_int_equal(fr_name_valid("a/b"), -EINVAL);
	assert_int_equal(fr_name_valid("sp ace"), -EINVAL);
	assert_int_equal(fr_name_valid("0123456789012345678901234567890"), 0);
	assert_int_equal(fr_name_valid("01234567890123456789012345678901"), -EINVAL);
}

static void test_paths_name_the_region(void **state)
{
	char p[FLOWRING_PATH_MAX];
	(void)state;
	assert_int_equal(fr_region_path(p, sizeof(p), NULL, "x", NULL), 0);
	assert_string_equal(p, "/dev/shm/flowring.x.events");
	assert_int_equal(fr_region_path(p, sizeof(p), "/d", "x", "-1"), 0);
	assert_string_equal(p, "/d/flowring.x.client.-1");
	char longdir[FLOWRING_PATH_MAX + 8];
	memset(longdir, 'd', sizeof(longdir) - 1);
	longdir[sizeof(longdir) - 1] = '\0';
	assert_int_equal(fr_region_path(p, sizeof(p), longdir, "x", "-1"), -ENAMETOOLONG);
}

static void test_status_strings_are_distinct(void **state)
{
	(void)state;
	for (int a = FR_OK; a <= FR_WRONG_KIND; a++)
		for (int b = a + 1; b <= FR_WRONG_KIND; b++)
			assert_string_not_equal(fr_status_str(a), fr_status_str(b));
	assert_true(FLOWRING_CHECK_VERSION(1, 0, 0));
	assert_false(FLOWRING_CHECK_VERSION(1, 0, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_follow_the_rules),
		cmocka_unit_test(test_paths_name_the_region),
		cmocka_unit_test(test_status_strings_are_distinct),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
