/* tracer.c - open, configure, load and attach the flowring BPF programs, seed, close (see tracer.h,
 * docs/BPF.md). Draining is tracer_drain.c, map walks tracer_maps.c, counters tracer_stats.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "tracer_private.h"

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

int fr_tracer_run_iter(struct bpf_program *p)
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

/* The kernel's ring buffer keeps the consumer position on its first page and the producer position
 * on the second; a read-only mapping of each is all fr_tracer_pending() needs. */
static int fr_tracer_map_positions(struct fr_tracer *t, int map_fd)
{
	void *cons, *prod;
	int err;

	t->rb_page = (size_t)sysconf(_SC_PAGESIZE);
	cons = mmap(NULL, t->rb_page, PROT_READ, MAP_SHARED, map_fd, 0);
	if (cons == MAP_FAILED)
		goto fail;
	t->rb_cons = cons;
	prod = mmap(NULL, t->rb_page, PROT_READ, MAP_SHARED, map_fd, (off_t)t->rb_page);
	if (prod == MAP_FAILED)
		goto fail;
	t->rb_prod = prod;
	return 0;
fail:
	err = -errno;
	fr_err("tracer: cannot map the ring buffer's positions: %s", strerror(-err));
	return err;
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
	s->rodata->fr_wake_idle = t->opts.wake_idle;
	s->rodata->fr_idle_wake_min_ns = t->opts.idle_wake_min_ns;
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
		bpf_program__set_autoload(s->progs.fr_udp_egress, false);
		bpf_program__set_autoload(s->progs.fr_bind4, false);
		bpf_program__set_autoload(s->progs.fr_bind6, false);
		bpf_program__set_autoload(s->progs.fr_post_bind4, false);
		bpf_program__set_autoload(s->progs.fr_post_bind6, false);
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
		    (err = fr_attach(t, s->progs.fr_sock_release, true)) ||
		    (err = fr_attach(t, s->progs.fr_udp_egress, true)) || (err = fr_attach(t, s->progs.fr_bind4, true)) ||
		    (err = fr_attach(t, s->progs.fr_bind6, true)) || (err = fr_attach(t, s->progs.fr_post_bind4, true)) ||
		    (err = fr_attach(t, s->progs.fr_post_bind6, true)))
			goto cleanup;
	}
	t->rb = ring_buffer__new(bpf_map__fd(s->maps.fr_rb), fr_tracer_rb_event, t, NULL);
	if (!t->rb) {
		err = -errno;
		fr_err("tracer: cannot set up the ring buffer: %s", strerror(-err));
		goto cleanup;
	}
	if ((err = fr_tracer_map_positions(t, bpf_map__fd(s->maps.fr_rb))))
		goto cleanup;
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (t->epfd < 0 || epoll_ctl(t->epfd, EPOLL_CTL_ADD, ring_buffer__epoll_fd(t->rb), &ev)) {
		err = -errno;
		fr_err("tracer: epoll setup failed: %s", strerror(-err));
		goto cleanup;
	}
	if (t->opts.seed) {
		/* After the hooks are attached, so nothing falls between seeding and tracing. */
		if ((err = fr_tracer_run_iter(s->progs.fr_iter_tcp)) || (t->opts.udp && (err = fr_tracer_run_iter(s->progs.fr_iter_udp))))
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
	if (t->rb_cons)
		munmap((void *)t->rb_cons, t->rb_page);
	if (t->rb_prod)
		munmap((void *)t->rb_prod, t->rb_page);
	flowring_bpf__destroy(t->skel);
	if (t->epfd >= 0)
		close(t->epfd);
	if (t->cgroup_fd >= 0)
		close(t->cgroup_fd);
	if (t->stats_fd >= 0)
		close(t->stats_fd);
	free(t);
}

int fr_tracer_ringbuf_fd(const struct fr_tracer *t)
{
	return bpf_map__fd(t->skel->maps.fr_rb);
}
