/* Description: control socket server and client over a real SOCK_SEQPACKET socket in a temp dir with a fake handler -
 * round trips, the REGISTER publish interval, continuation, pipelining, credentials, second instance, stale file. Abuse and limits: test_control_server_limits.c. */
#define _GNU_SOURCE /* setgroups */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "control_client.h"
#include "control_server.h"
#include "control_server_fixture.h"

static int list_count(void *ctx, const struct fr_ctl_msg *m)
{
	struct fr_ctl_list_iter it;
	struct fr_ctl_dump_item d;
	unsigned *n = ctx;

	if (m->hdr.type == (FR_CTL_REPLY | FR_CTL_DUMP)) {
		fr_ctl_list_iter_init(&it, m);
		while (fr_ctl_list_next_dump(&it, &d)) {
			assert_int_equal(d.sent, n[0]);
			n[0]++;
		}
		n[1]++;
	} else if (m->hdr.type == FR_CTL_ERROR) {
		n[2] = m->u.err.code;
	}
	return 0;
}

static void test_every_request_round_trips_through_the_socket(void **state)
{
	struct fr_ctl_msg r;
	uint8_t req[64];
	int fd;
	(void)state;

	srv_start(NULL);
	fd = fr_ctl_client_connect(sock_path, TMO);
	assert_true(fd >= 0);
	assert_int_equal(fr_ctl_client_request(fd, FR_CTL_PING, NULL, &r, TMO), 0);
	assert_int_equal(r.u.ping.pid, getpid());
	assert_int_equal(r.u.ping.proto_version, FR_CTL_VERSION);
	assert_int_equal(fr_ctl_client_request(fd, FR_CTL_REGISTER, "agent", &r, TMO), 0);
	assert_int_equal(r.u.reg.generation, 42);
	assert_int_equal(r.u.reg.created, 1);
	assert_int_equal(fr_ctl_client_request(fd, FR_CTL_REGISTER, "agent", &r, TMO), 0);
	assert_int_equal(r.u.reg.created, 0);
	assert_int_equal(fr_ctl_client_request(fd, FR_CTL_REGISTER, "-1", &r, TMO), 0);
	assert_int_equal(r.u.reg.generation, 43);
	assert_int_equal(fr_ctl_client_request(fd, FR_CTL_SNAPSHOT, "agent", &r, TMO), 0);
	assert_int_equal(r.u.snap.seq, 100);
	assert_int_equal(r.u.snap.records, 7);
	assert_int_equal(fr_ctl_client_request(fd, FR_CTL_SNAPSHOT, "agent", &r, TMO), 0);
	assert_int_equal(r.u.snap.seq, 102);
	assert_int_equal(fr_ctl_client_request(fd, FR_CTL_SNAPSHOT, "nobody", &r, TMO), -EREMOTEIO);
	assert_int_equal(r.hdr.type, FR_CTL_ERROR);
	assert_int_equal(r.u.err.code, FR_CTL_E_NO_CLIENT);

	/* lists */
	struct fr_ctl_msg last;
	int n = fr_ctl_encode_request(req, sizeof(req), FR_CTL_CLIENTS, 9, NULL);
	assert_int_equal(fr_ctl_client_call(fd, req, (size_t)n, NULL, NULL, TMO), 0);
	n = fr_ctl_encode_request(req, sizeof(req), FR_CTL_STATS, 10, NULL);
	memset(&last, 0, sizeof(last));
	assert_int_equal(fr_ctl_client_call(fd, req, (size_t)n, NULL, NULL, TMO), 0);
	assert_int_equal(fr_ctl_client_request(fd, FR_CTL_STATS, NULL, &last, TMO), -EINVAL);

	assert_int_equal(fr_ctl_client_request(fd, FR_CTL_UNREGISTER, "agent", &r, TMO), 0);
	assert_int_equal(r.hdr.type, FR_CTL_REPLY | FR_CTL_UNREGISTER);
	assert_int_equal(fr_ctl_client_request(fd, FR_CTL_UNREGISTER, "agent", &r, TMO), -EREMOTEIO);
	assert_int_equal(r.u.err.code, FR_CTL_E_NO_CLIENT);
	close(fd);
	srv_pause();
	assert_int_equal(fr_ctl_server_counter(srv, FR_TM_CTL_REQUESTS), 11);
	assert_int_equal(fake.nids, 1);
	assert_string_equal(fake.ids[0], "-1");
	srv_resume();
	srv_stop_all();
}

/* What the handler got for the last REGISTER (the server thread is paused while we look). */
static int64_t handler_interval(void)
{
	int64_t v;

	srv_pause();
	v = fake.last_publish_interval_ms;
	srv_resume();
	return v;
}

static void test_register_hands_the_publish_interval_to_the_handler(void **state)
{
	struct fr_ctl_msg r;
	uint8_t req[64];
	int fd;
	(void)state;

	srv_start(NULL);
	fd = fr_ctl_client_connect(sock_path, TMO);
	assert_true(fd >= 0);
	/* the old request form and -1 both mean "not given" */
	assert_int_equal(fr_ctl_client_request(fd, FR_CTL_REGISTER, "agent", &r, TMO), 0);
	assert_int_equal(handler_interval(), -1);
	assert_int_equal(fr_ctl_client_register(fd, "agent", 250, &r, TMO), 0);
	assert_int_equal(r.u.reg.created, 0);
	assert_int_equal(handler_interval(), 250);
	assert_int_equal(fr_ctl_client_register(fd, "agent", -1, &r, TMO), 0);
	assert_int_equal(handler_interval(), -1);
	assert_int_equal(fr_ctl_client_register(fd, "other", 0, &r, TMO), 0);
	assert_int_equal(r.u.reg.created, 1);
	assert_int_equal(handler_interval(), 0);
	/* the client library refuses what the daemon would refuse, without sending it */
	assert_int_equal(fr_ctl_client_register(fd, "agent", 5, &r, TMO), -EINVAL);
	assert_int_equal(fr_ctl_client_register(fd, "agent", -2, &r, TMO), -EINVAL);
	assert_int_equal(handler_interval(), 0);
	/* an out-of-bounds interval on the wire is a malformed message: error reply, handler not called */
	int n = fr_ctl_encode_register(req, sizeof(req), 77, "agent", &(uint64_t){250});
	assert_true(n > 0);
	req[n - 8] = 9; /* 250 -> 9 ms: below the minimum */
	req[n - 7] = 0;
	assert_int_equal(fr_ctl_client_call(fd, req, (size_t)n, NULL, NULL, TMO), -EREMOTEIO);
	assert_int_equal(handler_interval(), 0);
	close(fd);
	srv_stop_all();
}

static int check_clients(void *ctx, const struct fr_ctl_msg *m)
{
	struct fr_ctl_list_iter it;
	struct fr_ctl_client_item c;
	unsigned *n = ctx;

	fr_ctl_list_iter_init(&it, m);
	while (fr_ctl_list_next_client(&it, &c)) {
		assert_int_equal(c.closed, 10 * c.keys);
		(*n)++;
	}
	return 0;
}

static void test_list_replies_arrive_complete_with_continuation(void **state)
{
	struct fr_ctl_msg r;
	uint8_t req[64];
	unsigned cnt[3] = {0};
	unsigned clients = 0;
	int fd, n;
	(void)state;

	srv_start(NULL);
	fake.dump_items = 5000; /* ~350 KB: more than the socket buffer, so replies are queued and flushed */
	fd = fr_ctl_client_connect(sock_path, TMO);
	assert_true(fd >= 0);
	assert_int_equal(fr_ctl_client_request(fd, FR_CTL_REGISTER, "a", &r, TMO), 0);
	assert_int_equal(fr_ctl_client_request(fd, FR_CTL_REGISTER, "b", &r, TMO), 0);
	n = fr_ctl_encode_request(req, sizeof(req), FR_CTL_CLIENTS, 1, NULL);
	assert_int_equal(fr_ctl_client_call(fd, req, (size_t)n, check_clients, &clients, TMO), 0);
	assert_int_equal(clients, 2);
	n = fr_ctl_encode_request(req, sizeof(req), FR_CTL_DUMP, 2, "a");
	assert_int_equal(fr_ctl_client_call(fd, req, (size_t)n, list_count, cnt, TMO), 0);
	assert_int_equal(cnt[0], 5000);
	assert_true(cnt[1] > 50);
	/* a handler error after many MORE messages ends the chain with an ERROR */
	memset(cnt, 0, sizeof(cnt));
	n = fr_ctl_encode_request(req, sizeof(req), FR_CTL_DUMP, 3, "fail");
	assert_int_equal(fr_ctl_client_call(fd, req, (size_t)n, list_count, cnt, TMO), -EREMOTEIO);
	assert_in_range(cnt[0], 1, 4999); /* the items of the unfinished last message are discarded */
	assert_int_equal(cnt[2], FR_CTL_E_INTERNAL);
	/* and the connection is still in step */
	assert_int_equal(fr_ctl_client_request(fd, FR_CTL_PING, NULL, &r, TMO), 0);
	close(fd);
	srv_stop_all();
}

static void test_pipelined_requests_are_all_answered_under_edge_triggered_polling(void **state)
{
	uint8_t req[64], buf[FR_CTL_MSG_MAX];
	struct fr_ctl_msg m;
	int fd, n;
	(void)state;

	/* more requests than one dispatch round takes: the rest must not wait for an unrelated wake-up */
	srv_edge = true;
	srv_start(NULL);
	fd = fr_ctl_client_connect(sock_path, TMO);
	assert_true(fd >= 0);
	for (uint32_t i = 0; i < 200; i++) {
		n = fr_ctl_encode_request(req, sizeof(req), FR_CTL_PING, i, NULL);
		assert_int_equal(send(fd, req, (size_t)n, 0), n);
	}
	for (uint32_t i = 0; i < 200; i++) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		/* well under the idle sweep timer's 1 s period, whose wake-up would hide a stall */
		if (poll(&p, 1, 400) != 1)
			fail_msg("reply %u of 200 did not come within 400 ms", i);
		ssize_t got = recv(fd, buf, sizeof(buf), 0);
		assert_true(got > 0);
		assert_int_equal(fr_ctl_decode(buf, (size_t)got, &m), 0);
		assert_int_equal(m.hdr.req_id, i);
	}
	close(fd);
	srv_stop_all();
	srv_edge = false;
}

static void test_second_server_is_refused_naming_the_holder_and_stale_socket_is_replaced(void **state)
{
	struct fr_ctl_server_opts o = {.path = sock_path};
	char err[256], want[64];
	int pfd[2];
	pid_t child;
	(void)state;

	assert_int_equal(pipe(pfd), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		struct fr_ctl_server *s = fr_ctl_server_open(&o, &fake_handler, err, sizeof(err));
		if (!s)
			_exit(1);
		if (write(pfd[1], "r", 1) != 1)
			_exit(1);
		for (;;) {
			struct pollfd p = {.fd = fr_ctl_server_fd(s), .events = POLLIN};
			if (poll(&p, 1, 100) > 0)
				fr_ctl_server_dispatch(s);
		}
	}
	char c;
	assert_int_equal(read(pfd[0], &c, 1), 1);
	struct fr_ctl_server *s2 = fr_ctl_server_open(&o, &fake_handler, err, sizeof(err));
	assert_null(s2);
	assert_int_equal(errno, EADDRINUSE);
	snprintf(want, sizeof(want), "pid %d", (int)child);
	assert_non_null(strstr(err, want));

	/* the holder dies without cleaning up: its socket file stays behind, stale */
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	struct stat st;
	assert_int_equal(lstat(sock_path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	srv_start(&o);
	struct fr_ctl_msg r;
	int fd = fr_ctl_client_connect(sock_path, TMO);
	assert_int_equal(fr_ctl_client_request(fd, FR_CTL_PING, NULL, &r, TMO), 0);
	assert_int_equal(r.u.ping.pid, getpid());
	close(fd);
	assert_int_equal(lstat(sock_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);
	srv_stop_all();
	assert_int_equal(lstat(sock_path, &st), -1); /* close removes our own socket */
	close(pfd[0]);
	close(pfd[1]);
}

static void test_path_that_is_not_a_socket_is_left_alone(void **state)
{
	struct fr_ctl_server_opts o = {.path = sock_path};
	char err[256];
	struct stat st;
	FILE *f = fopen(sock_path, "w");
	(void)state;

	assert_non_null(f);
	fputs("precious", f);
	fclose(f);
	assert_null(fr_ctl_server_open(&o, &fake_handler, err, sizeof(err)));
	assert_int_equal(errno, EEXIST);
	assert_non_null(strstr(err, "not a socket"));
	assert_int_equal(stat(sock_path, &st), 0);
	assert_int_equal(st.st_size, 8);
	unlink(sock_path);
	assert_int_equal(fr_ctl_client_connect(sock_path, TMO), -ENOENT);
}

/* Runs in a child that dropped privileges: ping is open to anyone who can connect, the rest is not. */
static int creds_child(uid_t uid, gid_t gid, uint8_t *code)
{
	struct fr_ctl_msg r;
	gid_t none[1] = {gid};
	if (setgroups(1, none) || setgid(gid) || setuid(uid))
		return 10;
	int fd = fr_ctl_client_connect(sock_path, TMO);
	if (fd < 0)
		return 11;
	if (fr_ctl_client_request(fd, FR_CTL_PING, NULL, &r, TMO))
		return 12;
	int rc = fr_ctl_client_request(fd, FR_CTL_REGISTER, "c", &r, TMO);
	*code = rc == 0 ? 0 : (uint8_t)r.u.err.code;
	return 0;
}

static int run_as(uid_t uid, gid_t gid)
{
	int st;
	pid_t pid = fork();
	if (pid == 0) {
		uint8_t code = 255;
		int rc = creds_child(uid, gid, &code);
		_exit(rc ? rc : code);
	}
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 99;
}

static void test_unprivileged_peer_is_refused_and_counted(void **state)
{
	struct fr_ctl_server_opts o = {.path = sock_path, .group_set = true, .group = 54321};
	(void)state;

	srv_start(&o);
	/* open the file mode for this test only: the cred check is the defence behind the 0660 mode */
	assert_int_equal(chmod(tmpdir, 0755), 0);
	assert_int_equal(chmod(sock_path, 0666), 0);
	assert_int_equal(run_as(65534, 65534), FR_CTL_E_PERM);
	assert_int_equal(run_as(65534, 54321), 0); /* member of the configured group */
	srv_pause();
	assert_int_equal(fr_ctl_server_counter(srv, FR_TM_CTL_REFUSED_CRED), 1);
	assert_int_equal(fake.nids, 1);
	srv_resume();
	srv_stop_all();
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_every_request_round_trips_through_the_socket, srv_cleanup),
		cmocka_unit_test_teardown(test_register_hands_the_publish_interval_to_the_handler, srv_cleanup),
		cmocka_unit_test_teardown(test_list_replies_arrive_complete_with_continuation, srv_cleanup),
		cmocka_unit_test_teardown(test_pipelined_requests_are_all_answered_under_edge_triggered_polling, srv_cleanup),
		cmocka_unit_test_teardown(test_second_server_is_refused_naming_the_holder_and_stale_socket_is_replaced, srv_cleanup),
		cmocka_unit_test_teardown(test_path_that_is_not_a_socket_is_left_alone, srv_cleanup),
	};
	const struct CMUnitTest root_tests[] = {
		cmocka_unit_test_teardown(test_unprivileged_peer_is_refused_and_counted, srv_cleanup),
	};
	if (argc > 1 && strcmp(argv[1], "--creds") == 0) {
		if (geteuid() != 0) {
			fprintf(stderr, "SKIP test_control_server --creds: needs root to switch to uid nobody\n");
			return 77;
		}
		return cmocka_run_group_tests(root_tests, setup, teardown);
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
