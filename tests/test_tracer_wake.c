/* test_tracer_wake.c - the kernel side's wake-up policy: a consumer asleep on an empty ring is woken for one
 * close when it asked for it (wake_idle) and not otherwise, and fr_tracer_pending() tells what a drain left.
 *
 * The traffic runs in a network namespace of the test's own, and the tracer only traces that namespace, so no
 * other connection of the host can wake it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_tracer_util.h"

static char g_ns[32];
static uint32_t g_ino;

static int fr_wake_setup(void **state)
{
	char path[64];

	(void)state;
	snprintf(g_ns, sizeof(g_ns), "frwake%d", (int)getpid());
	if (fr_sh("ip netns add %s && ip -n %s link set lo up", g_ns, g_ns))
		return -1;
	snprintf(path, sizeof(path), "/run/netns/%s", g_ns);
	g_ino = fr_netns_inode(path);
	return g_ino ? 0 : -1;
}

static int fr_wake_teardown(void **state)
{
	(void)state;
	fr_sh("ip netns del %s", g_ns);
	return 0;
}

/* One loopback TCP connection inside the test namespace, made and closed by a child (the test process stays
 * where it is). 0 when the child succeeded. */
static int fr_one_close_in_ns(void)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t len = sizeof(sa);
		int l, c, a;

		if (fr_enter_netns(g_ns))
			_exit(1);
		l = socket(AF_INET, SOCK_STREAM, 0);
		if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) || listen(l, 1) ||
		    getsockname(l, (struct sockaddr *)&sa, &len))
			_exit(2);
		c = socket(AF_INET, SOCK_STREAM, 0);
		if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof(sa)))
			_exit(3);
		a = accept(l, NULL, NULL);
		if (a < 0)
			_exit(4);
		close(a);
		close(c);
		close(l);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static struct fr_tracer *fr_wake_tracer(struct fr_col *col, bool wake_idle)
{
	struct fr_tracer_opts o;

	fr_tracer_opts_init(&o);
	o.netns = g_ino;
	o.seed = false;
	o.wake_idle = wake_idle;
	return fr_test_tracer_opts(col, o);
}

/* Drain, then make one connection in the namespace while nothing reads, and report whether the ring buffer's
 * fd was woken within timeout_ms. Polling the map fd directly: a record that arrives without a wake-up leaves
 * an epoll waiter asleep even though data is there, which is the point of the test. */
static int fr_woken_by_one_close(struct fr_tracer *t, int timeout_ms)
{
	struct epoll_event ev = {.events = EPOLLIN}, out;
	int ep = epoll_create1(EPOLL_CLOEXEC), n;

	assert_true(ep >= 0);
	assert_true(fr_tracer_consume(t) >= 0);
	assert_false(fr_tracer_pending(t));
	/* registering polls once: the ring is empty, so the fd is not ready */
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, fr_tracer_ringbuf_fd(t), &ev), 0);
	assert_int_equal(epoll_wait(ep, &out, 1, 0), 0);
	assert_int_equal(fr_one_close_in_ns(), 0);
	n = epoll_wait(ep, &out, 1, timeout_ms);
	close(ep);
	return n;
}

static void test_consumer_asleep_on_an_empty_ring_is_woken_for_one_close(void **state)
{
	struct fr_col col = {0};
	struct fr_tracer *t;

	(void)state;
	t = fr_wake_tracer(&col, true);
	assert_non_null(t);
	assert_int_equal(fr_woken_by_one_close(t, 2000), 1);
	fr_tracer_close(t);
	fr_col_free(&col);
}

static void test_consumer_without_idle_wakeups_sleeps_through_one_close(void **state)
{
	struct fr_col col = {0};
	struct fr_tracer *t;

	(void)state;
	t = fr_wake_tracer(&col, false);
	assert_non_null(t);
	/* the same close, well under the wakeup_bytes threshold: no wake-up, the data waits for a drain */
	assert_int_equal(fr_woken_by_one_close(t, 300), 0);
	assert_true(fr_tracer_pending(t));
	fr_tracer_close(t);
	fr_col_free(&col);
}

static void test_pending_reports_records_until_a_drain_consumes_them(void **state)
{
	struct fr_col col = {0};
	struct fr_tracer *t;

	(void)state;
	t = fr_wake_tracer(&col, false);
	assert_non_null(t);
	assert_true(fr_tracer_consume(t) >= 0);
	assert_false(fr_tracer_pending(t));
	assert_int_equal(fr_one_close_in_ns(), 0);
	/* both ends closed before the child exited, and each close submitted its record synchronously */
	assert_true(fr_tracer_pending(t));
	assert_true(fr_tracer_consume(t) >= 1);
	assert_false(fr_tracer_pending(t));
	/* the client end's close can trail in softirq context: give it a second */
	for (int i = 0; i < 100 && col.n < 2; i++) {
		usleep(10000);
		assert_true(fr_tracer_consume(t) >= 0);
	}
	assert_int_equal(col.n, 2);
	fr_tracer_close(t);
	fr_col_free(&col);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_consumer_asleep_on_an_empty_ring_is_woken_for_one_close),
		cmocka_unit_test(test_consumer_without_idle_wakeups_sleeps_through_one_close),
		cmocka_unit_test(test_pending_reports_records_until_a_drain_consumes_them),
	};

	fr_test_require_root("test_tracer_wake");
	return cmocka_run_group_tests(tests, fr_wake_setup, fr_wake_teardown);
}
