/* control_server_fixture.c - the fake daemon and server thread shared by test_control_server.c and
 * test_control_server_limits.c (see control_server_fixture.h). */
#define _GNU_SOURCE
#include "control_server_fixture.h"

#include <errno.h>
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
#include <unistd.h>

#include <cmocka.h>

char tmpdir[] = "/tmp/fr_test_ctl.XXXXXX";
char sock_path[256];

/* ---- fake daemon ---- */
struct fake fake;

static int fake_register(void *ctx, const char *id, int64_t publish_interval_ms, const struct fr_ctl_peer *peer,
			 struct fr_ctl_register_reply *out)
{
	struct fake *f = ctx;
	(void)peer;
	f->last_publish_interval_ms = publish_interval_ms;
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

const struct fr_ctl_handler fake_handler = {
	.ctx = &fake,
	.register_client = fake_register,
	.unregister_client = fake_unregister,
	.snapshot = fake_snapshot,
	.stats = fake_stats,
	.clients = fake_clients,
	.dump = fake_dump,
};

/* ---- the server runs on its own thread, as it would in the daemon's loop ---- */
struct fr_ctl_server *srv;
static pthread_t srv_thread;
static int srv_stop;
static bool srv_running;

bool srv_edge; /* wait as an io_uring multishot poll does: only on new wake-ups (EPOLLET) */

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

void srv_resume(void)
{
	__atomic_store_n(&srv_stop, 0, __ATOMIC_RELEASE);
	assert_int_equal(pthread_create(&srv_thread, NULL, srv_main, NULL), 0);
	srv_running = true;
}

void srv_pause(void)
{
	__atomic_store_n(&srv_stop, 1, __ATOMIC_RELEASE); /* pairs with the acquire load in srv_main */
	assert_int_equal(pthread_join(srv_thread, NULL), 0);
	srv_running = false;
}

void srv_start(const struct fr_ctl_server_opts *o)
{
	char err[256];
	struct fr_ctl_server_opts d = {.path = sock_path};

	memset(&fake, 0, sizeof(fake));
	srv = fr_ctl_server_open(o ? o : &d, &fake_handler, err, sizeof(err));
	if (!srv)
		fail_msg("server open: %s", err);
	srv_resume();
}

void srv_stop_all(void)
{
	srv_pause();
	fr_ctl_server_close(srv);
	srv = NULL;
}

int srv_cleanup(void **state)
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

int setup(void **state)
{
	(void)state;
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(sock_path, sizeof(sock_path), "%s/ctl.sock", tmpdir);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int teardown(void **state)
{
	char cmd[300];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}
