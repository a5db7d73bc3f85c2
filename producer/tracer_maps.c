/* tracer_maps.c - walks of the active BPF maps: the active view, UDP idle expiry and release
 * markers, and the TCP liveness pass (see tracer.h). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "tracer_private.h"

/* Walk a map in batches, fn per entry. Returns entries visited or -errno. */
static int fr_walk_map(struct fr_tracer *t, int fd, size_t ksz, void *keys, struct fr_bpf_conn *vals,
		       void (*fn)(struct fr_tracer *, const void *, const struct fr_bpf_conn *, void *), void *arg)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bopts);
	__u32 in = 0, out = 0;
	int total = 0;
	bool first = true;

	for (;;) {
		__u32 n = FR_BATCH;
		int err = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys, vals, &n, &bopts);

		if (err && errno != ENOENT) {
			err = -errno;
			fr_err("tracer: batch lookup of map fd %d failed: %s", fd, strerror(-err));
			return err;
		}
		for (__u32 i = 0; i < n; i++)
			fn(t, (const char *)keys + i * ksz, &vals[i], arg);
		total += (int)n;
		if (err) /* ENOENT: that was the last batch */
			break;
		in = out;
		first = false;
	}
	return total;
}

struct fr_active_arg {
	fr_tracer_conn_cb cb;
	void *ctx;
};

static void fr_active_one(struct fr_tracer *t, const void *k, const struct fr_bpf_conn *v, void *arg)
{
	struct fr_active_arg *a = arg;
	struct fr_conn c;

	(void)t;
	(void)k;
	if (v->end_ns)
		return; /* closed and reported; its delete failed and awaits a walk */
	fr_tracer_to_conn(v, &c);
	a->cb(a->ctx, &c);
}

int fr_tracer_for_each_active(struct fr_tracer *t, fr_tracer_conn_cb cb, void *ctx)
{
	static __thread __u64 tkeys[FR_BATCH];
	static __thread struct fr_bpf_udp_key ukeys[FR_BATCH];
	static __thread struct fr_bpf_conn vals[FR_BATCH];
	struct fr_active_arg a = { cb, ctx };
	int n1, n2 = 0;

	n1 = fr_walk_map(t, bpf_map__fd(t->skel->maps.fr_tcp_conns), sizeof(tkeys[0]), tkeys, vals, fr_active_one,
			 &a);
	if (n1 < 0)
		return n1;
	if (t->opts.udp) {
		n2 = fr_walk_map(t, bpf_map__fd(t->skel->maps.fr_udp_flows), sizeof(ukeys[0]), ukeys, vals,
				 fr_active_one, &a);
		if (n2 < 0)
			return n2;
	}
	return n1 + n2;
}

struct fr_close_arg {
	uint64_t now;
	uint64_t idle_ns; /* close flows idle longer than this ... */
	uint64_t cookie;  /* ... or (idle_ns == 0) every flow of this socket */
	int closed;
};

static void fr_close_one(struct fr_tracer *t, const void *kp, const struct fr_bpf_conn *v, void *arg)
{
	const struct fr_bpf_udp_key *k = kp;
	struct fr_close_arg *a = arg;
	struct fr_bpf_conn c;

	if (v->end_ns) {
		/* already reported by the kernel, whose delete failed: only remove it */
		bpf_map_delete_elem(bpf_map__fd(t->skel->maps.fr_udp_flows), k);
		return;
	}
	if (a->idle_ns ? v->last_update_ns + a->idle_ns > a->now : k->cookie != a->cookie)
		return;
	/* Whoever deletes the entry reports it (the kernel's sock_release does the same), so a
	 * flow is reported exactly once even when close() races with the expiry. */
	if (bpf_map_delete_elem(bpf_map__fd(t->skel->maps.fr_udp_flows), k))
		return;
	c = *v;
	c.end_ns = a->now;
	c.flags |= FR_BPF_F_CLOSED;
	if (a->idle_ns) {
		c.flags |= FR_CONN_F_IDLE_CLOSED;
		t->udp_idle_closed++;
	}
	fr_tracer_emit_closed(t, &c);
	a->closed++;
}

static int fr_udp_close_where(struct fr_tracer *t, struct fr_close_arg *a)
{
	static __thread struct fr_bpf_udp_key ukeys[FR_BATCH];
	static __thread struct fr_bpf_conn vals[FR_BATCH];
	int n;

	if (!t->opts.udp)
		return 0;
	n = fr_walk_map(t, bpf_map__fd(t->skel->maps.fr_udp_flows), sizeof(ukeys[0]), ukeys, vals, fr_close_one, a);
	return n < 0 ? n : a->closed;
}

int fr_tracer_udp_close_cookie(struct fr_tracer *t, uint64_t cookie, uint64_t now_ns)
{
	struct fr_close_arg a = { .now = now_ns, .cookie = cookie };

	return fr_udp_close_where(t, &a);
}

int fr_tracer_expire_udp_idle(struct fr_tracer *t, uint64_t now_ns)
{
	struct fr_close_arg a = { .now = now_ns, .idle_ns = t->opts.udp_idle_timeout_ns };

	if (!a.idle_ns)
		return 0;
	return fr_udp_close_where(t, &a);
}

struct fr_reap_arg {
	uint64_t now, pass_start;
	uint32_t gen;
	int reaped;
};

static void fr_reap_one(struct fr_tracer *t, const void *k, const struct fr_bpf_conn *v, void *arg)
{
	struct fr_reap_arg *a = arg;
	struct fr_bpf_conn c;

	if (v->end_ns) {
		/* already reported by the kernel, whose delete failed: only remove it */
		bpf_map_delete_elem(bpf_map__fd(t->skel->maps.fr_tcp_conns), k);
		return;
	}
	/* Alive (marked by this pass), created during the pass, or in a netns the pass cannot see. */
	if (v->reap_gen == a->gen || v->start_ns >= a->pass_start || v->netns != t->own_netns)
		return;
	if (bpf_map_delete_elem(bpf_map__fd(t->skel->maps.fr_tcp_conns), k))
		return; /* the kernel closed it meanwhile and reported it */
	c = *v;
	c.end_ns = a->now;
	c.last_update_ns = a->now;
	c.flags |= FR_BPF_F_CLOSED;
	fr_tracer_emit_closed(t, &c);
	t->tcp_reaped++;
	a->reaped++;
}

int fr_tracer_reap_tcp(struct fr_tracer *t, uint64_t now_ns)
{
	static __thread __u64 keys[FR_BATCH];
	static __thread struct fr_bpf_conn vals[FR_BATCH];
	struct fr_reap_arg a = { .now = now_ns };
	struct timespec ts;
	int err;

	if (++t->reap_gen == 0)
		t->reap_gen = 1; /* 0 is what seeding writes */
	a.gen = t->reap_gen;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	a.pass_start = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	/* The program reads the generation from .bss; a plain store is enough: the iterator runs
	 * inside the read() syscalls below, after it. */
	t->skel->bss->fr_reap_gen = a.gen;
	err = fr_tracer_run_iter(t->skel->progs.fr_iter_tcp);
	if (err)
		return err;
	err = fr_walk_map(t, bpf_map__fd(t->skel->maps.fr_tcp_conns), sizeof(keys[0]), keys, vals, fr_reap_one, &a);
	return err < 0 ? err : a.reaped;
}
