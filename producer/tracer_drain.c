/* tracer_drain.c - the ring buffer of the flowring BPF programs to the tracer's callbacks: closed
 * connections (on_closed), UDP release markers, listening-port events (on_port). */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

#include "log.h"
#include "tracer_private.h"

_Static_assert(FR_BPF_F_CLOSED == FR_CONN_F_CLOSED, "flag");
_Static_assert(FR_BPF_F_FAILED_CONNECT == FR_CONN_F_FAILED_CONNECT, "flag");
_Static_assert(FR_BPF_F_SEEDED == FR_CONN_F_SEEDED, "flag");
_Static_assert(FR_BPF_F_UDP_CONNECTED == FR_CONN_F_UDP_CONNECTED, "flag");
_Static_assert(FR_BPF_F_LISTENER_SIDE == FR_CONN_F_LISTENER_SIDE, "flag");
_Static_assert(FR_BPF_TCP == FR_CONN_TCP && FR_BPF_UDP == FR_CONN_UDP, "type");
_Static_assert(FR_BPF_V4 == FR_CONN_V4 && FR_BPF_V6 == FR_CONN_V6, "family");

void fr_tracer_to_conn(const struct fr_bpf_conn *k, struct fr_conn *c)
{
	memset(c, 0, sizeof(*c));
	memcpy(c->saddr, k->saddr, 16);
	memcpy(c->daddr, k->daddr, 16);
	/* last_* start equal to monotonic_*: nobody has seen this connection yet; the per-client
	 * state recomputes them for each client. */
	c->monotonic_sent_bytes = c->last_sent_bytes = k->sent_bytes;
	c->monotonic_recv_bytes = c->last_recv_bytes = k->recv_bytes;
	c->monotonic_sent_packets = c->last_sent_packets = k->sent_packets;
	c->monotonic_recv_packets = c->last_recv_packets = k->recv_packets;
	c->monotonic_retransmits = c->last_retransmits = k->retransmits;
	c->last_update_ns = k->last_update_ns;
	c->start_ns = k->start_ns;
	c->end_ns = k->end_ns;
	c->cookie = k->cookie;
	c->rtt_us = k->rtt_us;
	c->rtt_var_us = k->rtt_var_us;
	c->pid = k->pid;
	c->netns = k->netns;
	c->flags = k->flags;
	c->sport = k->sport;
	c->dport = k->dport;
	c->type = k->proto;
	c->family = k->family;
	c->direction = FR_DIR_UNKNOWN; /* decided later from the port map */
	c->intra_host = 0;
}

void fr_tracer_emit_closed(struct fr_tracer *t, const struct fr_bpf_conn *k)
{
	struct fr_conn c;

	fr_tracer_to_conn(k, &c);
	if (t->opts.on_closed)
		t->opts.on_closed(t->opts.ctx, &c);
}

int fr_tracer_rb_event(void *ctx, void *data, size_t size)
{
	struct fr_tracer *t = ctx;
	const struct fr_bpf_conn *k = data;

	if (size < sizeof(*k)) {
		t->ingest_malformed++;
		return 0;
	}
	t->ingest_events++;
	if (k->kind == FR_BPF_KIND_CONN) {
		fr_tracer_emit_closed(t, k);
	} else if (k->kind == FR_BPF_KIND_UDP_RELEASE) {
		fr_tracer_udp_close_cookie(t, k->cookie, k->end_ns);
	} else if ((k->kind == FR_BPF_KIND_PORT_LISTEN || k->kind == FR_BPF_KIND_PORT_CLOSE) &&
		   (k->proto == FR_BPF_TCP || k->proto == FR_BPF_UDP) && k->sport) {
		if (t->opts.on_port)
			t->opts.on_port(t->opts.ctx, k->netns, k->proto, k->sport, k->kind == FR_BPF_KIND_PORT_LISTEN);
	} else {
		t->ingest_malformed++;
	}
	return 0;
}

int fr_tracer_epoll_fd(const struct fr_tracer *t)
{
	return ring_buffer__epoll_fd(t->rb);
}

int fr_tracer_consume(struct fr_tracer *t)
{
	int n = ring_buffer__consume(t->rb);

	if (n < 0)
		fr_err("tracer: ring buffer consume failed: %s", strerror(-n));
	return n;
}

bool fr_tracer_pending(const struct fr_tracer *t)
{
	/* acquire: pairs with the kernel's release of producer_pos at reserve; a record counted here
	 * may still be uncommitted (busy), which is exactly the case the caller must not sleep on */
	unsigned long prod = __atomic_load_n(t->rb_prod, __ATOMIC_ACQUIRE);

	return prod != __atomic_load_n(t->rb_cons, __ATOMIC_RELAXED);
}

int fr_tracer_poll(struct fr_tracer *t, int timeout_ms)
{
	struct epoll_event ev;

	if (epoll_wait(t->epfd, &ev, 1, timeout_ms) < 0 && errno != EINTR)
		return -errno;
	return fr_tracer_consume(t);
}
