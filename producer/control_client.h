/* control_client.h - the blocking client of flowringd's control socket (CLI, agents, tests).
 *
 * Speaks control_proto.h over the Unix SOCK_SEQPACKET socket control_server.h serves; every call
 * blocks with a timeout. Contract: the functions are independent and thread-safe per fd (one
 * request in flight per connection).
 */
#ifndef FR_CONTROL_CLIENT_H
#define FR_CONTROL_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "control_proto.h"

/* Connect to the daemon's socket. Returns an fd (close it with close()) or a negative errno
 * (-ENOENT: no daemon socket, -ECONNREFUSED: stale socket, -EACCES, -ETIMEDOUT). */
int fr_ctl_client_connect(const char *path, int timeout_ms);

/* Called for every reply message of the chain, the last one (no FR_CTL_F_MORE, or FR_CTL_ERROR)
 * included. m and the list it holds are valid only during the call. Return 0 to go on; a negative
 * value stops fr_ctl_client_call(), which returns it (the connection is then out of step: close it). */
typedef int (*fr_ctl_reply_fn)(void *ctx, const struct fr_ctl_msg *m);

/* Send one request message (req, len: from fr_ctl_encode_request) and read its whole reply chain
 * within timeout_ms in total. Returns 0 when the chain ended with a normal reply, -EREMOTEIO when it
 * ended with FR_CTL_ERROR (fn saw it), -ETIMEDOUT, -ECONNRESET (daemon closed), -EPROTO (a reply that
 * does not decode or answers another request), or fn's negative value. */
int fr_ctl_client_call(int fd, const void *req, size_t len, fr_ctl_reply_fn fn, void *ctx, int timeout_ms);

/* One request with a single-message reply (PING, REGISTER, UNREGISTER, SNAPSHOT): *reply gets it
 * (for an error reply, reply->u.err). Returns as fr_ctl_client_call(); -EINVAL for a list type. */
int fr_ctl_client_request(int fd, uint8_t type, const char *client_id, struct fr_ctl_msg *reply, int timeout_ms);

/* REGISTER client_id with its periodic-snapshot interval: publish_interval_ms 0 asks for snapshots
 * on request only (SNAPSHOT), 10 ms..1 day for one every that often, -1 leaves the field out (the
 * daemon's --publish-interval applies). Registering an id again changes its interval. Returns as
 * fr_ctl_client_request(); -EINVAL for an invalid id or interval (nothing is sent). A daemon older
 * than the field answers FR_CTL_E_BAD_PAYLOAD (-EREMOTEIO) to a request that carries it. */
int fr_ctl_client_register(int fd, const char *client_id, int64_t publish_interval_ms, struct fr_ctl_msg *reply,
			   int timeout_ms);

#endif /* FR_CONTROL_CLIENT_H */
