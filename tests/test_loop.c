/* Description: the io_uring event loop fires fd and timer callbacks, removes sources safely, stops on request. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop.h"

struct counter {
	struct fr_loop *loop;
	struct fr_loop_src *src;
	int fd;
	int calls;
	int stop_after;
	int fail_with;
	int remove_self_after;
};

static int on_event(void *ctx, uint32_t revents)
{
	struct counter *c = ctx;
	char buf[64];

	if (c->fd >= 0 && (revents & POLLIN))
		(void)!read(c->fd, buf, sizeof(buf));
	c->calls++;
	if (c->remove_self_after && c->calls == c->remove_self_after)
		fr_loop_remove(c->loop, c->src);
	if (c->fail_with && c->calls == 1)
		return c->fail_with;
	if (c->stop_after && c->calls >= c->stop_after)
		fr_loop_stop(c->loop);
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void test_fd_callback_runs_once_per_readiness(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	struct fr_loop *l = fr_loop_new(16);
	assert_non_null(l);
	struct counter c = {.loop = l, .fd = p[0], .stop_after = 3};
	assert_int_equal(fr_loop_add_fd(l, p[0], POLLIN, on_event, &c, &c.src), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(write(p[1], "x", 1), 1);
		/* one readiness per write: the callback drains the pipe before the next write lands */
		while (c.calls <= i && c.calls < 3) {
			struct counter t = {.loop = l, .fd = -1, .stop_after = 1};
			struct fr_loop_src *tm;
			assert_int_equal(fr_loop_add_timer(l, 1000000, on_event, &t, &tm), 0);
			assert_int_equal(fr_loop_run(l), 0);
			fr_loop_remove(l, tm);
		}
	}
	assert_int_equal(c.calls, 3);
	fr_loop_free(l);
	close(p[0]);
	close(p[1]);
}

static void test_timer_fires_periodically(void **state)
{
	(void)state;
	struct fr_loop *l = fr_loop_new(16);
	assert_non_null(l);
	struct counter c = {.loop = l, .fd = -1, .stop_after = 5};
	uint64_t t0 = now_ns();
	assert_int_equal(fr_loop_add_timer(l, 2000000, on_event, &c, NULL), 0);
	assert_int_equal(fr_loop_run(l), 0);
	uint64_t dt = now_ns() - t0;
	assert_int_equal(c.calls, 5);
	/* five 2 ms periods cannot complete in less than 10 ms */
	assert_true(dt >= 10000000ull);
	fr_loop_free(l);
}

static void test_source_removed_in_its_own_callback_never_fires_again(void **state)
{
	(void)state;
	struct fr_loop *l = fr_loop_new(16);
	assert_non_null(l);
	struct counter c = {.loop = l, .fd = -1, .remove_self_after = 2};
	struct counter stopper = {.loop = l, .fd = -1, .stop_after = 1};
	assert_int_equal(fr_loop_add_timer(l, 1000000, on_event, &c, &c.src), 0);
	assert_int_equal(fr_loop_add_timer(l, 30000000, on_event, &stopper, NULL), 0);
	assert_int_equal(fr_loop_run(l), 0);
	/* a 1 ms timer ran for 30 ms but was removed after its second call */
	assert_int_equal(c.calls, 2);
	fr_loop_free(l);
}

static void test_callback_error_stops_the_loop_with_that_error(void **state)
{
	(void)state;
	struct fr_loop *l = fr_loop_new(16);
	assert_non_null(l);
	struct counter c = {.loop = l, .fd = -1, .fail_with = -EPROTO};
	assert_int_equal(fr_loop_add_timer(l, 1000000, on_event, &c, NULL), 0);
	assert_int_equal(fr_loop_run(l), -EPROTO);
	assert_int_equal(c.calls, 1);
	fr_loop_free(l);
}

static void *stop_later(void *arg)
{
	struct timespec ts = {0, 20000000};
	nanosleep(&ts, NULL);
	fr_loop_stop(arg);
	return NULL;
}

static void test_stop_from_another_thread_wakes_an_idle_loop(void **state)
{
	(void)state;
	struct fr_loop *l = fr_loop_new(16);
	assert_non_null(l);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, stop_later, l), 0);
	assert_int_equal(fr_loop_run(l), 0);
	pthread_join(t, NULL);
	fr_loop_free(l);
}

static void test_timer_can_be_rearmed_and_disarmed(void **state)
{
	(void)state;
	struct fr_loop *l = fr_loop_new(16);
	assert_non_null(l);
	struct counter c = {.loop = l, .fd = -1};
	struct counter stopper = {.loop = l, .fd = -1, .stop_after = 1};
	struct fr_loop_src *s;
	assert_int_equal(fr_loop_add_timer(l, 1000000, on_event, &c, &s), 0);
	assert_int_equal(fr_loop_timer_set(s, 0), 0);
	assert_int_equal(fr_loop_add_timer(l, 20000000, on_event, &stopper, NULL), 0);
	assert_int_equal(fr_loop_run(l), 0);
	assert_int_equal(c.calls, 0);
	fr_loop_free(l);
}

static void test_bad_arguments_are_rejected(void **state)
{
	(void)state;
	struct fr_loop *l = fr_loop_new(16);
	assert_non_null(l);
	assert_int_equal(fr_loop_add_fd(l, -1, POLLIN, on_event, NULL, NULL), -EINVAL);
	assert_int_equal(fr_loop_add_fd(l, 0, POLLIN, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(fr_loop_add_timer(l, 1000, NULL, NULL, NULL), -EINVAL);
	fr_loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fd_callback_runs_once_per_readiness),
		cmocka_unit_test(test_timer_fires_periodically),
		cmocka_unit_test(test_source_removed_in_its_own_callback_never_fires_again),
		cmocka_unit_test(test_callback_error_stops_the_loop_with_that_error),
		cmocka_unit_test(test_stop_from_another_thread_wakes_an_idle_loop),
		cmocka_unit_test(test_timer_can_be_rearmed_and_disarmed),
		cmocka_unit_test(test_bad_arguments_are_rejected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
