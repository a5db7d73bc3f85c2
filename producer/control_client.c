/* control_client.c - the blocking control-socket client: connect, one request and its reply chain
 * (see control_client.h). */
#include "control_client.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control_clock.h"

static int fr_ctl_wait(int fd, short events, uint64_t deadline)
{
	for (;;) {
		uint64_t now = fr_ctl_now_ms();
		struct pollfd p = {.fd = fd, .events = events};
		int rc;

		if (now >= deadline)
			return -ETIMEDOUT;
		rc = poll(&p, 1, (int)(deadline - now));
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return -errno;
		if (rc > 0)
			return 0;
	}
}

int fr_ctl_client_connect(const char *path, int timeout_ms)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	uint64_t deadline = fr_ctl_now_ms() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms);
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* a full backlog says EAGAIN on a non-blocking unix connect: retry until the deadline */
	while ((rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa))) < 0 && errno == EAGAIN) {
		if (fr_ctl_now_ms() >= deadline) {
			errno = ETIMEDOUT;
			break;
		}
		usleep(1000);
	}
	if (rc < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

int fr_ctl_client_call(int fd, const void *req, size_t len, fr_ctl_reply_fn fn, void *ctx, int timeout_ms)
{
	uint64_t deadline = fr_ctl_now_ms() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms);
	uint8_t *buf = malloc(FR_CTL_MSG_MAX + 1);
	struct fr_ctl_msg m;
	uint32_t req_id;
	int rc;

	if (!buf)
		return -ENOMEM;
	if (len < FR_CTL_HDR_SIZE) {
		rc = -EINVAL;
		goto cleanup;
	}
	req_id = (uint32_t)((const uint8_t *)req)[8] | (uint32_t)((const uint8_t *)req)[9] << 8 |
		 (uint32_t)((const uint8_t *)req)[10] << 16 | (uint32_t)((const uint8_t *)req)[11] << 24;
	while (send(fd, req, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* a hung-up daemon may have said why first (FR_CTL_E_BUSY): read that below */
		if (errno == EPIPE || errno == ECONNRESET)
			break;
		rc = errno == EAGAIN ? fr_ctl_wait(fd, POLLOUT, deadline) : -errno;
		if (rc)
			goto cleanup;
	}
	for (;;) {
		ssize_t n = recv(fd, buf, FR_CTL_MSG_MAX + 1, MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && errno == EAGAIN) {
			rc = fr_ctl_wait(fd, POLLIN, deadline);
			if (rc)
				goto cleanup;
			continue;
		}
		if (n < 0 && errno == ECONNRESET) {
			/* a peer that closes with our request unread resets us, but its last words (an
			 * error reply) may still be queued behind the reset: the error is reported once */
			n = recv(fd, buf, FR_CTL_MSG_MAX + 1, MSG_DONTWAIT | MSG_TRUNC);
			if (n < 0)
				errno = ECONNRESET;
		}
		if (n <= 0) {
			rc = n == 0 || errno == ECONNRESET || errno == EPIPE || errno == EAGAIN ? -ECONNRESET : -errno;
			goto cleanup;
		}
		/* req_id 0 errors answer a message the daemon could not decode, or a refused connection */
		if (fr_ctl_decode(buf, (size_t)n > FR_CTL_MSG_MAX + 1 ? FR_CTL_MSG_MAX + 1 : (size_t)n, &m) ||
		    !(m.hdr.type & FR_CTL_REPLY) || (m.hdr.req_id != req_id && m.hdr.req_id != 0)) {
			rc = -EPROTO;
			goto cleanup;
		}
		rc = fn ? fn(ctx, &m) : 0;
		if (rc < 0)
			goto cleanup;
		if (m.hdr.type == FR_CTL_ERROR) {
			rc = -EREMOTEIO;
			goto cleanup;
		}
		if (!(m.hdr.flags & FR_CTL_F_MORE)) {
			rc = 0;
			goto cleanup;
		}
	}
cleanup:
	free(buf);
	return rc;
}

static int fr_ctl_copy_reply(void *ctx, const struct fr_ctl_msg *m)
{
	*(struct fr_ctl_msg *)ctx = *m;
	return 0;
}

static uint32_t fr_ctl_next_req_id(void)
{
	static uint32_t next_id = 1;

	/* relaxed: ids only need to differ between calls on one connection */
	return __atomic_fetch_add(&next_id, 1, __ATOMIC_RELAXED);
}

int fr_ctl_client_request(int fd, uint8_t type, const char *client_id, struct fr_ctl_msg *reply, int timeout_ms)
{
	uint8_t buf[FR_CTL_HDR_SIZE + 1 + FR_CTL_ID_MAX];
	int n;

	if (fr_ctl_type_is_list(type))
		return -EINVAL;
	n = fr_ctl_encode_request(buf, sizeof(buf), type, fr_ctl_next_req_id(), client_id);
	if (n < 0)
		return n;
	memset(reply, 0, sizeof(*reply));
	return fr_ctl_client_call(fd, buf, (size_t)n, fr_ctl_copy_reply, reply, timeout_ms);
}

int fr_ctl_client_register(int fd, const char *client_id, int64_t publish_interval_ms, struct fr_ctl_msg *reply,
			   int timeout_ms)
{
	uint8_t buf[FR_CTL_HDR_SIZE + 1 + FR_CTL_ID_MAX + 8];
	uint64_t ms = (uint64_t)publish_interval_ms;
	int n;

	if (publish_interval_ms < -1)
		return -EINVAL;
	n = fr_ctl_encode_register(buf, sizeof(buf), fr_ctl_next_req_id(), client_id,
				   publish_interval_ms < 0 ? NULL : &ms);
	if (n < 0)
		return n;
	memset(reply, 0, sizeof(*reply));
	return fr_ctl_client_call(fd, buf, (size_t)n, fr_ctl_copy_reply, reply, timeout_ms);
}
