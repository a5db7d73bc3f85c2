/* Description: control socket server and client over a real SOCK_SEQPACKET socket in a temp dir with a fake handler -
 * round trips, continuation, bad messages, floods, slow readers, idle expiry, credentials, second instance, stale file. */
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

#include "control_server.h"

#define TMO 3000

static char tmpdir[] = "/tmp/fr_test_ctl.XXXXXX";
static char sock_path[256];

/* ---- fake daemon ---- */
struct fake {
	char ids[8][FR_CTL_ID_MAX + 1];
	unsigned nids;
	unsigned dump_items;
	uint64_t snapshots;
};
static struct fake fake;

static int fake_register(void *ctx, const char *id, const struct fr_ctl_peer *peer, struct fr_ctl_register_reply *out)
{
	struct fake *f = ctx;
	(void)peer;
	for (unsigned i = 0; i < f->nids; i++)
		if (!strcmp(f->ids[i], id)) {
			out->generation = 42 + i;
			out->created = 0;
			return 0;
		}
	if (f->nids == 8)
		return -EUSERS;
	strcpy(f->ids[f->nids], id);
	out->generation = 42 + f->nids++;
	out->created = 1;
	return 0;
}

static int fake_find(struct fake *f, const char *id)
{
	for (unsigned i = 0; i < f->nids; i++)
		if (!strcmp(f->ids[i], id))
			return (int)i;
	return -ENOENT;
}

static int fake_unregister(void *ctx, const char *id, const struct fr_ctl_peer *peer)
{
	struct fake *f = ctx;
	int i = fake_find(f, id);
	(void)peer;
	if (i < 0)
		return i;
	memmove(f->ids[i], f->ids[i + 1], (f->nids - (unsigned)i - 1) * sizeof(f->ids[0]));
	f->nids--;
	return 0;
}

static int fake_snapshot(void *ctx, const char *id, struct fr_ctl_snapshot_reply *out)
{
	struct fake *f = ctx;
	int i = fake_find(f, id);
	if (i < 0)
		return i;
	out->generation = 42 + (unsigned)i;
	out->seq = 100 + 2 * f->snapshots++;
	out->slot = (uint32_t)(f->snapshots % 4);
	out->records = 7;
	return 0;
}

static int fake_stats(void *ctx, struct fr_ctl_reply *r)
{
	struct fake *f = ctx;
	int rc = fr_ctl_reply_add_stat(r, "clients_current", f->nids);
	return rc ? rc : fr_ctl_reply_add_stat(r, "snapshots_published", f->snapshots);
}

static int fake_clients(void *ctx, struct fr_ctl_reply *r)
{
	struct fake *f = ctx;
	for (unsigned i = 0; i < f->nids; i++) {
		struct fr_ctl_client_item it = {.keys = i, .closed = 10 * i, .idle_ms = 5};
		strcpy(it.id, f->ids[i]);
		int rc = fr_ctl_reply_add_client(r, &it);
		if (rc)
			return rc;
	}
	return 0;
}

static int fake_dump(void *ctx, const char *id, struct fr_ctl_reply *r)
{
	struct fake *f = ctx;
	for (unsigned i = 0; i < f->dump_items; i++) {
		struct fr_ctl_dump_item it = {.sent = i, .recv = 2 * (uint64_t)i, .retransmits = 1};
		snprintf(it.key, sizeof(it.key), "p:%u|src:10.0.0.1:%u|dst:10.0.0.2:443|f:0|t:0", 1000 + i, i);
		int rc = fr_ctl_reply_add_dump(r, &it);
		if (rc)
			return rc;
	}
	return strcmp(id, "fail") == 0 ? -EIO : 0; /* an error after MORE messages must still end the chain */
}

static const struct fr_ctl_handler fake_handler = {
	.ctx = &fake,
	.register_client = fake_register,
	.unregister_client = fake_unregister,
	.snapshot = fake_snapshot,
	.stats = fake_stats,
	.clients = fake_clients,
	.dump = fake_dump,
};

/* ---- the server runs on its own thread, as it would in the daemon's loop ---- */
static struct fr_ctl_server *srv;
static pthread_t srv_thread;
static int srv_stop;
static bool srv_running;

static bool srv_edge; /* wait as an io_uring multishot poll does: only on new wake-ups (EPOLLET) */

static void *srv_main(void *arg)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET};
	int ep = epoll_create1(EPOLL_CLOEXEC);
	(void)arg;

	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, fr_ctl_server_fd(srv), &ev), 0);
	while (!__atomic_load_n(&srv_stop, __ATOMIC_ACQUIRE)) {
		struct pollfd p = {.fd = fr_ctl_server_fd(srv), .events = POLLIN};
		if (srv_edge ? epoll_wait(ep, &ev, 1, 5) > 0 : poll(&p, 1, 5) > 0)
			assert_int_equal(fr_ctl_server_dispatch(srv), 0);
	}
	close(ep);
	return NULL;
}

static void srv_resume(void)
{
	__atomic_store_n(&srv_stop, 0, __ATOMIC_RELEASE);
	assert_int_equal(pthread_create(&srv_thread, NULL, srv_main, NULL), 0);
	srv_running = true;
}

/* Stop the server thread: counters and the fake are then safe to read from the test thread. */
static void srv_pause(void)
{
	__atomic_store_n(&srv_stop, 1, __ATOMIC_RELEASE); /* pairs with the acquire load in srv_main */
	assert_int_equal(pthread_join(srv_thread, NULL), 0);
	srv_running = false;
}

static void srv_start(const struct fr_ctl_server_opts *o)
{
	char err[256];
	struct fr_ctl_server_opts d = {.path = sock_path};

	memset(&fake, 0, sizeof(fake));
	srv = fr_ctl_server_open(o ? o : &d, &fake_handler, err, sizeof(err));
	if (!srv)
		fail_msg("server open: %s", err);
	srv_resume();
}

static void srv_stop_all(void)
{
	srv_pause();
	fr_ctl_server_close(srv);
	srv = NULL;
}

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

/* After each test, also a failed one: the next test needs the path free. */
static int srv_cleanup(void **state)
{
	(void)state;
	if (srv_running)
		srv_pause();
	srv_edge = false;
	fr_ctl_server_close(srv);
	srv = NULL;
	unlink(sock_path);
	return 0;
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(sock_path, sizeof(sock_path), "%s/ctl.sock", tmpdir);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_every_request_round_trips_through_the_socket, srv_cleanup),
		cmocka_unit_test_teardown(test_list_replies_arrive_complete_with_continuation, srv_cleanup),
		cmocka_unit_test_teardown(test_pipelined_requests_are_all_answered_under_edge_triggered_polling, srv_cleanup),
		cmocka_unit_test_teardown(test_bad_messages_get_error_replies_and_are_counted, srv_cleanup),
		cmocka_unit_test_teardown(test_connection_flood_is_refused_counted_and_server_keeps_serving, srv_cleanup),
		cmocka_unit_test_teardown(test_client_that_does_not_read_is_disconnected, srv_cleanup),
		cmocka_unit_test_teardown(test_idle_connection_is_closed, srv_cleanup),
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
