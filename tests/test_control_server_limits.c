/* Description: control socket server limits and abuse over a real SOCK_SEQPACKET socket with a fake handler -
 * bad messages, connection floods, clients that do not read, idle expiry; each counted and survived. */
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

/* Let the server thread catch up with what the kernel already queued (bounded wait for a condition). */
static unsigned conns_after_settle(unsigned want)
{
	unsigned n = 0;
	for (int i = 0; i < 300; i++) {
		srv_pause();
		n = fr_ctl_server_conns(srv);
		srv_resume();
		if (n == want)
			break;
		usleep(10000);
	}
	return n;
}

/* Send raw bytes, return the error code of the reply and whether the server then hung up. */
static int raw_exchange(const void *msg, size_t len, bool *hung_up)
{
	uint8_t buf[FR_CTL_MSG_MAX];
	struct fr_ctl_msg m;
	struct pollfd p;
	int fd = fr_ctl_client_connect(sock_path, TMO);
	ssize_t n;

	assert_true(fd >= 0);
	assert_int_equal(send(fd, msg, len, 0), (ssize_t)len);
	p = (struct pollfd){.fd = fd, .events = POLLIN};
	assert_int_equal(poll(&p, 1, TMO), 1);
	n = recv(fd, buf, sizeof(buf), 0);
	assert_true(n > 0);
	assert_int_equal(fr_ctl_decode(buf, (size_t)n, &m), 0);
	assert_int_equal(m.hdr.type, FR_CTL_ERROR);
	assert_int_equal(poll(&p, 1, TMO), 1);
	*hung_up = recv(fd, buf, sizeof(buf), 0) == 0;
	close(fd);
	return m.u.err.code;
}

static void test_bad_messages_get_error_replies_and_are_counted(void **state)
{
	static uint8_t big[FR_CTL_MSG_MAX + 100];
	uint8_t req[64];
	bool hup = false;
	int n;
	(void)state;

	srv_start(NULL);
	n = fr_ctl_encode_request(req, sizeof(req), FR_CTL_REGISTER, 5, "x");
	req[0] = 'X';
	assert_int_equal(raw_exchange(req, (size_t)n, &hup), FR_CTL_E_BAD_MAGIC);
	assert_true(hup);
	assert_int_equal(raw_exchange("garbage!", 8, &hup), FR_CTL_E_TRUNCATED);
	n = fr_ctl_encode_request(req, sizeof(req), FR_CTL_REGISTER, 5, "abc");
	assert_int_equal(raw_exchange(req, (size_t)n - 1, &hup), FR_CTL_E_TRUNCATED);
	n = fr_ctl_encode_ping_reply(req, sizeof(req), 5, &(struct fr_ctl_ping_reply){0});
	assert_int_equal(raw_exchange(req, (size_t)n, &hup), FR_CTL_E_UNKNOWN_TYPE);
	memset(big, 'A', sizeof(big));
	n = fr_ctl_encode_request(big, sizeof(big), FR_CTL_PING, 5, NULL);
	assert_int_equal(raw_exchange(big, sizeof(big), &hup), FR_CTL_E_OVERSIZED);
	assert_true(hup);
	srv_pause();
	assert_int_equal(fr_ctl_server_counter(srv, FR_TM_CTL_MALFORMED), 4);
	assert_int_equal(fr_ctl_server_counter(srv, FR_TM_CTL_OVERSIZED), 1);
	assert_int_equal(fr_ctl_server_counter(srv, FR_TM_CTL_REQUESTS), 0);
	srv_resume();
	/* the server keeps serving */
	struct fr_ctl_msg r;
	int fd = fr_ctl_client_connect(sock_path, TMO);
	assert_int_equal(fr_ctl_client_request(fd, FR_CTL_PING, NULL, &r, TMO), 0);
	close(fd);
	srv_stop_all();
}

static void test_connection_flood_is_refused_counted_and_server_keeps_serving(void **state)
{
	struct fr_ctl_server_opts o = {.path = sock_path, .max_conns = 16};
	static int fds[300];
	struct fr_ctl_msg r;
	unsigned busy = 0;
	(void)state;

	srv_start(&o);
	for (int i = 0; i < 16; i++) {
		fds[i] = fr_ctl_client_connect(sock_path, TMO);
		assert_true(fds[i] >= 0);
		assert_int_equal(fr_ctl_client_request(fds[i], FR_CTL_PING, NULL, &r, TMO), 0);
	}
	for (int i = 16; i < 300; i++) {
		fds[i] = fr_ctl_client_connect(sock_path, TMO);
		assert_true(fds[i] >= 0);
		/* a refused connection is told why (req_id 0 error) and then closed */
		int rc = fr_ctl_client_request(fds[i], FR_CTL_PING, NULL, &r, TMO);
		if (rc == -EREMOTEIO && r.u.err.code == FR_CTL_E_BUSY)
			busy++;
		else
			fprintf(stderr, "conn %d: rc %d type %u code %u\n", i, rc, r.hdr.type, r.u.err.code);
		close(fds[i]);
	}
	assert_int_equal(busy, 284);
	for (int i = 0; i < 16; i++)
		close(fds[i]);
	assert_int_equal(conns_after_settle(0), 0);
	int fd = fr_ctl_client_connect(sock_path, TMO);
	assert_int_equal(fr_ctl_client_request(fd, FR_CTL_PING, NULL, &r, TMO), 0);
	close(fd);
	srv_pause();
	assert_int_equal(fr_ctl_server_counter(srv, FR_TM_CTL_FLOOD_REFUSED), 284);
	srv_resume();
	srv_stop_all();
}

static void test_client_that_does_not_read_is_disconnected(void **state)
{
	struct fr_ctl_server_opts o = {.path = sock_path, .max_out = 64 << 10};
	uint8_t req[64], buf[FR_CTL_MSG_MAX];
	struct fr_ctl_msg r;
	ssize_t got;
	int fd, n, other;
	(void)state;

	srv_start(&o);
	fake.dump_items = 100000;
	fd = fr_ctl_client_connect(sock_path, TMO);
	other = fr_ctl_client_connect(sock_path, TMO);
	assert_true(fd >= 0 && other >= 0);
	n = fr_ctl_encode_request(req, sizeof(req), FR_CTL_DUMP, 1, "a");
	assert_int_equal(send(fd, req, (size_t)n, 0), n);
	assert_int_equal(conns_after_settle(1), 1); /* dropped without the client reading anything */
	assert_int_equal(fr_ctl_client_request(other, FR_CTL_PING, NULL, &r, TMO), 0);
	/* what the slow client still finds is a truncated chain, then end of stream */
	while ((got = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		;
	assert_int_equal(got, 0);
	close(fd);
	close(other);
	srv_stop_all();
}

static void test_idle_connection_is_closed(void **state)
{
	struct fr_ctl_server_opts o = {.path = sock_path, .idle_ms = 100};
	struct pollfd p;
	char b;
	(void)state;

	srv_start(&o);
	int fd = fr_ctl_client_connect(sock_path, TMO);
	p = (struct pollfd){.fd = fd, .events = POLLIN};
	assert_int_equal(poll(&p, 1, TMO), 1);
	assert_int_equal(recv(fd, &b, 1, 0), 0);
	close(fd);
	srv_stop_all();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_bad_messages_get_error_replies_and_are_counted, srv_cleanup),
		cmocka_unit_test_teardown(test_connection_flood_is_refused_counted_and_server_keeps_serving, srv_cleanup),
		cmocka_unit_test_teardown(test_client_that_does_not_read_is_disconnected, srv_cleanup),
		cmocka_unit_test_teardown(test_idle_connection_is_closed, srv_cleanup),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
