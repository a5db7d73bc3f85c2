/* fanout_zmq.c - bench_fanout's ZeroMQ transport: one XPUB socket bound to ipc://, N SUB sockets
 * (one per reader process), one 240-byte message per record.
 *
 * Slow reader: PUB/XPUB never blocks; when a subscriber's pipe holds ZMQ_SNDHWM messages (plus its
 * own ZMQ_RCVHWM and the kernel socket buffers) further messages to THAT subscriber are dropped
 * silently (ZMQ_XPUB_NODROP would make the writer block instead). Both HWMs are set to the ring
 * capacity so every transport buffers at least as many records per reader; drops are counted as
 * sequence gaps by the readers. XPUB (not PUB) so the writer can count the N subscriptions
 * (ZMQ_XPUB_VERBOSE) before it starts: no "slow joiner" losses at the start.
 */
#define _GNU_SOURCE
#include "fanout_common.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifdef FANOUT_HAVE_ZMQ
#include <zmq.h>

static void zmq_path(const struct fanout_ctl *ctl, char *buf, size_t len)
{
	snprintf(buf, len, "ipc:///tmp/fanout-%s.zmq", ctl->name);
}

static int zmq_probe(char *why, size_t len)
{
	int maj, min, pat;
	zmq_version(&maj, &min, &pat);
	snprintf(why, len, "libzmq %d.%d.%d", maj, min, pat);
	return 0;
}

struct zw {
	void *sock;
	int subs;
	int err;
};

static void zw_publish(void *arg, const struct fr_conn *rec)
{
	struct zw *z = arg;
	/* DONTWAIT: never block; with NODROP off an XPUB send to a full pipe drops and returns OK */
	if (zmq_send(z->sock, rec, sizeof(*rec), ZMQ_DONTWAIT) != (int)sizeof(*rec))
		z->err = zmq_errno();
}

static void zw_batch_end(void *arg, uint64_t now_ns, int idle) { (void)arg, (void)now_ns, (void)idle; }

static int zw_subscribed(void *arg)
{
	struct zw *z = arg;
	unsigned char msg[64];
	int n;
	/* each SUB's subscription arrives as a message "\x01<topic>" on the XPUB */
	while ((n = zmq_recv(z->sock, msg, sizeof(msg), ZMQ_DONTWAIT)) >= 0)
		if (n >= 1 && msg[0] == 1)
			z->subs++;
	return 0; /* the count is compared by the caller's loop through subs_needed below */
}

static int zmq_writer(struct fanout_ctl *ctl)
{
	char path[160];
	struct zw z = {0};
	int rc = 0, hwm = (int)ctl->capacity, one = 1, linger = 0;
	void *ctx = zmq_ctx_new();
	zmq_path(ctl, path, sizeof(path));
	z.sock = ctx ? zmq_socket(ctx, ZMQ_XPUB) : NULL;
	if (!z.sock || zmq_setsockopt(z.sock, ZMQ_SNDHWM, &hwm, sizeof(hwm)) != 0 ||
	    zmq_setsockopt(z.sock, ZMQ_XPUB_VERBOSE, &one, sizeof(one)) != 0 ||
	    zmq_setsockopt(z.sock, ZMQ_LINGER, &linger, sizeof(linger)) != 0 || zmq_bind(z.sock, path) != 0) {
		fanout_set_error(ctl, "zmq writer %s: %s", path, zmq_strerror(zmq_errno()));
		rc = -EIO;
		goto cleanup;
	}
	struct fanout_writer_ops ops = {.arg = &z, .publish = zw_publish, .batch_end = zw_batch_end};
	/* readers attach first (readers_ready), then their subscriptions must reach the XPUB */
	rc = fanout_writer_start(ctl, &ops);
	for (uint64_t deadline = fanout_now_ns() + 10000000000ull; rc == 0 && z.subs < (int)ctl->readers;) {
		zw_subscribed(&z);
		if (z.subs >= (int)ctl->readers)
			break;
		if (fanout_now_ns() > deadline) {
			fanout_set_error(ctl, "zmq writer: %d of %u subscriptions after 10 s", z.subs, ctl->readers);
			rc = -ETIMEDOUT;
		}
		fanout_sleep_us(500);
	}
	if (rc != 0)
		goto cleanup;
	fanout_writer_run(ctl, &ops);
	if (z.err)
		fanout_set_error(ctl, "zmq writer: send: %s", zmq_strerror(z.err));
	/* the socket stays open until every reader is done: the I/O thread still drains the pipes */
	rc = fanout_writer_finish(ctl, &ops);
cleanup:
	if (z.sock)
		zmq_close(z.sock);
	if (ctx)
		zmq_ctx_term(ctx);
	unlink(path + strlen("ipc://"));
	return rc;
}

static int zmq_reader(struct fanout_ctl *ctl, unsigned idx)
{
	char path[160];
	struct fanout_rx rx;
	struct fr_conn c;
	int rc = 0, hwm = (int)ctl->capacity, tmo = 10, linger = 0;
	uint64_t idle_since = 0;
	void *ctx = zmq_ctx_new();
	void *s = ctx ? zmq_socket(ctx, ZMQ_SUB) : NULL;
	fanout_rx_init(&rx, ctl, idx);
	zmq_path(ctl, path, sizeof(path));
	if (!s || zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm)) != 0 ||
	    zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof(tmo)) != 0 ||
	    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger)) != 0 || zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0) != 0 ||
	    zmq_connect(s, path) != 0) {
		fanout_set_error(ctl, "zmq reader %u %s: %s", idx, path, zmq_strerror(zmq_errno()));
		fanout_rx_end(&rx, -EIO);
		rc = -EIO;
		goto cleanup;
	}
	fanout_rx_ready(&rx);
	for (;;) {
		int done = fanout_rx_writer_done(&rx);
		/* non-blocking first: the time of the last delivery is taken when the queue is empty,
		 * not after the receive timeout */
		int n = zmq_recv(s, &c, sizeof(c), ZMQ_DONTWAIT);
		if (n < 0 && zmq_errno() == EAGAIN) {
			fanout_rx_idle(&rx);
			n = zmq_recv(s, &c, sizeof(c), 0);
		}
		if (n == (int)sizeof(c)) {
			idle_since = 0;
			if (fanout_rx_record(&rx, fanout_seq(&c), fanout_ts(&c)))
				break;
		} else if (n < 0 && (zmq_errno() == EAGAIN || zmq_errno() == EINTR)) {
			/* messages may still be in flight (I/O threads, kernel buffers) after done: stop
			 * only after 200 ms with nothing; the last record usually ends the loop first */
			uint64_t now = fanout_now_ns();
			if (!done)
				continue;
			if (!idle_since)
				idle_since = now;
			else if (now - idle_since > 200000000ull)
				break;
		} else {
			fanout_set_error(ctl, "zmq reader %u: recv %d: %s", idx, n, zmq_strerror(zmq_errno()));
			rc = -EIO;
			break;
		}
	}
	fanout_rx_end(&rx, rc);
cleanup:
	if (s)
		zmq_close(s);
	if (ctx)
		zmq_ctx_term(ctx);
	return rc;
}

const struct fanout_transport fanout_zmq = {
	.name = "zeromq-ipc",
	.probe = zmq_probe,
	.writer = zmq_writer,
	.reader = zmq_reader,
	.slow_reader = "PUB never blocks: past SNDHWM+RCVHWM (+ socket buffers) messages to that subscriber are dropped",
};

#else /* !FANOUT_HAVE_ZMQ */

static int zmq_probe(char *why, size_t len)
{
	snprintf(why, len, "not built: pkg-config libzmq not found at configure time (apt-get install libzmq3-dev)");
	return -ENOSYS;
}

const struct fanout_transport fanout_zmq = {
	.name = "zeromq-ipc",
	.probe = zmq_probe,
	.slow_reader = "-",
};

#endif
