/* tracer.c - load, attach and drain the flowring BPF programs (see tracer.h, docs/BPF.md). */
#include "tracer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/types.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "flowring.h"
#include "flowring.skel.h"
#include "log.h"

_Static_assert(FR_BPF_F_CLOSED == FR_CONN_F_CLOSED, "flag");
_Static_assert(FR_BPF_F_FAILED_CONNECT == FR_CONN_F_FAILED_CONNECT, "flag");
_Static_assert(FR_BPF_F_SEEDED == FR_CONN_F_SEEDED, "flag");
_Static_assert(FR_BPF_F_UDP_CONNECTED == FR_CONN_F_UDP_CONNECTED, "flag");
_Static_assert(FR_BPF_F_LISTENER_SIDE == FR_CONN_F_LISTENER_SIDE, "flag");
_Static_assert(FR_BPF_TCP == FR_CONN_TCP && FR_BPF_UDP == FR_CONN_UDP, "type");
_Static_assert(FR_BPF_V4 == FR_CONN_V4 && FR_BPF_V6 == FR_CONN_V6, "family");

#define FR_MAX_LINKS 16
#define FR_BATCH 256

struct fr_tracer {
	struct flowring_bpf *skel;
	struct bpf_link *links[FR_MAX_LINKS];
	int nlinks;
	int cgroup_fd;
	int stats_fd;
	struct ring_buffer *rb;
	int epfd; /* for fr_tracer_poll: wraps the ring buffer's epoll fd */
	struct fr_tracer_opts opts;
	uint64_t udp_idle_closed;
	uint64_t tcp_reaped;
	uint32_t reap_gen;
	uint32_t own_netns; /* iter/tcp only walks the netns of its creator: reap only there */
	uint64_t ingest_events;
	uint64_t ingest_malformed;
};

void fr_tracer_opts_init(struct fr_tracer_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->udp = true;
	o->seed = true;
	o->prog_stats = true;
	o->udp_idle_timeout_ns = 30ull * 1000000000ull;
	o->ringbuf_bytes = 4u << 20;
	o->tcp_map_entries = 65536;
	o->udp_map_entries = 65536;
}

static int fr_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	if (level == LIBBPF_WARN)
		fr_warn("libbpf: %s", buf);
	else
		fr_dbg("libbpf: %s", buf);
	return 0;
}

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

static void fr_emit_closed(struct fr_tracer *t, const struct fr_bpf_conn *k)
{
	struct fr_conn c;

	fr_tracer_to_conn(k, &c);
	if (t->opts.on_closed)
		t->opts.on_closed(t->opts.ctx, &c);
}

static int fr_seed(struct bpf_program *p);

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
	fr_emit_closed(t, &c);
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
	fr_emit_closed(t, &c);
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
	err = fr_seed(t->skel->progs.fr_iter_tcp);
	if (err)
		return err;
	err = fr_walk_map(t, bpf_map__fd(t->skel->maps.fr_tcp_conns), sizeof(keys[0]), keys, vals, fr_reap_one, &a);
	return err < 0 ? err : a.reaped;
}

static int fr_rb_event(void *ctx, void *data, size_t size)
{
	struct fr_tracer *t = ctx;
	const struct fr_bpf_conn *k = data;

	if (size < sizeof(*k)) {
		t->ingest_malformed++;
		return 0;
	}
	t->ingest_events++;
	if (k->kind == FR_BPF_KIND_CONN) {
		fr_emit_closed(t, k);
	} else if (k->kind == FR_BPF_KIND_UDP_RELEASE) {
		struct fr_close_arg a = { .now = k->end_ns, .cookie = k->cookie };

		fr_udp_close_where(t, &a);
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

int fr_tracer_poll(struct fr_tracer *t, int timeout_ms)
{
	struct epoll_event ev;

	if (epoll_wait(t->epfd, &ev, 1, timeout_ms) < 0 && errno != EINTR)
		return -errno;
	return fr_tracer_consume(t);
}

int fr_tracer_read_counters(struct fr_tracer *t, struct fr_tracer_counters *out)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t sum[FR_BPF_TM__COUNT] = { 0 };
	uint64_t *v;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (__u32 i = 0; i < FR_BPF_TM__COUNT; i++) {
		if (bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.fr_telemetry), &i, v)) {
			int err = -errno;

			fr_err("tracer: reading the telemetry map failed: %s", strerror(-err));
			free(v);
			return err;
		}
		for (int c = 0; c < ncpu; c++)
			sum[i] += v[c];
	}
	free(v);
	out->rb_reserve_failed = sum[FR_BPF_TM_RB_RESERVE_FAILED];
	out->rb_bytes_dropped = sum[FR_BPF_TM_RB_BYTES_DROPPED];
	out->tcp_map_full = sum[FR_BPF_TM_TCP_MAP_FULL];
	out->udp_map_full = sum[FR_BPF_TM_UDP_MAP_FULL];
	out->sk_storage_failed = sum[FR_BPF_TM_SK_STORAGE_FAILED];
	out->events_skipped = sum[FR_BPF_TM_EVENTS_SKIPPED];
	out->failed_connects = sum[FR_BPF_TM_FAILED_CONNECTS];
	out->rb_submitted = sum[FR_BPF_TM_RB_SUBMITTED];
	out->rb_wakeups = sum[FR_BPF_TM_WAKEUPS];
	out->tcp_closes = sum[FR_BPF_TM_TCP_CLOSES];
	out->udp_idle_closed = t->udp_idle_closed;
	out->tcp_reaped = t->tcp_reaped;
	out->ingest_events = t->ingest_events;
	out->ingest_malformed = t->ingest_malformed;
	return 0;
}

int fr_tracer_prog_stats(struct fr_tracer *t, struct fr_tracer_prog_stat *out, size_t max)
{
	struct bpf_program *p;
	int n = 0;

	bpf_object__for_each_program(p, t->skel->obj)
	{
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(p);

		if (fd < 0)
			continue; /* not loaded (UDP off) */
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fd, &info, &len))
			return -errno;
		if ((size_t)n < max) {
			snprintf(out[n].name, sizeof(out[n].name), "%s", bpf_program__name(p));
			out[n].run_cnt = info.run_cnt;
			out[n].run_time_ns = info.run_time_ns;
			out[n].recursion_misses = info.recursion_misses;
		}
		n++;
	}
	return n;
}

int fr_tracer_read_telemetry(struct fr_tracer *t, uint64_t tm[FR_TM__COUNT])
{
	struct fr_tracer_prog_stat ps[FR_MAX_LINKS];
	struct fr_tracer_counters c;
	uint64_t runs = 0, misses = 0;
	int err = fr_tracer_read_counters(t, &c);
	int n;

	if (err)
		return err;
	n = fr_tracer_prog_stats(t, ps, FR_MAX_LINKS);
	if (n < 0)
		return n;
	for (int i = 0; i < n && i < FR_MAX_LINKS; i++) {
		runs += ps[i].run_cnt;
		misses += ps[i].recursion_misses;
	}
	tm[FR_TM_BPF_PROG_RUNS] = runs;
	tm[FR_TM_BPF_PROG_MISSES] = misses;
	tm[FR_TM_BPF_RINGBUF_RESERVE_FAILED] = c.rb_reserve_failed;
	tm[FR_TM_BPF_RINGBUF_BYTES_DROPPED] = c.rb_bytes_dropped;
	tm[FR_TM_BPF_TCP_MAP_FULL] = c.tcp_map_full;
	tm[FR_TM_BPF_UDP_MAP_FULL] = c.udp_map_full;
	tm[FR_TM_BPF_SK_STORAGE_FAILED] = c.sk_storage_failed;
	tm[FR_TM_BPF_EVENTS_SKIPPED] = c.events_skipped;
	tm[FR_TM_BPF_FAILED_CONNECTS] = c.failed_connects;
	tm[FR_TM_BPF_TCP_REAPED] = c.tcp_reaped;
	tm[FR_TM_BPF_UDP_IDLE_CLOSED] = c.udp_idle_closed;
	tm[FR_TM_INGEST_EVENTS] = c.ingest_events;
	tm[FR_TM_INGEST_MALFORMED] = c.ingest_malformed;
	return 0;
}

/* The cgroup v2 mount from /proc/mounts (hybrid hosts mount it at /sys/fs/cgroup/unified). */
static int fr_cgroup2_path(char *buf, size_t len)
{
	char line[512], dev[128], dir[256], type[64];
	FILE *f = fopen("/proc/mounts", "re");
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%127s %255s %63s", dev, dir, type) == 3 && !strcmp(type, "cgroup2")) {
			snprintf(buf, len, "%s", dir);
			err = 0;
			break;
		}
	}
	fclose(f);
	return err;
}

static int fr_attach(struct fr_tracer *t, struct bpf_program *p, bool cgroup)
{
	struct bpf_link *l;

	if (t->nlinks >= FR_MAX_LINKS)
		return -E2BIG;
	/* Cgroup programs only through links: a link dies with its holder, a legacy attachment to
	 * the root cgroup would outlive a crashed process. */
	l = cgroup ? bpf_program__attach_cgroup(p, t->cgroup_fd) : bpf_program__attach(p);
	if (!l) {
		int err = -errno;

		fr_err("tracer: cannot attach %s (%s): %s: this kernel lacks the hook or it is not permitted",
		       bpf_program__name(p), bpf_program__section_name(p), strerror(-err));
		return err;
	}
	t->links[t->nlinks++] = l;
	return 0;
}

static int fr_seed(struct bpf_program *p)
{
	struct bpf_link *l = bpf_program__attach_iter(p, NULL);
	char buf[64];
	int fd, err = 0;

	if (!l) {
		err = -errno;
		fr_err("tracer: cannot attach iterator %s: %s", bpf_program__section_name(p), strerror(-err));
		return err;
	}
	fd = bpf_iter_create(bpf_link__fd(l));
	if (fd < 0) {
		err = -errno;
		fr_err("tracer: cannot create iterator %s: %s", bpf_program__section_name(p), strerror(-err));
		goto cleanup;
	}
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));

		if (r == 0)
			break;
		if (r < 0 && errno != EINTR && errno != EAGAIN) {
			err = -errno;
			fr_err("tracer: reading iterator %s: %s", bpf_program__section_name(p), strerror(-err));
			break;
		}
	}
	close(fd);
cleanup:
	bpf_link__destroy(l);
	return err;
}

static int fr_check_env(void)
{
	if (geteuid() != 0) {
		fr_err("tracer: needs root (CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN) to load BPF programs");
		return -EPERM;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		fr_err("tracer: kernel BTF /sys/kernel/btf/vmlinux missing: needs CONFIG_DEBUG_INFO_BTF=y");
		return -ENOENT;
	}
	return 0;
}

int fr_tracer_open(const struct fr_tracer_opts *opts, struct fr_tracer **out)
{
	struct fr_tracer *t;
	struct flowring_bpf *s;
	struct epoll_event ev = { .events = EPOLLIN };
	char cg[256];
	int err;

	*out = NULL;
	err = fr_check_env();
	if (err)
		return err;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->cgroup_fd = t->stats_fd = t->epfd = -1;
	{
		struct stat st;

		t->own_netns = stat("/proc/self/ns/net", &st) ? 0 : (uint32_t)st.st_ino;
	}
	if (opts)
		t->opts = *opts;
	else
		fr_tracer_opts_init(&t->opts);
	if (!t->opts.ringbuf_bytes || (t->opts.ringbuf_bytes & (t->opts.ringbuf_bytes - 1)) ||
	    t->opts.ringbuf_bytes % (uint32_t)sysconf(_SC_PAGESIZE)) {
		fr_err("tracer: ring buffer size %u is not a power of two multiple of the page size",
		       t->opts.ringbuf_bytes);
		err = -EINVAL;
		goto cleanup;
	}
	if (!t->opts.wakeup_bytes)
		t->opts.wakeup_bytes = t->opts.ringbuf_bytes / 16 < 65536 ? t->opts.ringbuf_bytes / 16 : 65536;
	libbpf_set_print(fr_libbpf_print);

	s = t->skel = flowring_bpf__open();
	if (!s) {
		err = -errno;
		fr_err("tracer: cannot open the BPF object: %s", strerror(-err));
		goto cleanup;
	}
	s->rodata->fr_targ_netns = t->opts.netns;
	s->rodata->fr_trace_udp = t->opts.udp;
	s->rodata->fr_wakeup_bytes = t->opts.wakeup_bytes;
	if ((err = bpf_map__set_max_entries(s->maps.fr_rb, t->opts.ringbuf_bytes)) ||
	    (err = bpf_map__set_max_entries(s->maps.fr_tcp_conns, t->opts.tcp_map_entries ?: 65536)) ||
	    (err = bpf_map__set_max_entries(s->maps.fr_udp_flows, t->opts.udp_map_entries ?: 65536))) {
		fr_err("tracer: cannot size the BPF maps: %s", strerror(-err));
		goto cleanup;
	}
	if (!t->opts.udp) {
		bpf_program__set_autoload(s->progs.fr_sock_create, false);
		bpf_program__set_autoload(s->progs.fr_sendmsg4, false);
		bpf_program__set_autoload(s->progs.fr_sendmsg6, false);
		bpf_program__set_autoload(s->progs.fr_udp_ingress, false);
		bpf_program__set_autoload(s->progs.fr_sock_release, false);
		bpf_program__set_autoload(s->progs.fr_iter_udp, false);
	}
	err = flowring_bpf__load(s);
	if (err) {
		fr_err("tracer: loading the BPF programs failed: %s (the verifier log is above; needs a kernel "
		       "with tp_btf, sk_storage, ring buffers and BPF iterators)", strerror(-err));
		goto cleanup;
	}
	if (t->opts.prog_stats) {
		t->stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
		if (t->stats_fd < 0)
			fr_warn("tracer: cannot enable bpf_stats: %s (run times stay 0)", strerror(errno));
	}
	if ((err = fr_attach(t, s->progs.fr_tcp_state, false)) || (err = fr_attach(t, s->progs.fr_send_length, false)) ||
	    (err = fr_attach(t, s->progs.fr_recv_length, false)))
		goto cleanup;
	if (t->opts.udp) {
		err = fr_cgroup2_path(cg, sizeof(cg));
		if (err) {
			fr_err("tracer: no cgroup2 mount in /proc/mounts: UDP tracing needs cgroup v2 "
			       "(mount -t cgroup2 none /sys/fs/cgroup/unified, or --no-udp)");
			goto cleanup;
		}
		t->cgroup_fd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (t->cgroup_fd < 0) {
			err = -errno;
			fr_err("tracer: cannot open cgroup2 root %s: %s", cg, strerror(-err));
			goto cleanup;
		}
		if ((err = fr_attach(t, s->progs.fr_sock_create, true)) || (err = fr_attach(t, s->progs.fr_sendmsg4, true)) ||
		    (err = fr_attach(t, s->progs.fr_sendmsg6, true)) || (err = fr_attach(t, s->progs.fr_udp_ingress, true)) ||
		    (err = fr_attach(t, s->progs.fr_sock_release, true)))
			goto cleanup;
	}
	t->rb = ring_buffer__new(bpf_map__fd(s->maps.fr_rb), fr_rb_event, t, NULL);
	if (!t->rb) {
		err = -errno;
		fr_err("tracer: cannot set up the ring buffer: %s", strerror(-err));
		goto cleanup;
	}
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (t->epfd < 0 || epoll_ctl(t->epfd, EPOLL_CTL_ADD, ring_buffer__epoll_fd(t->rb), &ev)) {
		err = -errno;
		fr_err("tracer: epoll setup failed: %s", strerror(-err));
		goto cleanup;
	}
	if (t->opts.seed) {
		/* After the hooks are attached, so nothing falls between seeding and tracing. */
		if ((err = fr_seed(s->progs.fr_iter_tcp)) || (t->opts.udp && (err = fr_seed(s->progs.fr_iter_udp))))
			goto cleanup;
	}
	*out = t;
	return 0;
cleanup:
	fr_tracer_close(t);
	return err;
}

void fr_tracer_close(struct fr_tracer *t)
{
	if (!t)
		return;
	for (int i = t->nlinks - 1; i >= 0; i--)
		bpf_link__destroy(t->links[i]);
	ring_buffer__free(t->rb);
	flowring_bpf__destroy(t->skel);
	if (t->epfd >= 0)
		close(t->epfd);
	if (t->cgroup_fd >= 0)
		close(t->cgroup_fd);
	if (t->stats_fd >= 0)
		close(t->stats_fd);
	free(t);
}
