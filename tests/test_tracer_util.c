/* Description: helpers shared by the tracer root tests (test_tracer_util.h). */
#define _GNU_SOURCE
#include "test_tracer_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void fr_col_cb(void *ctx, const struct fr_conn *c)
{
	struct fr_col *col = ctx;

	if (col->n == col->cap) {
		size_t cap = col->cap ? col->cap * 2 : 1024;
		struct fr_conn *v = realloc(col->v, cap * sizeof(*v));

		if (!v)
			abort();
		col->v = v;
		col->cap = cap;
	}
	col->v[col->n++] = *c;
}

void fr_col_port_cb(void *ctx, uint32_t netns, uint8_t type, uint16_t port, bool listening)
{
	struct fr_col *col = ctx;

	if (col->nports == col->capports) {
		size_t cap = col->capports ? col->capports * 2 : 64;
		struct fr_port_ev *v = realloc(col->ports, cap * sizeof(*v));

		if (!v)
			abort();
		col->ports = v;
		col->capports = cap;
	}
	col->ports[col->nports++] = (struct fr_port_ev){ netns, type, port, listening };
}

void fr_col_port_count(const struct fr_col *col, uint32_t netns, uint8_t type, uint16_t port, int *starts,
		       int *stops)
{
	*starts = *stops = 0;
	for (size_t i = 0; i < col->nports; i++) {
		const struct fr_port_ev *e = &col->ports[i];

		if (e->netns != netns || e->type != type || e->port != port)
			continue;
		if (e->listening)
			(*starts)++;
		else
			(*stops)++;
	}
}

void fr_col_free(struct fr_col *col)
{
	free(col->ports);
	free(col->v);
	memset(col, 0, sizeof(*col));
}

void fr_test_require_root(const char *prog)
{
	if (geteuid() != 0) {
		fprintf(stderr, "%s: SKIPPED: needs root to load BPF programs and create namespaces\n", prog);
		exit(77);
	}
}

struct fr_tracer *fr_test_tracer_opts(struct fr_col *col, struct fr_tracer_opts o)
{
	struct fr_tracer *t;

	o.on_closed = fr_col_cb;
	o.on_port = fr_col_port_cb;
	o.ctx = col;
	if (fr_tracer_open(&o, &t))
		return NULL;
	return t;
}

struct fr_tracer *fr_test_tracer(struct fr_col *col, uint32_t netns, uint32_t ringbuf_bytes)
{
	struct fr_tracer_opts o;

	fr_tracer_opts_init(&o);
	o.netns = netns;
	if (ringbuf_bytes)
		o.ringbuf_bytes = ringbuf_bytes;
	return fr_test_tracer_opts(col, o);
}

const struct fr_conn *fr_col_find(const struct fr_col *col, int type, uint16_t sport, uint16_t dport)
{
	for (size_t i = 0; i < col->n; i++) {
		const struct fr_conn *c = &col->v[i];

		if (c->type == type && c->sport == sport && c->dport == dport)
			return c;
	}
	return NULL;
}

static uint64_t fr_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

const struct fr_conn *fr_col_wait(struct fr_tracer *t, struct fr_col *col, int type, uint16_t sport, uint16_t dport,
				  int timeout_ms)
{
	uint64_t end = fr_ms() + (uint64_t)timeout_ms;
	const struct fr_conn *c;

	for (;;) {
		fr_tracer_poll(t, 10);
		c = fr_col_find(col, type, sport, dport);
		if (c || fr_ms() > end)
			return c;
	}
}

uint32_t fr_netns_inode(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return 0;
	return (uint32_t)st.st_ino;
}

int fr_sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc == -1 || !WIFEXITED(rc))
		return -1;
	return WEXITSTATUS(rc);
}

int fr_enter_netns(const char *name)
{
	char path[256];
	int fd, err = 0;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET))
		err = -errno;
	close(fd);
	return err;
}

int fr_write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int fr_read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void fr_fill_pattern(char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)('a' + i % 26);
}

static int fr_sockaddr(int family, const char *addr, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)ss;

		s->sin_family = AF_INET;
		s->sin_port = htons(port);
		*len = sizeof(*s);
		return inet_pton(AF_INET, addr ? addr : "127.0.0.1", &s->sin_addr) == 1 ? 0 : -EINVAL;
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(port);
	*len = sizeof(*s6);
	return inet_pton(AF_INET6, addr ? addr : "::1", &s6->sin6_addr) == 1 ? 0 : -EINVAL;
}

static uint16_t fr_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	getsockname(fd, (struct sockaddr *)&ss, &len);
	return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					     : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* Drain until EOF; returns bytes read. */
static size_t fr_drain(int fd)
{
	char buf[4096];
	size_t total = 0;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += (size_t)n;
	return total;
}

static void fr_tcp_server_child(struct fr_tcp_run *r, int wfd)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char *buf = malloc(r->c2s > r->s2c ? r->c2s + 1 : r->s2c + 1);
	int l, c, one = 1;
	uint16_t port;

	if (!buf || (r->server_ns && fr_enter_netns(r->server_ns)))
		_exit(10);
	l = socket(r->family, SOCK_STREAM, 0);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l < 0 || fr_sockaddr(r->family, r->server_addr, 0, &ss, &len) || bind(l, (struct sockaddr *)&ss, len) ||
	    listen(l, 16))
		_exit(11);
	port = fr_local_port(l);
	if (fr_write_full(wfd, &port, sizeof(port)))
		_exit(12);
	c = accept(l, NULL, NULL);
	if (c < 0 || fr_read_full(c, buf, r->c2s))
		_exit(13);
	fr_fill_pattern(buf, r->s2c);
	if (fr_write_full(c, buf, r->s2c))
		_exit(14);
	if (!r->server_closes_first)
		fr_drain(c);
	close(c);
	close(l);
	_exit(0);
}

/* The client half: connect, send c2s, read s2c, close in the requested order. */
static int fr_tcp_client(struct fr_tcp_run *r, char *buf)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, err = -1;

	fd = socket(r->family, SOCK_STREAM, 0);
	if (fd < 0 || fr_sockaddr(r->family, r->server_addr, r->sport, &ss, &len) ||
	    connect(fd, (struct sockaddr *)&ss, len))
		goto cleanup;
	r->cport = fr_local_port(fd);
	fr_fill_pattern(buf, r->c2s);
	if (fr_write_full(fd, buf, r->c2s) || fr_read_full(fd, buf, r->s2c))
		goto cleanup;
	if (r->server_closes_first && fr_drain(fd) != 0)
		goto cleanup;
	err = 0;
cleanup:
	if (fd >= 0)
		close(fd);
	return err;
}

static int fr_wait_ok(pid_t pid, const char *what)
{
	int st = 0;

	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "%s child failed: status 0x%x\n", what, st);
		return -1;
	}
	return 0;
}

int fr_tcp_run(struct fr_tcp_run *r)
{
	int p[2], q[2], err = -1;
	char *buf = malloc(r->c2s > r->s2c ? r->c2s + 1 : r->s2c + 1);
	pid_t pid, cpid;

	if (!buf || pipe(p))
		return -1;
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		fr_tcp_server_child(r, p[1]);
	}
	close(p[1]);
	r->server_pid = pid;
	r->client_pid = getpid();
	if (pid < 0 || fr_read_full(p[0], &r->sport, sizeof(r->sport)))
		goto cleanup;
	if (!r->client_ns) {
		err = fr_tcp_client(r, buf);
		goto cleanup;
	}
	if (pipe(q))
		goto cleanup;
	cpid = fork();
	if (cpid == 0) {
		close(q[0]);
		if (fr_enter_netns(r->client_ns) || fr_tcp_client(r, buf) ||
		    fr_write_full(q[1], &r->cport, sizeof(r->cport)))
			_exit(20);
		_exit(0);
	}
	close(q[1]);
	r->client_pid = cpid;
	if (cpid > 0 && !fr_read_full(q[0], &r->cport, sizeof(r->cport)))
		err = 0;
	close(q[0]);
	if (cpid > 0 && fr_wait_ok(cpid, "tcp client"))
		err = -1;
cleanup:
	close(p[0]);
	if (pid > 0 && fr_wait_ok(pid, "tcp server"))
		err = -1;
	free(buf);
	return err;
}

size_t fr_udp_req_size(int i)
{
	return 100 + (size_t)i;
}

size_t fr_udp_rep_size(int i)
{
	return 40 + (size_t)i * 3;
}

static int fr_udp_socket(int family, const char *addr, struct sockaddr_storage *ss, socklen_t *len)
{
	int fd = socket(family, SOCK_DGRAM, 0);

	if (fd < 0 || fr_sockaddr(family, addr, 0, ss, len) || bind(fd, (struct sockaddr *)ss, *len)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void fr_udp_server_child(struct fr_udp_run *r, int wfd, int rfd)
{
	struct sockaddr_storage ss, peer;
	socklen_t len, plen;
	char buf[2048], ready = 1;
	uint16_t port, cport;
	int fd = fr_udp_socket(r->family, NULL, &ss, &len);

	if (fd < 0)
		_exit(10);
	port = fr_local_port(fd);
	if (fr_write_full(wfd, &port, sizeof(port)) || fr_read_full(rfd, &cport, sizeof(cport)))
		_exit(11);
	fr_sockaddr(r->family, NULL, cport, &peer, &plen);
	if (r->connected && connect(fd, (struct sockaddr *)&peer, plen))
		_exit(12);
	if (fr_write_full(wfd, &ready, 1))
		_exit(13);
	for (int i = 0; i < r->n_req; i++) {
		ssize_t n = r->connected ? recv(fd, buf, sizeof(buf), 0) : recvfrom(fd, buf, sizeof(buf), 0, NULL, NULL);

		if (n != (ssize_t)fr_udp_req_size(i))
			_exit(14);
	}
	for (int i = 0; i < r->n_rep; i++) {
		ssize_t n = r->connected ? send(fd, buf, fr_udp_rep_size(i), 0)
					 : sendto(fd, buf, fr_udp_rep_size(i), 0, (struct sockaddr *)&peer, plen);

		if (n != (ssize_t)fr_udp_rep_size(i))
			_exit(15);
	}
	close(fd);
	_exit(0);
}

int fr_udp_run(struct fr_udp_run *r)
{
	struct sockaddr_storage ss, srv;
	socklen_t len, slen;
	int p[2], q[2], fd = -1, err = -1;
	char buf[2048], ready;
	pid_t pid;

	memset(buf, 'u', sizeof(buf));
	if (pipe(p) || pipe(q))
		return -1;
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		close(q[1]);
		fr_udp_server_child(r, p[1], q[0]);
	}
	close(p[1]);
	close(q[0]);
	r->server_pid = pid;
	r->client_pid = getpid();
	if (pid < 0 || fr_read_full(p[0], &r->sport, sizeof(r->sport)))
		goto cleanup;
	fd = fr_udp_socket(r->family, NULL, &ss, &len);
	if (fd < 0 || fr_sockaddr(r->family, NULL, r->sport, &srv, &slen))
		goto cleanup;
	r->cport = fr_local_port(fd);
	if (r->connected && connect(fd, (struct sockaddr *)&srv, slen))
		goto cleanup;
	if (fr_write_full(q[1], &r->cport, sizeof(r->cport)) || fr_read_full(p[0], &ready, 1))
		goto cleanup;
	r->req_bytes = r->rep_bytes = 0;
	for (int i = 0; i < r->n_req; i++) {
		ssize_t n = r->connected ? send(fd, buf, fr_udp_req_size(i), 0)
					 : sendto(fd, buf, fr_udp_req_size(i), 0, (struct sockaddr *)&srv, slen);

		if (n != (ssize_t)fr_udp_req_size(i))
			goto cleanup;
		r->req_bytes += (uint64_t)n;
	}
	for (int i = 0; i < r->n_rep; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n != (ssize_t)fr_udp_rep_size(i))
			goto cleanup;
		r->rep_bytes += (uint64_t)n;
	}
	err = 0;
cleanup:
	if (fd >= 0)
		close(fd);
	close(p[0]);
	close(q[1]);
	if (pid > 0 && fr_wait_ok(pid, "udp server"))
		err = -1;
	return err;
}

struct fr_col g_col;
struct fr_tracer *g_t;
uint32_t g_netns;

int fr_tt_group_setup(void **state)
{
	(void)state;
	g_netns = fr_netns_inode("/proc/self/ns/net");
	g_t = fr_test_tracer(&g_col, 0, 0);
	return g_t ? 0 : -1;
}

int fr_tt_group_teardown(void **state)
{
	(void)state;
	fr_tracer_close(g_t);
	fr_col_free(&g_col);
	return 0;
}
