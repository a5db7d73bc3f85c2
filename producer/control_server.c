/* control_server.c - flowringd's non-blocking control-socket server (see control_server.h). */
#define _GNU_SOURCE /* struct ucred, accept4, SO_PEERGROUPS */
#include "control_server.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "control_clock.h"
#include "control_socket.h"
#include "log.h"

#define FR_CTL_BATCH 32 /* events, accepts and requests handled per dispatch round: fairness */

struct fr_ctl_out {
	struct fr_ctl_out *next;
	uint32_t len;
	uint8_t data[];
};

struct fr_ctl_conn {
	int fd;
	bool dead;     /* closed; freed at the end of the dispatch (later events may still name it) */
	bool closing;  /* close once the queued replies are sent */
	bool want_out; /* EPOLLOUT armed */
	struct fr_ctl_peer peer;
	struct fr_ctl_out *head, *tail;
	size_t out_bytes;
	uint64_t last_ms; /* last request or reply progress */
	struct fr_ctl_conn *next;
};

struct fr_ctl_server {
	struct fr_ctl_socket sock; /* the listening socket and its lock file */
	int epoll_fd, timer_fd, kick_fd;
	struct fr_ctl_server_opts opts;
	struct fr_ctl_handler h;
	struct fr_ctl_conn *conns;
	unsigned nconns;
	bool timer_armed;
	uint64_t start_ms;
	uint64_t n_requests, n_refused_cred, n_malformed, n_oversized, n_flood;
};

struct fr_ctl_reply {
	struct fr_ctl_server *s;
	struct fr_ctl_conn *c;
	struct fr_ctl_list_builder b;
	int err; /* -ENOBUFS once the queue overflowed */
	uint8_t buf[FR_CTL_MSG_MAX];
};


struct fr_ctl_server *fr_ctl_server_open(const struct fr_ctl_server_opts *opts, const struct fr_ctl_handler *h,
					 char *err, size_t errlen)
{
	struct fr_ctl_server *s = calloc(1, sizeof(*s));
	struct epoll_event ev = {.events = EPOLLIN};
	int rc;

	if (!s)
		return NULL;
	s->sock.listen_fd = s->sock.lock_fd = s->epoll_fd = s->timer_fd = s->kick_fd = -1;
	s->opts = *opts;
	s->opts.path = s->sock.path;
	if (!s->opts.max_conns)
		s->opts.max_conns = FR_CTL_DEFAULT_MAX_CONNS;
	if (!s->opts.max_out)
		s->opts.max_out = FR_CTL_DEFAULT_MAX_OUT;
	if (!s->opts.idle_ms)
		s->opts.idle_ms = FR_CTL_DEFAULT_IDLE_MS;
	s->h = *h;
	s->start_ms = fr_ctl_now_ms();
	if (!opts->path || opts->path[0] != '/' || strlen(opts->path) + 6 > sizeof(s->sock.path)) {
		rc = fr_ctl_fail(err, errlen, -ENAMETOOLONG, "control socket path must be absolute and under %zu bytes",
				 sizeof(s->sock.path) - 6);
		goto cleanup;
	}
	strcpy(s->sock.path, opts->path);
	rc = fr_ctl_socket_open(&s->sock, s->opts.group_set, s->opts.group, err, errlen);
	if (rc)
		goto cleanup;
	s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	s->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->epoll_fd < 0 || s->timer_fd < 0 || s->kick_fd < 0) {
		rc = fr_ctl_fail(err, errlen, -errno, "epoll/timerfd/eventfd: %s", strerror(errno));
		goto cleanup;
	}
	ev.data.ptr = &s->sock.listen_fd;
	if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->sock.listen_fd, &ev) < 0)
		rc = -errno;
	ev.data.ptr = &s->timer_fd;
	if (!rc && epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->timer_fd, &ev) < 0)
		rc = -errno;
	ev.data.ptr = &s->kick_fd;
	if (!rc && epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->kick_fd, &ev) < 0)
		rc = -errno;
	if (rc) {
		fr_ctl_fail(err, errlen, rc, "epoll_ctl: %s", strerror(-rc));
		goto cleanup;
	}
	return s;
cleanup:
	fr_ctl_server_close(s);
	errno = -rc;
	return NULL;
}

int fr_ctl_server_fd(const struct fr_ctl_server *s)
{
	return s->epoll_fd;
}

unsigned fr_ctl_server_conns(const struct fr_ctl_server *s)
{
	return s->nconns;
}

uint64_t fr_ctl_server_counter(const struct fr_ctl_server *s, enum fr_telemetry_id id)
{
	switch (id) {
	case FR_TM_CTL_REQUESTS:
		return s->n_requests;
	case FR_TM_CTL_REFUSED_CRED:
		return s->n_refused_cred;
	case FR_TM_CTL_MALFORMED:
		return s->n_malformed;
	case FR_TM_CTL_OVERSIZED:
		return s->n_oversized;
	case FR_TM_CTL_FLOOD_REFUSED:
		return s->n_flood;
	default:
		return 0;
	}
}

static void fr_ctl_conn_kill(struct fr_ctl_server *s, struct fr_ctl_conn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	while (c->head) {
		struct fr_ctl_out *o = c->head;
		c->head = o->next;
		free(o);
	}
	c->tail = NULL;
	c->out_bytes = 0;
	s->nconns--;
}

static void fr_ctl_conn_set_out(struct fr_ctl_server *s, struct fr_ctl_conn *c, bool want)
{
	/* while replies are queued, stop reading requests: the client must read before it asks again */
	struct epoll_event ev = {.events = want ? EPOLLOUT : EPOLLIN, .data.ptr = c};

	if (c->dead || c->want_out == want)
		return;
	c->want_out = want;
	if (epoll_ctl(s->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		fr_ctl_conn_kill(s, c);
}

/* Send queued replies; returns with the queue empty, EPOLLOUT armed, or the connection dead. */
static void fr_ctl_conn_flush(struct fr_ctl_server *s, struct fr_ctl_conn *c)
{
	while (!c->dead && c->head) {
		struct fr_ctl_out *o = c->head;
		if (send(c->fd, o->data, o->len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				fr_ctl_conn_set_out(s, c, true);
				return;
			}
			fr_ctl_conn_kill(s, c);
			return;
		}
		c->head = o->next;
		if (!c->head)
			c->tail = NULL;
		c->out_bytes -= o->len;
		c->last_ms = fr_ctl_now_ms();
		free(o);
	}
	if (c->dead)
		return;
	if (c->closing)
		fr_ctl_conn_kill(s, c);
	else
		fr_ctl_conn_set_out(s, c, false);
}

/* Queue one message; -ENOBUFS (and the connection is dropped) when over the limit. */
static int fr_ctl_conn_send(struct fr_ctl_server *s, struct fr_ctl_conn *c, const void *msg, int len)
{
	struct fr_ctl_out *o;

	if (c->dead)
		return -ENOBUFS;
	if (len < 0) /* an encoder bug: never send a half message */
		return fr_ctl_conn_kill(s, c), -EPROTO;
	if (c->out_bytes + (size_t)len > s->opts.max_out) {
		fr_warn("control: pid %d does not read its replies (%zu bytes queued): disconnected", (int)c->peer.pid,
			c->out_bytes);
		fr_ctl_conn_kill(s, c);
		return -ENOBUFS;
	}
	o = malloc(sizeof(*o) + (size_t)len);
	if (!o) {
		fr_ctl_conn_kill(s, c);
		return -ENOBUFS;
	}
	o->next = NULL;
	o->len = (uint32_t)len;
	memcpy(o->data, msg, (size_t)len);
	if (c->tail)
		c->tail->next = o;
	else
		c->head = o;
	c->tail = o;
	c->out_bytes += (size_t)len;
	return 0;
}

static void fr_ctl_send_error(struct fr_ctl_server *s, struct fr_ctl_conn *c, uint32_t req_id, int code, int err)
{
	uint8_t buf[FR_CTL_HDR_SIZE + 8 + FR_CTL_ERRMSG_MAX];

	fr_ctl_conn_send(s, c, buf,
			 fr_ctl_encode_error(buf, sizeof(buf), req_id, (uint16_t)code, err, fr_ctl_strerror(code)));
}

static int fr_ctl_reply_add(struct fr_ctl_reply *r, int (*add)(struct fr_ctl_list_builder *, const void *),
			    const void *item)
{
	int rc;

	if (r->err)
		return r->err;
	rc = add(&r->b, item);
	if (rc == -ENOSPC) {
		rc = fr_ctl_conn_send(r->s, r->c, r->buf, fr_ctl_list_finish(&r->b, true));
		if (rc)
			return r->err = -ENOBUFS;
		fr_ctl_list_begin(&r->b, r->buf, sizeof(r->buf), r->b.req_type, r->b.req_id);
		rc = add(&r->b, item);
	}
	return rc;
}

struct fr_ctl_stat_arg {
	const char *name;
	uint64_t value;
};
static int fr_ctl_add_stat_cb(struct fr_ctl_list_builder *b, const void *p)
{
	const struct fr_ctl_stat_arg *a = p;
	return fr_ctl_list_add_stat(b, a->name, a->value);
}
static int fr_ctl_add_client_cb(struct fr_ctl_list_builder *b, const void *p)
{
	return fr_ctl_list_add_client(b, p);
}
static int fr_ctl_add_dump_cb(struct fr_ctl_list_builder *b, const void *p)
{
	return fr_ctl_list_add_dump(b, p);
}

int fr_ctl_reply_add_stat(struct fr_ctl_reply *r, const char *name, uint64_t value)
{
	struct fr_ctl_stat_arg a = {name, value};
	return fr_ctl_reply_add(r, fr_ctl_add_stat_cb, &a);
}

int fr_ctl_reply_add_client(struct fr_ctl_reply *r, const struct fr_ctl_client_item *it)
{
	return fr_ctl_reply_add(r, fr_ctl_add_client_cb, it);
}

int fr_ctl_reply_add_dump(struct fr_ctl_reply *r, const struct fr_ctl_dump_item *it)
{
	return fr_ctl_reply_add(r, fr_ctl_add_dump_cb, it);
}

static int fr_ctl_errno_code(int rc)
{
	switch (rc) {
	case -ENOENT:
		return FR_CTL_E_NO_CLIENT;
	case -EUSERS:
	case -ENOSPC:
		return FR_CTL_E_LIMIT;
	case -EINVAL:
		return FR_CTL_E_BAD_CLIENT_ID;
	case -EOPNOTSUPP:
		return FR_CTL_E_UNSUPPORTED;
	case -EPERM:
	case -EACCES:
		return FR_CTL_E_PERM;
	default:
		return FR_CTL_E_INTERNAL;
	}
}


static void fr_ctl_handle(struct fr_ctl_server *s, struct fr_ctl_conn *c, const struct fr_ctl_msg *m)
{
	uint8_t buf[FR_CTL_HDR_SIZE + 64];
	uint32_t id = m->hdr.req_id;
	uint8_t t = m->hdr.type;
	struct fr_ctl_reply *r;
	int rc = 0;

	if (t == FR_CTL_PING) {
		struct fr_ctl_ping_reply p = {.pid = (uint32_t)getpid(), .proto_version = FR_CTL_VERSION,
					      .uptime_ms = fr_ctl_now_ms() - s->start_ms};
		s->n_requests++;
		fr_ctl_conn_send(s, c, buf, fr_ctl_encode_ping_reply(buf, sizeof(buf), id, &p));
		return;
	}
	if (!c->peer.privileged) {
		s->n_refused_cred++;
		fr_warn("control: refused request %u from pid %d uid %u gid %u: not root or the flowring group", t,
			(int)c->peer.pid, (unsigned)c->peer.uid, (unsigned)c->peer.gid);
		fr_ctl_send_error(s, c, id, FR_CTL_E_PERM, EPERM);
		c->closing = true;
		return;
	}
	s->n_requests++;
	switch (t) {
	case FR_CTL_REGISTER: {
		struct fr_ctl_register_reply out = {0};
		/* the decoder bounded it (FR_CTL_PUBLISH_INTERVAL_MAX_MS): it fits an int64_t */
		int64_t ival = m->has_publish_interval ? (int64_t)m->publish_interval_ms : -1;
		rc = s->h.register_client ? s->h.register_client(s->h.ctx, m->u.client_id, ival, &c->peer, &out)
					  : -EOPNOTSUPP;
		if (!rc)
			fr_ctl_conn_send(s, c, buf, fr_ctl_encode_register_reply(buf, sizeof(buf), id, &out));
		break;
	}
	case FR_CTL_UNREGISTER:
		rc = s->h.unregister_client ? s->h.unregister_client(s->h.ctx, m->u.client_id, &c->peer) : -EOPNOTSUPP;
		if (!rc)
			fr_ctl_conn_send(s, c, buf, fr_ctl_encode_empty_reply(buf, sizeof(buf), t, id));
		break;
	case FR_CTL_SNAPSHOT: {
		struct fr_ctl_snapshot_reply out = {0};
		rc = s->h.snapshot ? s->h.snapshot(s->h.ctx, m->u.client_id, &out) : -EOPNOTSUPP;
		if (!rc)
			fr_ctl_conn_send(s, c, buf, fr_ctl_encode_snapshot_reply(buf, sizeof(buf), id, &out));
		break;
	}
	default: /* STATS, CLIENTS, DUMP: list replies */
		r = malloc(sizeof(*r));
		if (!r) {
			rc = -ENOMEM;
			break;
		}
		r->s = s;
		r->c = c;
		r->err = 0;
		fr_ctl_list_begin(&r->b, r->buf, sizeof(r->buf), t, id);
		if (t == FR_CTL_STATS)
			rc = s->h.stats ? s->h.stats(s->h.ctx, r) : -EOPNOTSUPP;
		else if (t == FR_CTL_CLIENTS)
			rc = s->h.clients ? s->h.clients(s->h.ctx, r) : -EOPNOTSUPP;
		else
			rc = s->h.dump ? s->h.dump(s->h.ctx, m->u.client_id, r) : -EOPNOTSUPP;
		if (!rc && !r->err)
			fr_ctl_conn_send(s, c, r->buf, fr_ctl_list_finish(&r->b, false));
		free(r);
		break;
	}
	/* an error after some MORE messages still ends the chain: an ERROR message is always last */
	if (rc && !c->dead)
		fr_ctl_send_error(s, c, id, fr_ctl_errno_code(rc), -rc);
}

/* Read and answer up to FR_CTL_BATCH requests from one connection. */
static void fr_ctl_conn_read(struct fr_ctl_server *s, struct fr_ctl_conn *c)
{
	uint8_t buf[FR_CTL_MSG_MAX + 1];
	struct fr_ctl_msg m;

	for (int i = 0; i < FR_CTL_BATCH && !c->dead && !c->closing && !c->head; i++) {
		/* MSG_TRUNC: a SEQPACKET recv returns the real length of a longer message (Linux >= 3.4) */
		ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			fr_ctl_conn_kill(s, c);
			return;
		}
		c->last_ms = fr_ctl_now_ms();
		int rc = fr_ctl_decode(buf, (size_t)n > sizeof(buf) ? sizeof(buf) : (size_t)n, &m);
		if (rc == 0 && (m.hdr.type & FR_CTL_REPLY))
			rc = -FR_CTL_E_UNKNOWN_TYPE; /* replies and errors are not requests */
		if (rc) {
			if (rc == -FR_CTL_E_OVERSIZED)
				s->n_oversized++;
			else
				s->n_malformed++;
			fr_dbg("control: pid %d sent a bad message (%zd bytes): %s", (int)c->peer.pid, n,
			       fr_ctl_strerror(rc));
			/* out of step with this peer: answer once, then hang up */
			fr_ctl_send_error(s, c, m.hdr.req_id, -rc, 0);
			c->closing = true;
			break;
		}
		fr_ctl_handle(s, c, &m);
		fr_ctl_conn_flush(s, c); /* the queue empties at once unless the socket buffer is full */
	}
	fr_ctl_conn_flush(s, c);
}

static bool fr_ctl_peer_in_group(int fd, gid_t group)
{
	gid_t small[64], *g = small;
	socklen_t len = sizeof(small);
	bool found = false;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) < 0) {
		if (errno != ERANGE || !(g = malloc(len)))
			return false;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) < 0)
			len = 0;
	}
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		found |= g[i] == group;
	if (g != small)
		free(g);
	return found;
}

static void fr_ctl_accept(struct fr_ctl_server *s)
{
	for (int i = 0; i < FR_CTL_BATCH; i++) {
		struct ucred cr;
		socklen_t crlen = sizeof(cr);
		struct fr_ctl_conn *c;
		struct epoll_event ev = {.events = EPOLLIN};
		int fd = accept4(s->sock.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED)
				fr_warn("control: accept: %s", strerror(errno));
			return;
		}
		if (s->nconns >= s->opts.max_conns) {
			uint8_t buf[FR_CTL_HDR_SIZE + 8 + FR_CTL_ERRMSG_MAX];
			int n = fr_ctl_encode_error(buf, sizeof(buf), 0, FR_CTL_E_BUSY, EBUSY,
						    fr_ctl_strerror(FR_CTL_E_BUSY));
			s->n_flood++;
			if (send(fd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
				/* best effort: the peer learns from the hang-up anyway */
			}
			/* closing with its request unread would reset the peer before it reads why */
			for (int k = 0; k < 4 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC) > 0; k++)
				;
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) < 0) {
			free(c);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->peer.pid = cr.pid;
		c->peer.uid = cr.uid;
		c->peer.gid = cr.gid;
		c->peer.privileged = cr.uid == 0 || cr.uid == geteuid() ||
				     (s->opts.group_set && (cr.gid == s->opts.group || fr_ctl_peer_in_group(fd, s->opts.group)));
		c->last_ms = fr_ctl_now_ms();
		ev.data.ptr = c;
		if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			free(c);
			close(fd);
			continue;
		}
		c->next = s->conns;
		s->conns = c;
		s->nconns++;
	}
}

/* Close idle and stalled connections; keep the sweep timer armed only while there are connections. */
static void fr_ctl_sweep(struct fr_ctl_server *s)
{
	uint64_t expire, now = fr_ctl_now_ms();

	if (read(s->timer_fd, &expire, sizeof(expire)) < 0) {
		/* nothing pending: the sweep below is still correct */
	}
	for (struct fr_ctl_conn *c = s->conns; c; c = c->next)
		if (!c->dead && now - c->last_ms >= s->opts.idle_ms) {
			fr_dbg("control: closing connection of pid %d: idle or not reading", (int)c->peer.pid);
			fr_ctl_conn_kill(s, c);
		}
}

static void fr_ctl_timer_update(struct fr_ctl_server *s)
{
	bool want = s->nconns > 0;
	uint64_t iv = s->opts.idle_ms / 4;
	struct itimerspec its = {0};

	if (want == s->timer_armed)
		return;
	iv = iv < 10 ? 10 : iv > 1000 ? 1000 : iv;
	if (want) {
		its.it_interval.tv_sec = (time_t)(iv / 1000);
		its.it_interval.tv_nsec = (long)(iv % 1000) * 1000000;
		its.it_value = its.it_interval;
	}
	if (timerfd_settime(s->timer_fd, 0, &its, NULL) == 0)
		s->timer_armed = want;
}

int fr_ctl_server_dispatch(struct fr_ctl_server *s)
{
	struct epoll_event evs[FR_CTL_BATCH];
	int n = epoll_wait(s->epoll_fd, evs, FR_CTL_BATCH, 0);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		void *p = evs[i].data.ptr;
		if (p == &s->sock.listen_fd) {
			fr_ctl_accept(s);
		} else if (p == &s->timer_fd) {
			fr_ctl_sweep(s);
		} else if (p == &s->kick_fd) {
			uint64_t v;
			if (read(s->kick_fd, &v, sizeof(v)) < 0) {
				/* already reset: nothing to do */
			}
		} else {
			struct fr_ctl_conn *c = p;
			if (c->dead)
				continue;
			if (evs[i].events & EPOLLOUT)
				fr_ctl_conn_flush(s, c);
			else if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				fr_ctl_conn_read(s, c);
		}
	}
	/* free what died in this round, now that no pending event can name it */
	for (struct fr_ctl_conn **pp = &s->conns; *pp;) {
		struct fr_ctl_conn *c = *pp;
		if (c->dead) {
			*pp = c->next;
			free(c);
		} else {
			pp = &c->next;
		}
	}
	fr_ctl_timer_update(s);
	/* Work left over (more than one batch, or level-triggered connections with more requests) raises
	 * no new wake-up on the epoll fd, and an io_uring multishot poll only fires on wake-ups: make one. */
	struct pollfd pending = {.fd = s->epoll_fd, .events = POLLIN};
	if (poll(&pending, 1, 0) > 0 && eventfd_write(s->kick_fd, 1) < 0)
		return -errno;
	return 0;
}

void fr_ctl_server_close(struct fr_ctl_server *s)
{
	if (!s)
		return;
	while (s->conns) {
		struct fr_ctl_conn *c = s->conns;
		s->conns = c->next;
		fr_ctl_conn_kill(s, c);
		free(c);
	}
	fr_ctl_socket_close_listener(&s->sock);
	if (s->epoll_fd >= 0)
		close(s->epoll_fd);
	if (s->timer_fd >= 0)
		close(s->timer_fd);
	if (s->kick_fd >= 0)
		close(s->kick_fd);
	fr_ctl_socket_unlock(&s->sock);
	free(s);
}
