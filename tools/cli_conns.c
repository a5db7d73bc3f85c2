/* cli_conns.c - `flowring conns`: this client's view of every connection, ss-like or as JSON lines,
 * once or refreshed like top (--watch).
 *
 * Each round: SNAPSHOT(id) over the control socket makes flowringd publish the client's view into
 * its snapshot region and name the snapshot number; the CLI copies exactly that snapshot out of
 * the region (the seqlock says whether the copy is intact) and prints it. The client registers
 * with publish interval 0 (snapshots on request only): every read consumes the client's deltas and
 * closed buffer, so snapshots flowringd published on its own --publish-interval tick would take
 * data this run never shows. With --publish-interval the client asks flowringd for periodic
 * snapshots instead, and --watch waits for them (fr_snapshot_wait) rather than requesting any. Copying out, not
 * printing from shared memory, keeps a slow terminal from ever showing a torn record. The client
 * is registered if needed and unregistered at exit only if this run created it, unless --keep or
 * --client asks to keep it (then the next run sees deltas since this one).
 */
#include <flowring/flowring.h> /* first: it selects _DEFAULT_SOURCE */

#include "cli.h"

#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "control_client.h"

#define FR_CLI_SNAPSHOT_WAIT_MS 3000 /* from the SNAPSHOT reply to the snapshot being visible */
#define FR_CLI_ROUND_RETRIES 3       /* a snapshot overwritten before we copied it: ask again */

static volatile sig_atomic_t fr_cli_conns_stop;

static uint64_t fr_cli_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void fr_cli_conns_on_signal(int sig)
{
	(void)sig;
	fr_cli_conns_stop = 1;
}

struct fr_cli_conns {
	struct fr_cli_global *g;
	char client[FR_NAME_MAX];
	bool client_given, json, watch, keep, created;
	uint64_t interval_ms;
	uint64_t publish_ms; /* REGISTER's publish interval: 0 (default) = snapshots on request only */
	int fd;
	struct fr_snapshot_reader r;
	bool open;
	struct fr_conn *buf;
	uint64_t cap, count;
	uint64_t snap_seq, read_time_ns, prev_read_time_ns;
};

static void fr_cli_conns_help(void)
{
	printf("Usage: flowring conns [--client ID] [--json] [--watch] [--interval DUR] [--publish-interval DUR]\n"
	       "                      [--keep] [global options]\n"
	       "Print this client's view of every TCP/UDP connection: the active ones plus those closed since\n"
	       "the client's previous read, with the bytes/retransmits since then as (+delta).\n\n"
	       "  -c, --client ID      client id (default: cli-<uid>); kept registered at exit\n"
	       "  -j, --json           one JSON object per connection per line\n"
	       "  -w, --watch          refresh like top until Ctrl-C\n"
	       "  -i, --interval DUR   refresh interval for --watch: 500ms, 2s, or ms (default 1s)\n"
	       "  -p, --publish-interval DUR\n"
	       "                       register the client for periodic snapshots every DUR (10ms to 24h; 0:\n"
	       "                       on request only, the default); --watch then shows each one as flowringd\n"
	       "                       publishes it instead of asking (not with --interval)\n"
	       "  -k, --keep           do not unregister the client at exit\n"
	       "      --instance NAME  producer instance (default: default)\n"
	       "      --shm-dir DIR    shared-memory directory (default: /dev/shm)\n"
	       "      --control PATH   control socket (default: /run/flowring/<instance>.sock)\n"
	       "  -h, --help           this help\n");
}

static int fr_cli_conns_parse(struct fr_cli_conns *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"client", required_argument, NULL, 'c'},
		{"json", no_argument, NULL, 'j'},
		{"watch", no_argument, NULL, 'w'},
		{"interval", required_argument, NULL, 'i'},
		{"publish-interval", required_argument, NULL, 'p'},
		{"keep", no_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},
		FR_CLI_GLOBAL_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	bool interval_given = false, publish_given = false;
	int opt;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:jwi:p:kh", longopts, NULL)) != -1) {
		int gr = fr_cli_global_opt(c->g, opt, optarg);
		if (gr == FR_CLI_USAGE)
			return gr;
		if (gr == 1)
			continue;
		switch (opt) {
		case 'c':
			if (fr_name_valid(optarg) != 0)
				return fr_cli_usage_error("conns", "invalid client id '%s': 1-%u printable characters, "
								   "no '/', no space, not starting with '.'", optarg,
							  FR_NAME_MAX - 1);
			snprintf(c->client, sizeof(c->client), "%s", optarg);
			c->client_given = true;
			break;
		case 'j':
			c->json = true;
			break;
		case 'w':
			c->watch = true;
			break;
		case 'i':
			if (fr_config_parse_duration_ms(optarg, 1, &c->interval_ms) != 0 || c->interval_ms < 10 ||
			    c->interval_ms > 24u * 3600u * 1000u)
				return fr_cli_usage_error("conns", "invalid --interval '%s': 10ms to 24h (e.g. 500ms, 2s)",
							  optarg);
			interval_given = true;
			break;
		case 'p':
			if (fr_config_parse_duration_ms(optarg, 1, &c->publish_ms) != 0 ||
			    fr_ctl_check_publish_interval(c->publish_ms) != 0)
				return fr_cli_usage_error("conns", "invalid --publish-interval '%s': 0 (on request only) or "
								   "10ms to 24h (e.g. 500ms, 2s)", optarg);
			publish_given = true;
			break;
		case 'k':
			c->keep = true;
			break;
		case 'h':
			fr_cli_conns_help();
			return -1;
		default:
			return fr_cli_bad_option("conns", opt, argv);
		}
	}
	if (optind < argc)
		return fr_cli_usage_error("conns", "unexpected argument '%s'", argv[optind]);
	if (interval_given && publish_given && c->publish_ms)
		return fr_cli_usage_error("conns", "--interval and --publish-interval exclude each other: with "
						   "--publish-interval flowringd sets the pace");
	if (interval_given && !c->watch)
		return fr_cli_usage_error("conns", "--interval needs --watch");
	if (c->publish_ms)
		c->interval_ms = c->publish_ms; /* what the --watch screen says */
	return FR_CLI_OK;
}

/* GCC's TSan does not model fences and warns (-Wtsan); the fence is what the seqlock needs (as in
 * the SDK), and every shared word here is read atomically, so TSan has nothing to miss. */
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wtsan"
#endif
static inline void fr_cli_fence_acq(void)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
}
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/* Records are copied as 64-bit words and then read as struct fr_conn fields. */
typedef uint64_t __attribute__((may_alias)) fr_cli_u64a;

/* Copy snapshot number n out of the region (the SDK's view API only offers the newest one, and a
 * periodic publish may already have committed n+1). Same seqlock protocol as fr_snapshot_copy():
 * FR_OK; FR_AGAIN (not committed yet); FR_NEW_GENERATION; FR_CORRUPT; -ESTALE (already
 * overwritten); -ENOMEM. */
static int fr_cli_snapshot_read_n(struct fr_cli_conns *c, uint64_t n)
{
	const struct fr_snapshot_reader *r = &c->r;
	const struct fr_region_header *h = r->region.hdr;

	for (int i = 0; i < FLOWRING_MAX_RETRIES; i++) {
		/* acquire: pairs with the producer's release store of RETIRED */
		if (__atomic_load_n(&h->state, __ATOMIC_ACQUIRE) == FR_STATE_RETIRED)
			return FR_NEW_GENERATION;
		/* acquire: pairs with the commit's release store of head */
		if (__atomic_load_n(&h->head, __ATOMIC_ACQUIRE) < n)
			return FR_AGAIN;
		const struct fr_snapshot_slot *s =
			(const struct fr_snapshot_slot *)(const void *)(r->slots + (n % r->nslots) * r->slot_bytes);
		/* acquire: pairs with the commit's release store of the even sequence */
		if (__atomic_load_n(&s->seq, __ATOMIC_ACQUIRE) != 2u * n)
			return -ESTALE;
		uint64_t count = __atomic_load_n(&s->count, __ATOMIC_RELAXED);
		uint64_t snap = __atomic_load_n(&s->snap_seq, __ATOMIC_RELAXED);
		uint64_t rt = __atomic_load_n(&s->read_time_ns, __ATOMIC_RELAXED);
		if (count > r->capacity || snap != n) {
			fr_cli_fence_acq(); /* pairs with the writer's release fence after the odd store */
			if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) != 2u * n)
				return -ESTALE;
			return FR_CORRUPT;
		}
		if (count > c->cap) {
			struct fr_conn *nb = realloc(c->buf, (size_t)count * sizeof(*nb));
			if (!nb)
				return -ENOMEM;
			c->buf = nb;
			c->cap = count;
		}
		const fr_cli_u64a *src =
			(const fr_cli_u64a *)(const void *)((const unsigned char *)s + FR_SNAPSHOT_SLOT_HEADER_SIZE);
		fr_cli_u64a *dst = (fr_cli_u64a *)(void *)c->buf;
		/* relaxed word loads: the slot may be rewritten under us; the re-check below decides */
		for (uint64_t k = 0; k < count * (FR_CONN_SIZE / 8u); k++)
			dst[k] = __atomic_load_n(&src[k], __ATOMIC_RELAXED);
		fr_cli_fence_acq(); /* pairs with the writer's release fence after the odd store */
		if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) != 2u * n)
			return -ESTALE;
		c->count = count;
		c->snap_seq = n;
		c->prev_read_time_ns = c->read_time_ns;
		c->read_time_ns = rt;
		return FR_OK;
	}
	return -ESTALE;
}

/* Map the client's region, or the file now under its name when ours is retired or older than the
 * generation the daemon named (a re-registered client starts again at generation 1, so "retired"
 * and "older" are separate tests). FR_OK; FR_NOT_READY when no such file is there (the client
 * was removed since the reply, or --shm-dir/--instance differ from the daemon's); FR_* / -errno. */
static int fr_cli_conns_map(struct fr_cli_conns *c, uint64_t generation)
{
	int st;

	/* acquire: pairs with the producer's release store of RETIRED */
	if (c->open && c->r.region.generation >= generation &&
	    __atomic_load_n(&c->r.region.hdr->state, __ATOMIC_ACQUIRE) != FR_STATE_RETIRED)
		return FR_OK;
	if (c->open) {
		st = fr_snapshot_reopen(&c->r);
	} else {
		st = fr_snapshot_open(&c->r, c->g->shm_dir, c->g->instance, c->client);
		c->open = st == FR_OK;
	}
	if (st == FR_OK && c->r.region.generation < generation)
		st = FR_NOT_READY;
	return st;
}

static void fr_cli_conns_map_failed(const struct fr_cli_conns *c, int st)
{
	char path[FLOWRING_PATH_MAX];

	fr_region_path(path, sizeof(path), c->g->shm_dir, c->g->instance, c->client);
	fprintf(stderr, "flowring conns: cannot map the snapshot region %s: %s\n", path, fr_status_str(st));
	if (st == FR_NOT_READY)
		fprintf(stderr, "flowring conns: flowringd answered on its socket but the region is not there: "
				"do --shm-dir and --instance match the daemon's?\n");
}

/* REGISTER with this run's publish interval (0 unless --publish-interval). Returns 0, or -errno after
 * printing why; *generation (may be NULL) gets the client's region generation. */
static int fr_cli_conns_register(struct fr_cli_conns *c, uint64_t *generation)
{
	struct fr_ctl_msg reply;
	int rc = fr_ctl_client_register(c->fd, c->client, (int64_t)c->publish_ms, &reply, FR_CLI_CTL_TIMEOUT_MS);

	if (rc == 0) {
		if (reply.u.reg.created)
			c->created = true;
		if (generation)
			*generation = reply.u.reg.generation;
		return 0;
	}
	if (rc == -EREMOTEIO && reply.u.err.code == FR_CTL_E_BAD_PAYLOAD)
		fprintf(stderr, "flowring conns: flowringd refused to register '%s' with a publish interval: it is "
				"older than this CLI (upgrade flowringd)\n", c->client);
	else
		fr_cli_ctl_report(c->g, rc, &reply, FR_CTL_REGISTER, c->client);
	return rc;
}

/* One round: request a snapshot and copy it out. FR_CLI_OK or FR_CLI_FAIL (printed). */
static int fr_cli_conns_round(struct fr_cli_conns *c)
{
	for (int attempt = 0; attempt < FR_CLI_ROUND_RETRIES; attempt++) {
		struct fr_ctl_msg reply;
		int code, st;
		int rc = fr_cli_ctl_request(c->g, c->fd, FR_CTL_SNAPSHOT, c->client, &reply, &code, true);
		if (rc == -EREMOTEIO && code == FR_CTL_E_NO_CLIENT) {
			/* expired (not read for too long) or unregistered by another run: register again */
			if (fr_cli_conns_register(c, NULL) != 0)
				return FR_CLI_FAIL;
			continue;
		}
		if (rc != 0)
			return FR_CLI_FAIL;
		uint64_t n = reply.u.snap.seq;
		uint64_t start = fr_cli_now_ns();
		st = fr_cli_conns_map(c, reply.u.snap.generation);
		if (st == FR_NOT_READY && attempt + 1 < FR_CLI_ROUND_RETRIES)
			continue;
		if (st != FR_OK) {
			fr_cli_conns_map_failed(c, st);
			return FR_CLI_FAIL;
		}
		for (;;) {
			st = fr_cli_snapshot_read_n(c, n);
			if (st == FR_OK)
				return FR_CLI_OK;
			if (st == -ESTALE)
				break; /* published again before we copied it: ask for a fresh one */
			if (fr_cli_now_ns() - start > FR_CLI_SNAPSHOT_WAIT_MS * 1000000ull) {
				fprintf(stderr, "flowring conns: snapshot %" PRIu64 " did not appear in %s within %d ms\n",
					n, c->r.region.path, FR_CLI_SNAPSHOT_WAIT_MS);
				return FR_CLI_FAIL;
			}
			if (st == FR_AGAIN) {
				st = fr_snapshot_wait(&c->r, n - 1u, 100);
				if (st == FR_OK || st == FR_TIMED_OUT || st == FR_PRODUCER_STALE)
					continue;
			}
			if (st == FR_NEW_GENERATION) {
				/* regrown: the newer file already holds snapshot n (the daemon renames it over
				 * the name before retiring ours); no file: the client was removed meanwhile,
				 * so ask again (and register again) */
				st = fr_snapshot_reopen(&c->r);
				if (st == FR_OK)
					continue;
				fr_snapshot_close(&c->r);
				c->open = false;
				break;
			}
			if (st == FR_PRODUCER_DEAD)
				fprintf(stderr, "flowring conns: flowringd (pid %u) died\n", c->r.region.pid);
			else
				fprintf(stderr, "flowring conns: reading %s failed: %s\n", c->r.region.path,
					fr_status_str(st));
			return FR_CLI_FAIL;
		}
	}
	fprintf(stderr, "flowring conns: no snapshot could be read in %d attempts (each was overwritten or "
			"removed before it was copied)\n", FR_CLI_ROUND_RETRIES);
	return FR_CLI_FAIL;
}

#define FR_CLI_STOPPED 3 /* a periodic round saw the stop signal: nothing new to print */

/* Register again after the client was removed behind our back (expired, or unregistered by another
 * run) and map its new region; the new region numbers snapshots from 1 again. */
static int fr_cli_conns_periodic_rejoin(struct fr_cli_conns *c)
{
	uint64_t gen = 0;
	int st;

	if (fr_cli_conns_register(c, &gen) != 0)
		return FR_CLI_FAIL;
	st = fr_cli_conns_map(c, gen);
	if (st != FR_OK) {
		fr_cli_conns_map_failed(c, st);
		return FR_CLI_FAIL;
	}
	c->snap_seq = 0;
	return FR_CLI_OK;
}

/* --watch --publish-interval: wait for the next snapshot flowringd publishes on its own (newer than
 * c->snap_seq) and copy the newest one out. FR_CLI_OK, FR_CLI_STOPPED, or FR_CLI_FAIL (printed). */
static int fr_cli_conns_periodic_round(struct fr_cli_conns *c)
{
	/* a snapshot is due every publish_ms; allow the daemon's tick granularity and a busy machine */
	uint64_t limit_ms = 2u * c->publish_ms + FR_CLI_SNAPSHOT_WAIT_MS;
	uint64_t start = fr_cli_now_ns();

	while (!fr_cli_conns_stop) {
		int st = fr_snapshot_wait(&c->r, c->snap_seq, 100);
		if (st == FR_OK) {
			/* acquire: pairs with the commit's release store of head */
			uint64_t head = __atomic_load_n(&c->r.region.hdr->head, __ATOMIC_ACQUIRE);
			st = fr_cli_snapshot_read_n(c, head);
			if (st == FR_OK)
				return FR_CLI_OK;
			if (st == -ESTALE || st == FR_AGAIN)
				continue; /* lapped while copying: the next head is newer still */
		}
		if (st == FR_NEW_GENERATION) {
			/* regrown: the newer file under the name continues the numbering; no newer file:
			 * the client was removed, so register again */
			st = fr_snapshot_reopen(&c->r);
			if (st == FR_OK)
				continue;
			if (fr_cli_conns_periodic_rejoin(c) != FR_CLI_OK)
				return FR_CLI_FAIL;
			continue;
		}
		if (st == FR_TIMED_OUT || st == FR_PRODUCER_STALE) {
			if (fr_cli_now_ns() - start > limit_ms * 1000000ull) {
				fprintf(stderr, "flowring conns: no snapshot published for client '%s' in %" PRIu64
						" ms (asked for one every %" PRIu64 " ms)\n", c->client, limit_ms,
					c->publish_ms);
				return FR_CLI_FAIL;
			}
			continue;
		}
		if (st == FR_PRODUCER_DEAD)
			fprintf(stderr, "flowring conns: flowringd (pid %u) died\n", c->r.region.pid);
		else
			fprintf(stderr, "flowring conns: reading %s failed: %s\n", c->r.region.path, fr_status_str(st));
		return FR_CLI_FAIL;
	}
	return FR_CLI_STOPPED;
}

/* Before the first periodic round: map the region and start after whatever it already holds, so the
 * first screen is a snapshot published after this run began. */
static int fr_cli_conns_periodic_start(struct fr_cli_conns *c, uint64_t generation)
{
	int st = fr_cli_conns_map(c, generation);

	if (st != FR_OK) {
		fr_cli_conns_map_failed(c, st);
		return FR_CLI_FAIL;
	}
	/* acquire: pairs with the commit's release store of head */
	c->snap_seq = __atomic_load_n(&c->r.region.hdr->head, __ATOMIC_ACQUIRE);
	return FR_CLI_OK;
}

static void fr_cli_conns_table(const struct fr_cli_conns *c, uint64_t limit)
{
	int widths[FR_COL__COUNT];
	struct fr_cli_row row;
	uint64_t n = c->count < limit ? c->count : limit;

	fr_cli_widths_init(widths);
	for (uint64_t i = 0; i < n; i++) {
		fr_cli_row_format(&c->buf[i], true, &row);
		fr_cli_row_widen(&row, widths);
	}
	fr_cli_print_titles(stdout, widths);
	for (uint64_t i = 0; i < n; i++) {
		fr_cli_row_format(&c->buf[i], true, &row);
		fr_cli_print_row(stdout, &row, widths);
	}
}

static int fr_cli_conns_by_activity(const void *a, const void *b)
{
	const struct fr_conn *x = a, *y = b;
	uint64_t dx = x->last_sent_bytes + x->last_recv_bytes, dy = y->last_sent_bytes + y->last_recv_bytes;
	if (dx != dy)
		return dx > dy ? -1 : 1;
	uint64_t tx = x->monotonic_sent_bytes + x->monotonic_recv_bytes;
	uint64_t ty = y->monotonic_sent_bytes + y->monotonic_recv_bytes;
	return tx == ty ? 0 : tx > ty ? -1 : 1;
}

/* The top-like screen: header with time, counts and totals, then the busiest connections. */
static void fr_cli_conns_screen(struct fr_cli_conns *c)
{
	uint64_t tcp = 0, closed = 0, sent = 0, recv = 0, retr = 0, limit = UINT64_MAX;
	char ts[64], s[32], r[32], rate[96] = "";
	struct winsize ws;
	bool tty = isatty(STDOUT_FILENO) == 1;
	time_t now = time(NULL);
	struct tm tm;

	for (uint64_t i = 0; i < c->count; i++) {
		const struct fr_conn *x = &c->buf[i];
		tcp += x->type != FR_CONN_UDP;
		closed += (x->flags & FR_CONN_F_CLOSED) || x->end_ns;
		sent += x->last_sent_bytes;
		recv += x->last_recv_bytes;
		retr += x->last_retransmits;
	}
	qsort(c->buf, (size_t)c->count, sizeof(*c->buf), fr_cli_conns_by_activity);
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S UTC", &tm);
	fr_cli_fmt_bytes(sent, s, sizeof(s));
	fr_cli_fmt_bytes(recv, r, sizeof(r));
	if (c->prev_read_time_ns && c->read_time_ns > c->prev_read_time_ns) {
		double secs = (double)(c->read_time_ns - c->prev_read_time_ns) / 1e9;
		char sr[32], rr[32];
		fr_cli_fmt_bytes((uint64_t)((double)sent / secs), sr, sizeof(sr));
		fr_cli_fmt_bytes((uint64_t)((double)recv / secs), rr, sizeof(rr));
		snprintf(rate, sizeof(rate), " (%s/s out, %s/s in)", sr, rr);
	}
	if (tty) {
		fputs("\033[H\033[2J", stdout); /* home + clear: redraw in place */
		if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 5)
			limit = ws.ws_row - 5u;
	}
	printf("flowring conns - %s - instance %s, client %s, snapshot %" PRIu64 ", every %" PRIu64 " ms\n", ts,
	       c->g->instance, c->client, c->snap_seq, c->interval_ms);
	printf("%" PRIu64 " connections: %" PRIu64 " tcp, %" PRIu64 " udp; %" PRIu64 " active, %" PRIu64
	       " closed | since last: sent %s, recv %s%s, retrans %" PRIu64 "\n\n",
	       c->count, tcp, c->count - tcp, c->count - closed, closed, s, r, rate, retr);
	fr_cli_conns_table(c, limit);
	if (c->count > limit)
		printf("... %" PRIu64 " more\n", c->count - limit);
	if (!tty)
		putchar('\n');
}

/* FR_CLI_OK; FR_CLI_FAIL when stdout fails; -EPIPE when its reader went away (| head): then we
 * stop quietly, still unregistering (SIGPIPE is ignored for that). */
static int fr_cli_conns_print(struct fr_cli_conns *c)
{
	if (c->json) {
		for (uint64_t i = 0; i < c->count; i++)
			fr_cli_print_json_conn(stdout, &c->buf[i]);
	} else if (c->watch) {
		fr_cli_conns_screen(c);
	} else {
		fr_cli_conns_table(c, UINT64_MAX);
	}
	if (fflush(stdout) == 0 && !ferror(stdout))
		return FR_CLI_OK;
	if (errno == EPIPE)
		return -EPIPE;
	fprintf(stderr, "flowring conns: writing the output failed: %s\n", strerror(errno));
	return FR_CLI_FAIL;
}

/* Sleep ms, returning early when a signal asks us to stop. */
static void fr_cli_conns_sleep(uint64_t ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000u), .tv_nsec = (long)(ms % 1000u) * 1000000L};
	while (!fr_cli_conns_stop && nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

int fr_cli_conns_main(struct fr_cli_global *g, int argc, char **argv)
{
	struct fr_cli_conns c = {.g = g, .fd = -1, .interval_ms = 1000};
	struct sigaction sa;
	uint64_t generation = 0;
	bool periodic;
	int rc;

	rc = fr_cli_conns_parse(&c, argc, argv);
	if (rc != FR_CLI_OK)
		return rc < 0 ? FR_CLI_OK : rc;
	if (!c.client_given)
		snprintf(c.client, sizeof(c.client), "cli-%u", (unsigned)getuid());

	c.fd = fr_cli_ctl_connect(g);
	if (c.fd < 0)
		return FR_CLI_FAIL;
	rc = FR_CLI_FAIL;
	if (fr_cli_conns_register(&c, &generation) != 0)
		goto cleanup;
	periodic = c.watch && c.publish_ms;
	if (periodic && fr_cli_conns_periodic_start(&c, generation) != FR_CLI_OK)
		goto cleanup;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fr_cli_conns_on_signal; /* no SA_RESTART: the interval sleep returns early */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* a closed pipe must not skip the unregister below */

	do {
		rc = periodic ? fr_cli_conns_periodic_round(&c) : fr_cli_conns_round(&c);
		if (rc == FR_CLI_STOPPED) {
			rc = FR_CLI_OK;
			break;
		}
		if (rc == FR_CLI_OK)
			rc = fr_cli_conns_print(&c);
		if (rc == -EPIPE) {
			rc = FR_CLI_OK;
			break;
		}
		if (rc != FR_CLI_OK || !c.watch)
			break;
		if (!periodic) /* periodic: flowringd sets the pace, the next round waits for it */
			fr_cli_conns_sleep(c.interval_ms);
	} while (!fr_cli_conns_stop);

cleanup:
	if (c.created && !c.keep && !c.client_given) {
		struct fr_ctl_msg reply;
		/* quiet about NO_CLIENT: it may have expired or been removed meanwhile, which is fine */
		fr_cli_ctl_request(g, c.fd, FR_CTL_UNREGISTER, c.client, &reply, NULL, true);
	}
	if (c.open)
		fr_snapshot_close(&c.r);
	free(c.buf);
	close(c.fd);
	return rc;
}
