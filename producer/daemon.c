/* daemon.c - flowringd's lifecycle: components opened and closed in order, the event loop's sources and
 * timers, signals (see daemon.h; the pipeline is in daemon_enrich.c, telemetry in daemon_telemetry.c). */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control_server.h"
#include "filter.h"
#include "log.h"
#include "loop.h"
#include "nat.h"
#include "portmap.h"
#include "region.h"
#include "state.h"
#include "tracer.h"

/* The kernel wakes us when a record arrives to an empty ring or when much is pending. A record that
 * found unread data pending is not woken for: if it is still there after a drain (it was being
 * written while we read, or came since), the drain timer runs fast until the ring is empty.
 * Otherwise every record has a wake-up coming, and the slow timer is only a safety net. */
#define FR_DRAIN_INTERVAL_NS (50ull * 1000000ull)
#define FR_DRAIN_FAST_NS (20ull * 1000ull)
#define FR_HEARTBEAT_INTERVAL_NS (100ull * 1000000ull) /* = FR_REGION_DEFAULT_HEARTBEAT_MS */
#define FR_EXPIRY_INTERVAL_NS (1000ull * 1000000ull)
/* listening-port events keep the port map current; the full re-read only repairs what events cannot see */
#define FR_PORTMAP_INTERVAL_NS (30000ull * 1000000ull)
#define FR_REAP_INTERVAL_NS (10000ull * 1000000ull) /* TCP closes the kernel skipped: see docs/BPF.md */

int fr_daemon_drain(struct fr_daemon *d)
{
	int n = fr_tracer_consume(d->tracer);

	d->drains++;
	if (n < 0) {
		fr_err("ring buffer drain failed: %s", strerror(-n));
		return n;
	}
	fr_events_flush_sp(&d->events);
	if (d->drain_src && fr_tracer_pending(d->tracer) != d->drain_fast) {
		d->drain_fast = !d->drain_fast;
		fr_loop_timer_set(d->drain_src, d->drain_fast ? FR_DRAIN_FAST_NS : FR_DRAIN_INTERVAL_NS);
	}
	return 0;
}

/* The ring buffer's fd became readable: a forced wake-up. */
static int fr_daemon_on_drain(void *ctx, uint32_t revents)
{
	(void)revents;
	return fr_daemon_drain(ctx);
}

static int fr_daemon_on_drain_timer(void *ctx, uint32_t revents)
{
	struct fr_daemon *d = ctx;

	(void)revents;
	d->fast_drains += d->drain_fast;
	return fr_daemon_drain(d);
}

static int fr_daemon_on_ctl(void *ctx, uint32_t revents)
{
	struct fr_daemon *d = ctx;

	(void)revents;
	return fr_ctl_server_dispatch(d->ctl);
}

static int fr_daemon_on_nat(void *ctx, uint32_t revents)
{
	struct fr_daemon *d = ctx;
	int rc;

	(void)revents;
	rc = fr_nat_on_readable(d->nat);
	if (rc < 0) {
		/* losing conntrack costs NAT enrichment, not tracing: keep running and say so */
		fr_err("conntrack socket failed (%s): NAT translation stops", strerror(-rc));
		fr_loop_remove(d->loop, d->nat_src);
		d->nat_src = NULL;
	}
	return 0;
}

static int fr_daemon_on_heartbeat(void *ctx, uint32_t revents)
{
	struct fr_daemon *d = ctx;
	uint64_t now = fr_now_ns();

	(void)revents;
	fr_events_heartbeat_sp(&d->events, now);
	for (uint32_t i = 0; i < d->cfg->max_clients; i++)
		if (d->clients[i].used)
			fr_snapshot_heartbeat_sp(&d->clients[i].w, now);
	fr_daemon_update_telemetry(d);
	return 0;
}

static int fr_daemon_on_expiry(void *ctx, uint32_t revents)
{
	struct fr_daemon *d = ctx;
	uint64_t now = fr_now_ns();

	(void)revents;
	if (fr_state_expire_sp(d->state, now) > 0)
		fr_daemon_reap_clients(d);
	if (d->nat)
		fr_daemon_nat_forget_due(d, now);
	int n = fr_tracer_expire_udp_idle(d->tracer, now);
	if (n < 0)
		fr_warn("UDP idle expiry failed: %s", strerror(-n));
	fr_events_flush_sp(&d->events);
	fr_state_reclaim_sp(d->state);
	return 0;
}

static int fr_daemon_on_reap(void *ctx, uint32_t revents)
{
	struct fr_daemon *d = ctx;
	int n;

	(void)revents;
	n = fr_tracer_reap_tcp(d->tracer, fr_now_ns());
	if (n < 0)
		fr_warn("TCP recovery pass failed: %s", strerror(-n));
	else if (n > 0)
		fr_events_flush_sp(&d->events);
	return 0;
}

static int fr_daemon_on_publish(void *ctx, uint32_t revents)
{
	(void)revents;
	fr_daemon_publish_due(ctx, fr_now_ns());
	return 0;
}

/* ---- port map ---- */

static int fr_daemon_on_portmap(void *ctx, uint32_t revents)
{
	(void)revents;
	fr_daemon_refresh_portmap(ctx);
	return 0;
}

/* ---- signals ---- */

static int fr_daemon_build_filter(struct fr_config *cfg, struct fr_filter **out)
{
	char err[256];
	struct fr_filter *f = fr_filter_new();
	int rc = 0;

	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->exclude_src.n && !rc; i++)
		rc = fr_filter_parse(f, FR_FILTER_SRC, cfg->exclude_src.items[i], err, sizeof(err));
	for (size_t i = 0; i < cfg->exclude_dst.n && !rc; i++)
		rc = fr_filter_parse(f, FR_FILTER_DST, cfg->exclude_dst.items[i], err, sizeof(err));
	if (rc) {
		fr_err("filters: %s", err);
		fr_filter_free(f);
		return rc;
	}
	*out = f;
	return 0;
}

static void fr_daemon_reload(struct fr_daemon *d)
{
	struct fr_filter *f;
	char err[256];
	int rc = fr_config_reload_filters(d->cfg, err, sizeof(err));

	if (rc) {
		fr_err("SIGHUP: configuration not reloaded: %s", err);
		return;
	}
	if (fr_daemon_build_filter(d->cfg, &f) != 0) {
		fr_err("SIGHUP: filters not reloaded, the previous ones stay");
		return;
	}
	/* the filter is only used on this thread: swap it, carrying the exclusion count over via telemetry */
	d->filtered_before += fr_filter_excluded_mc(d->filter);
	fr_filter_free(d->filter);
	d->filter = f;
	fr_info("SIGHUP: filters reloaded (%zu source, %zu destination entries)", fr_filter_count(f, FR_FILTER_SRC),
		fr_filter_count(f, FR_FILTER_DST));
}

static int fr_daemon_on_signal(void *ctx, uint32_t revents)
{
	struct fr_daemon *d = ctx;
	struct signalfd_siginfo si;

	(void)revents;
	while (read(d->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			fr_daemon_reload(d);
		} else {
			fr_info("signal %u: stopping", si.ssi_signo);
			fr_loop_stop(d->loop);
		}
	}
	return 0;
}

static int fr_daemon_open_signals(struct fr_daemon *d)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		return -errno;
	d->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return d->sigfd < 0 ? -errno : 0;
}

/* ---- lifecycle ---- */

/* A live producer already publishes this instance: refuse, naming it. */
static int fr_daemon_check_instance(const struct fr_config *cfg)
{
	char path[512];
	struct fr_region_header h;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/flowring.%s.events", cfg->shm_dir, cfg->instance);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = pread(fd, &h, sizeof(h), 0);
	close(fd);
	if (n != (ssize_t)sizeof(h) || h.magic != FR_REGION_MAGIC || h.state != FR_STATE_READY)
		return 0;
	if (h.producer_pid && (pid_t)h.producer_pid != getpid() && kill((pid_t)h.producer_pid, 0) == 0) {
		fr_err("instance '%s' is already published by a running producer, pid %u (%s)", cfg->instance,
		       h.producer_pid, path);
		return -EADDRINUSE;
	}
	return 0;
}

static int fr_daemon_open_components(struct fr_daemon *d)
{
	struct fr_config *cfg = d->cfg;
	struct fr_state_config sc = {
		.max_closed = cfg->max_closed,
		.max_tracked = cfg->max_tracked,
		.max_clients = cfg->max_clients,
		.client_expiry_ns = cfg->client_expiry_ms * 1000000ull,
	};
	int rc;

	d->state = fr_state_new_sp(&sc);
	if (!d->state) {
		rc = -errno;
		fr_err("state: %s", strerror(-rc));
		return rc;
	}
	d->pm = fr_portmap_new();
	if (!d->pm)
		return -ENOMEM;
	fr_daemon_refresh_portmap(d);
	fr_daemon_load_host_addrs(d, fr_daemon_netns_of("/proc/self"));
	if (!cfg->no_conntrack) {
		struct fr_nat_opts no = {0};
		d->nat = fr_nat_open(&no);
		d->nat_netns = fr_daemon_netns_of("/proc/self");
		d->nat_gone = d->nat ? calloc(FR_DAEMON_NAT_GONE_MAX, sizeof(*d->nat_gone)) : NULL;
		if (d->nat && !d->nat_gone)
			return -ENOMEM;
		if (d->nat)
			fr_info("conntrack: %zu NAT entries", fr_nat_count(d->nat));
		if (!d->nat) {
			/* NAT is an enrichment: without conntrack the daemon still traces, and says so */
			fr_warn("conntrack unavailable (%s): running without NAT translation (--no-conntrack hides this)",
				strerror(errno));
		}
	}
	return 0;
}

static int fr_daemon_open_tracer(struct fr_daemon *d)
{
	struct fr_tracer_opts to;
	int rc;

	fr_tracer_opts_init(&to);
	to.udp = !d->cfg->no_udp;
	to.udp_idle_timeout_ns = d->cfg->udp_idle_timeout_ms * 1000000ull;
	if (d->cfg->ringbuf_size)
		to.ringbuf_bytes = (uint32_t)d->cfg->ringbuf_size;
	to.wake_idle = true;
	to.tcp_map_entries = d->cfg->tcp_map_entries;
	to.udp_map_entries = d->cfg->udp_map_entries;
	to.on_closed = fr_daemon_ingest;
	to.on_port = fr_daemon_on_port;
	to.ctx = d;
	rc = fr_tracer_open(&to, &d->tracer);
	if (rc)
		return rc;
	fr_daemon_register_prog_telemetry(d);
	return 0;
}

static int fr_daemon_bind_loop(struct fr_daemon *d)
{
	int rc = 0;

	rc = rc ? rc : fr_loop_add_fd(d->loop, d->sigfd, POLLIN, fr_daemon_on_signal, d, NULL);
	rc = rc ? rc : fr_loop_add_fd(d->loop, fr_tracer_epoll_fd(d->tracer), POLLIN, fr_daemon_on_drain, d, NULL);
	rc = rc ? rc : fr_loop_add_fd(d->loop, fr_ctl_server_fd(d->ctl), POLLIN, fr_daemon_on_ctl, d, NULL);
	if (d->nat && fr_nat_fd(d->nat) >= 0)
		rc = rc ? rc : fr_loop_add_fd(d->loop, fr_nat_fd(d->nat), POLLIN, fr_daemon_on_nat, d, &d->nat_src);
	rc = rc ? rc : fr_loop_add_timer(d->loop, FR_DRAIN_INTERVAL_NS, fr_daemon_on_drain_timer, d, &d->drain_src);
	rc = rc ? rc : fr_loop_add_timer(d->loop, FR_HEARTBEAT_INTERVAL_NS, fr_daemon_on_heartbeat, d, NULL);
	rc = rc ? rc : fr_loop_add_timer(d->loop, FR_EXPIRY_INTERVAL_NS, fr_daemon_on_expiry, d, NULL);
	rc = rc ? rc : fr_loop_add_timer(d->loop, FR_PORTMAP_INTERVAL_NS, fr_daemon_on_portmap, d, NULL);
	rc = rc ? rc : fr_loop_add_timer(d->loop, FR_REAP_INTERVAL_NS, fr_daemon_on_reap, d, NULL);
	/* disarmed until a client with a publish interval registers (fr_daemon_publish_rearm) */
	rc = rc ? rc : fr_loop_add_timer(d->loop, 0, fr_daemon_on_publish, d, &d->publish_src);
	if (rc)
		fr_err("event loop: %s", strerror(-rc));
	return rc;
}

int fr_daemon_open(struct fr_daemon *d, struct fr_config *cfg)
{
	struct fr_events_params ep = {0};
	struct fr_ctl_server_opts co = {0};
	struct fr_ctl_handler h;
	char err[256] = "";
	int rc;

	memset(d, 0, sizeof(*d));
	d->cfg = cfg;
	d->sigfd = -1;
	d->start_ns = fr_now_ns();
	d->defer_max = FR_DAEMON_DEFER_MAX;
	d->clients = calloc(cfg->max_clients ? cfg->max_clients : 1, sizeof(*d->clients));
	if (!d->clients)
		return -ENOMEM;
	/* a bad filter is a configuration error: report it before anything is created */
	rc = fr_daemon_build_filter(cfg, &d->filter);
	if (rc)
		goto fail;
	rc = fr_daemon_open_signals(d);
	if (rc) {
		fr_err("signals: %s", strerror(-rc));
		goto fail;
	}
	d->loop = fr_loop_new(256);
	if (!d->loop) {
		rc = -errno;
		goto fail;
	}
	/* the control socket's lock is the instance lock: a second daemon stops here, naming the holder */
	co.path = cfg->control_path;
	co.group_set = cfg->group_set;
	co.group = cfg->group;
	fr_daemon_ctl_handler(d, &h);
	d->ctl = fr_ctl_server_open(&co, &h, err, sizeof(err));
	if (!d->ctl) {
		rc = -errno;
		fr_err("control socket: %s", err);
		goto fail;
	}
	rc = fr_daemon_check_instance(cfg);
	if (rc)
		goto fail;
	rc = fr_daemon_open_components(d);
	if (rc)
		goto fail;
	ep.shm_dir = cfg->shm_dir;
	ep.instance = cfg->instance;
	ep.gid = cfg->group_set ? cfg->group : (gid_t)-1;
	rc = fr_events_create(&d->events, &ep);
	if (rc)
		goto fail;
	d->events_open = true;
	/* after the create, so the new events region's generation follows the dead producer's (it was
	 * renamed over it); what is left is that producer's client regions and temporary files */
	if (fr_region_cleanup_stale(cfg->shm_dir, cfg->instance) > 0)
		fr_info("removed regions left behind by a dead producer of instance '%s'", cfg->instance);
	rc = fr_daemon_open_tracer(d);
	if (rc)
		goto fail;
	rc = fr_daemon_bind_loop(d);
	if (rc)
		goto fail;
	/* loading BPF took seconds since the region was published: readers must not see us as stale */
	fr_daemon_on_heartbeat(d, 0);
	fr_info("flowringd: instance '%s', events %s/flowring.%s.events, control %s", cfg->instance, cfg->shm_dir,
		cfg->instance, cfg->control_path);
	return 0;
fail:
	fr_daemon_close(d);
	return rc;
}

int fr_daemon_run(struct fr_daemon *d)
{
	int rc = fr_loop_run(d->loop);

	/* whatever the kernel submitted before the stop still reaches the rings */
	if (d->tracer && d->events_open)
		fr_daemon_drain(d);
	return rc;
}

void fr_daemon_close(struct fr_daemon *d)
{
	/* tracer first: no more callbacks into the pipeline once it is gone */
	fr_tracer_close(d->tracer);
	d->tracer = NULL;
	for (uint32_t i = 0; d->clients && i < d->cfg->max_clients; i++)
		if (d->clients[i].used)
			fr_daemon_retire_client(d, &d->clients[i]);
	if (d->events_open)
		fr_events_retire(&d->events);
	d->events_open = false;
	fr_ctl_server_close(d->ctl);
	d->ctl = NULL;
	fr_loop_free(d->loop);
	d->loop = NULL;
	fr_nat_close(d->nat);
	d->nat = NULL;
	free(d->nat_gone);
	d->nat_gone = NULL;
	fr_portmap_free(d->pm);
	d->pm = NULL;
	fr_filter_free(d->filter);
	d->filter = NULL;
	fr_state_free_sp(d->state);
	d->state = NULL;
	if (d->sigfd >= 0)
		close(d->sigfd);
	d->sigfd = -1;
	free(d->active);
	d->active = NULL;
	free(d->deferred);
	d->deferred = NULL;
	d->n_deferred = d->cap_deferred = 0;
	free(d->clients);
	d->clients = NULL;
}
