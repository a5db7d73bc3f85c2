/* control_server.h - flowringd's control socket, server side (the blocking client: control_client.h).
 *
 * Server: a Unix SOCK_SEQPACKET socket speaking control_proto.h. Everything it watches (listening socket,
 * connections, an idle timer) sits in one internal epoll set whose fd is fr_ctl_server_fd(): the daemon
 * adds that single fd to its io_uring loop (fr_loop_add_fd(loop, fd, POLLIN, ...)) and calls
 * fr_ctl_server_dispatch() whenever it is readable. Nothing blocks: sends are non-blocking, replies that
 * do not fit the socket are queued per connection (bounded), and a client that stops reading its replies
 * is disconnected. Requests are handed to the daemon's struct fr_ctl_handler.
 *
 * Contract: a server is used from one thread (the daemon's event-loop thread); handler callbacks run
 * on that thread, inside fr_ctl_server_dispatch().
 */
#ifndef FR_CONTROL_SERVER_H
#define FR_CONTROL_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <flowring/telemetry.h>

#include "control_proto.h"

#define FR_CTL_DEFAULT_MAX_CONNS 64u
#define FR_CTL_DEFAULT_MAX_OUT (32u << 20) /* queued reply bytes per connection */
#define FR_CTL_DEFAULT_IDLE_MS 60000u      /* no request, or no reply progress, for this long: closed */

struct fr_ctl_server_opts {
	const char *path;     /* socket path; its parent is created (0755) only if it is /run/flowring */
	bool group_set;       /* socket group and privileged group */
	gid_t group;
	unsigned max_conns;   /* concurrent connections; 0: FR_CTL_DEFAULT_MAX_CONNS */
	size_t max_out;       /* 0: FR_CTL_DEFAULT_MAX_OUT */
	unsigned idle_ms;     /* 0: FR_CTL_DEFAULT_IDLE_MS */
};

struct fr_ctl_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	bool privileged; /* root, the daemon's own uid, or a member of the configured group */
};

/* A list reply being built by a handler (STATS, CLIENTS, DUMP). add_* returns 0, or -ENOBUFS when the
 * connection's reply queue is over its limit: stop adding and return; the connection will be closed. */
struct fr_ctl_reply;
int fr_ctl_reply_add_stat(struct fr_ctl_reply *r, const char *name, uint64_t value);
int fr_ctl_reply_add_client(struct fr_ctl_reply *r, const struct fr_ctl_client_item *it);
int fr_ctl_reply_add_dump(struct fr_ctl_reply *r, const struct fr_ctl_dump_item *it);

/* The daemon's request handlers. Each returns 0 or a negative errno, mapped to the error reply:
 * -ENOENT -> FR_CTL_E_NO_CLIENT, -EUSERS/-ENOSPC -> FR_CTL_E_LIMIT, -EINVAL -> FR_CTL_E_BAD_CLIENT_ID,
 * -EOPNOTSUPP -> FR_CTL_E_UNSUPPORTED, -EPERM/-EACCES -> FR_CTL_E_PERM, anything else -> FR_CTL_E_INTERNAL
 * (with the errno). A NULL callback answers FR_CTL_E_UNSUPPORTED. PING is answered by the server.
 * Only privileged peers reach any callback (everyone else gets FR_CTL_E_PERM, counted). */
struct fr_ctl_handler {
	void *ctx;
	/* publish_interval_ms: the interval the client asked for (0: snapshots on request only; else
	 * FR_CTL_PUBLISH_INTERVAL_MIN_MS..MAX_MS, checked by the decoder), or -1: it did not say, use
	 * the daemon's default. */
	int (*register_client)(void *ctx, const char *id, int64_t publish_interval_ms, const struct fr_ctl_peer *peer,
			       struct fr_ctl_register_reply *out);
	int (*unregister_client)(void *ctx, const char *id, const struct fr_ctl_peer *peer);
	int (*snapshot)(void *ctx, const char *id, struct fr_ctl_snapshot_reply *out);
	int (*stats)(void *ctx, struct fr_ctl_reply *r);
	int (*clients)(void *ctx, struct fr_ctl_reply *r);
	int (*dump)(void *ctx, const char *id, struct fr_ctl_reply *r);
};

struct fr_ctl_server;

/* Create the socket safely: refuse a path that exists and is not a socket; take a lock file
 * (<path>.lock, removed at close) so a second daemon on the same path fails with -EADDRINUSE and err naming the
 * pid that holds the socket (SO_PEERCRED of the live listener); unlink a stale socket nobody answers
 * on; bind, chmod 0660, chown to the group, then listen. Returns NULL with errno set and one line
 * in err. handler is copied. */
struct fr_ctl_server *fr_ctl_server_open(const struct fr_ctl_server_opts *opts, const struct fr_ctl_handler *h,
					 char *err, size_t errlen);

/* The one fd to poll for POLLIN (an epoll fd). */
int fr_ctl_server_fd(const struct fr_ctl_server *s);

/* Accept, read, answer and flush whatever is ready, without blocking; each call does a bounded amount
 * of work (fairness). If work is left, it makes the fd wake up again, so edge-style waiting (an io_uring
 * multishot POLL_ADD) never stalls. Returns 0, or a negative errno only for a failure of the server
 * itself (epoll); client misbehaviour is counted, never returned. */
int fr_ctl_server_dispatch(struct fr_ctl_server *s);

/* Value of one of the server's counters: FR_TM_CTL_REQUESTS, _REFUSED_CRED, _MALFORMED, _OVERSIZED,
 * _FLOOD_REFUSED (0 for any other id). Monotonic; the daemon copies them into the telemetry block. */
uint64_t fr_ctl_server_counter(const struct fr_ctl_server *s, enum fr_telemetry_id id);

/* Open connections right now. */
unsigned fr_ctl_server_conns(const struct fr_ctl_server *s);

/* Close every connection and the socket, and unlink the socket file if it is still ours. NULL is a
 * no-op. The lock file is removed while still held; a daemon that locked it meanwhile notices the name
 * now leads elsewhere and locks again (fr_ctl_server_open). */
void fr_ctl_server_close(struct fr_ctl_server *s);

#endif /* FR_CONTROL_SERVER_H */
