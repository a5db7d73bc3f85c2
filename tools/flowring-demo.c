/* flowring-demo - publish synthetic connections into flowring rings and watch them live.
 *
 *   flowring-demo [--produce | --watch] [--instance NAME] [--shm-dir DIR] [--client ID]
 *                 [--rate N] [--frames N] [--interval-ms N]
 *
 * --produce: a producer of synthetic fr_conn records (N closed connections per second into the
 *            events ring, a snapshot of the active ones for client ID every interval).
 * --watch:   a top-like live view of the events ring, the client's snapshot and the telemetry.
 * neither:   both, the producer in a child process. SIGINT/SIGTERM stop cleanly: the producer
 *            retires its regions (readers see a new generation / no region), the watcher unmaps.
 * Stand-in for flowringd until the daemon lands: it exercises exactly the daemon's ring API.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <flowring/flowring.h>

#include "events_ring.h"
#include "log.h"
#include "snapshot_ring.h"

#define DEMO_ACTIVE 256

struct demo_opts {
	const char *instance, *shm_dir, *client;
	unsigned rate, frames, interval_ms;
};

static volatile sig_atomic_t demo_stop;

static void demo_on_signal(int sig)
{
	(void)sig;
	demo_stop = 1;
}

static uint64_t demo_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void demo_new_conn(struct fr_conn *c, uint64_t *rng, uint64_t now)
{
	static const uint16_t ports[] = {443, 80, 53, 5432, 6379, 8080, 22, 9092};
	memset(c, 0, sizeof(*c));
	uint64_t r = demo_rand(rng);
	c->type = (r & 7) == 0 ? FR_CONN_UDP : FR_CONN_TCP;
	c->family = FR_CONN_V4;
	c->saddr[0] = 10, c->saddr[1] = 0, c->saddr[2] = 0, c->saddr[3] = (uint8_t)(1 + (r >> 8) % 4);
	c->daddr[0] = 10, c->daddr[1] = 1, c->daddr[2] = (uint8_t)(r >> 16), c->daddr[3] = (uint8_t)(r >> 24);
	c->sport = (uint16_t)(32768 + (r >> 32) % 28000);
	c->dport = c->type == FR_CONN_UDP ? 53 : ports[(r >> 40) % 8];
	c->pid = (uint32_t)(1000 + (r >> 48) % 40);
	c->direction = FR_DIR_OUTGOING;
	c->start_ns = c->last_update_ns = now;
	c->cookie = demo_rand(rng);
	c->rtt_us = (uint32_t)(100 + (r >> 20) % 5000);
}

static void demo_grow_conn(struct fr_conn *c, uint64_t *rng, uint64_t now)
{
	uint64_t r = demo_rand(rng);
	uint64_t sent = r % 20000, recv = (r >> 20) % 200000;
	c->monotonic_sent_bytes += sent;
	c->monotonic_recv_bytes += recv;
	c->monotonic_sent_packets += 1 + sent / 1400;
	c->monotonic_recv_packets += 1 + recv / 1400;
	c->monotonic_retransmits += (r >> 50) % 97 == 0;
	c->last_update_ns = now;
}

static int demo_produce(const struct demo_opts *o)
{
	struct fr_events_writer ew;
	struct fr_snapshot_writer sw;
	struct fr_conn active[DEMO_ACTIVE], prev[DEMO_ACTIVE];
	uint64_t rng = (uint64_t)getpid() * 7919u, now = fr_now_ns(), next_snap = now, closed = 0;
	int rc;

	fr_region_cleanup_stale(o->shm_dir, o->instance);
	struct fr_events_params ep = {.shm_dir = o->shm_dir, .instance = o->instance, .capacity = 65536,
				      .heartbeat_interval_ms = 100, .gid = (gid_t)-1};
	rc = fr_events_create(&ew, &ep);
	if (rc != 0)
		return 1;
	struct fr_snapshot_params sp = {.shm_dir = o->shm_dir, .instance = o->instance, .client_id = o->client,
					.capacity = DEMO_ACTIVE, .heartbeat_interval_ms = 100, .gid = (gid_t)-1};
	rc = fr_snapshot_create(&sw, &sp);
	if (rc != 0) {
		fr_events_retire(&ew);
		return 1;
	}
	for (int i = 0; i < DEMO_ACTIVE; i++) {
		demo_new_conn(&active[i], &rng, now);
		prev[i] = active[i];
	}
	fr_info("demo producer %d: %u closed connections/s into %s, snapshots for client '%s'", (int)getpid(), o->rate,
		ew.region.path, o->client);
	while (!demo_stop) {
		/* a 10 ms tick: close rate/100 connections (each replaced by a new one), grow the rest */
		now = fr_now_ns();
		for (unsigned k = 0; k < (o->rate + 99) / 100; k++) {
			int i = (int)(demo_rand(&rng) % DEMO_ACTIVE);
			demo_grow_conn(&active[i], &rng, now);
			active[i].end_ns = now;
			active[i].flags |= FR_CONN_F_CLOSED;
			fr_events_publish_sp(&ew, &active[i]);
			closed++;
			demo_new_conn(&active[i], &rng, now);
			prev[i] = active[i];
		}
		for (int i = 0; i < DEMO_ACTIVE; i++)
			if (demo_rand(&rng) % 4 == 0)
				demo_grow_conn(&active[i], &rng, now);
		fr_events_flush_sp(&ew);
		fr_telemetry_set(&ew.telemetry, FR_TM_CONNS_CLOSED, closed);
		fr_telemetry_set(&ew.telemetry, FR_TM_CONNS_BPF_MAP_SIZE, DEMO_ACTIVE);
		if (now >= next_snap) {
			/* the client's view: every active connection with last_* since the previous snapshot */
			rc = fr_snapshot_begin_sp(&sw, now, DEMO_ACTIVE);
			for (int i = 0; rc == 0 && i < DEMO_ACTIVE; i++) {
				struct fr_conn c = active[i];
				c.last_sent_bytes = c.monotonic_sent_bytes - prev[i].monotonic_sent_bytes;
				c.last_recv_bytes = c.monotonic_recv_bytes - prev[i].monotonic_recv_bytes;
				c.last_sent_packets = c.monotonic_sent_packets - prev[i].monotonic_sent_packets;
				c.last_recv_packets = c.monotonic_recv_packets - prev[i].monotonic_recv_packets;
				c.last_retransmits = c.monotonic_retransmits - prev[i].monotonic_retransmits;
				prev[i] = active[i];
				rc = fr_snapshot_append_sp(&sw, &c);
			}
			if (rc == 0 && fr_snapshot_commit_sp(&sw) == 0) {
				fr_telemetry_add(&ew.telemetry, FR_TM_SNAPSHOTS_PUBLISHED, 1);
				fr_telemetry_add(&ew.telemetry, FR_TM_SNAPSHOT_RECORDS, DEMO_ACTIVE);
			} else {
				fr_snapshot_abort_sp(&sw);
				fr_telemetry_add(&ew.telemetry, FR_TM_SNAPSHOT_FAILED, 1);
			}
			next_snap = now + (uint64_t)o->interval_ms * 1000000u;
		}
		fr_events_heartbeat_sp(&ew, now);
		fr_snapshot_heartbeat_sp(&sw, now);
		usleep(10000);
	}
	fr_info("demo producer: stopping, %llu records published", (unsigned long long)closed);
	fr_snapshot_retire(&sw);
	fr_events_retire(&ew);
	return 0;
}

static void demo_addr(char *buf, size_t n, const uint8_t *a, uint8_t family, uint16_t port)
{
	char ip[INET6_ADDRSTRLEN];
	inet_ntop(family == FR_CONN_V6 ? AF_INET6 : AF_INET, a, ip, sizeof(ip));
	snprintf(buf, n, "%s:%u", ip, port);
}

static int demo_cmp_last_bytes(const void *a, const void *b)
{
	const struct fr_conn *x = a, *y = b;
	uint64_t bx = x->last_sent_bytes + x->last_recv_bytes, by = y->last_sent_bytes + y->last_recv_bytes;
	return bx < by ? 1 : bx > by ? -1 : 0;
}

/* One screen: events rate, loss, telemetry, and the top connections of the newest snapshot. */
static void demo_frame(struct fr_events_reader *er, struct fr_snapshot_reader *sr, int snap_ok,
		       uint64_t events, double secs, const struct fr_conn *last)
{
	static struct fr_conn snap[4096];
	struct fr_snapshot_view meta;
	char name[FR_TELEMETRY_NAME_LEN], s[64], d[64];
	uint64_t v;
	int tty = isatty(STDOUT_FILENO);

	if (tty)
		fputs("\033[H\033[2J", stdout);
	printf("flowring-demo watch  instance %s  producer pid %u  events gen %llu\n", er->region.hdr->instance,
	       er->region.pid, (unsigned long long)er->region.generation);
	printf("events: %llu received (%.0f/s), %llu lost, ring position %llu\n",
	       (unsigned long long)er->received, secs > 0 ? (double)events / secs : 0.0,
	       (unsigned long long)er->total_lost, (unsigned long long)fr_events_position(er));
	if (last) {
		demo_addr(s, sizeof(s), last->saddr, last->family, last->sport);
		demo_addr(d, sizeof(d), last->daddr, last->family, last->dport);
		printf("last closed: pid %u %s -> %s sent %llu recv %llu\n", last->pid, s, d,
		       (unsigned long long)last->monotonic_sent_bytes, (unsigned long long)last->monotonic_recv_bytes);
	}
	printf("telemetry:");
	for (uint32_t i = 0, shown = 0; i < fr_events_telemetry_count(er); i++) {
		if (fr_events_telemetry(er, i, name, &v) == FR_OK && v != 0)
			printf("%s %s=%llu", shown++ % 3 ? "" : "\n ", name, (unsigned long long)v);
	}
	printf("\n\n");
	if (!snap_ok || fr_snapshot_copy(sr, snap, 4096, &meta) != FR_OK) {
		printf("(no snapshot for this client yet)\n");
		fflush(stdout);
		return;
	}
	qsort(snap, meta.count, sizeof(snap[0]), demo_cmp_last_bytes);
	printf("snapshot %llu: %llu active connections, top by bytes since the previous snapshot\n",
	       (unsigned long long)meta.snap_seq, (unsigned long long)meta.count);
	printf("%7s %-4s %-21s %-21s %10s %10s %8s\n", "PID", "PROT", "SOURCE", "DEST", "SENT", "RECV", "RTT_US");
	for (uint64_t i = 0; i < meta.count && i < 15; i++) {
		const struct fr_conn *c = &snap[i];
		demo_addr(s, sizeof(s), c->saddr, c->family, c->sport);
		demo_addr(d, sizeof(d), c->daddr, c->family, c->dport);
		printf("%7u %-4s %-21s %-21s %10llu %10llu %8u\n", c->pid, c->type == FR_CONN_UDP ? "udp" : "tcp", s,
		       d, (unsigned long long)c->last_sent_bytes, (unsigned long long)c->last_recv_bytes, c->rtt_us);
	}
	fflush(stdout);
}

static int demo_watch(const struct demo_opts *o)
{
	struct fr_events_reader er;
	struct fr_snapshot_reader sr;
	struct fr_conn last;
	int st, snap_ok = 0, have_last = 0;
	unsigned frames = 0;

	while ((st = fr_events_open(&er, o->shm_dir, o->instance, FR_FROM_LATEST)) == FR_NOT_READY && !demo_stop)
		fr_sleep_ms(50);
	if (st != FR_OK) {
		if (!demo_stop)
			fr_err("watch: events ring of '%s': %s", o->instance, fr_status_str(st));
		return demo_stop ? 0 : 1;
	}
	while (!demo_stop && (o->frames == 0 || frames < o->frames)) {
		uint64_t t0 = fr_now_ns(), events = 0;
		if (!snap_ok)
			snap_ok = fr_snapshot_open(&sr, o->shm_dir, o->instance, o->client) == FR_OK;
		/* drain the events ring for one second, sleeping in the SDK's futex wait in between */
		while (!demo_stop && fr_now_ns() - t0 < 1000000000ull) {
			st = fr_events_read(&er, &last);
			if (st == FR_OK) {
				events++;
				have_last = 1;
			} else if (st == FR_AGAIN || st == FR_PRODUCER_STALE) {
				fr_events_wait(&er, 100);
			} else if (st == FR_NEW_GENERATION || st == FR_PRODUCER_DEAD) {
				if (fr_events_reopen(&er) != FR_OK)
					fr_sleep_ms(100);
			} else if (st != FR_LAPPED) {
				fr_err("watch: %s", fr_status_str(st));
				break;
			}
		}
		if (demo_stop)
			break; /* Ctrl-C reaches the producer too: it is retiring, no frame to show */
		if (snap_ok && fr_snapshot_latest(&sr, &(struct fr_snapshot_view){0}) == FR_NEW_GENERATION &&
		    fr_snapshot_reopen(&sr) != FR_OK) {
			fr_snapshot_close(&sr);
			snap_ok = 0;
		}
		demo_frame(&er, &sr, snap_ok, events, (double)(fr_now_ns() - t0) / 1e9, have_last ? &last : NULL);
		frames++;
	}
	if (snap_ok)
		fr_snapshot_close(&sr);
	fr_events_close(&er);
	return 0;
}

int main(int argc, char **argv)
{
	struct demo_opts o = {.instance = "demo", .shm_dir = NULL, .client = "demo", .rate = 2000, .interval_ms = 1000};
	int mode = 0; /* 0 both, 1 produce, 2 watch */
	static const struct option lo[] = {
		{"produce", no_argument, NULL, 'p'},        {"watch", no_argument, NULL, 'w'},
		{"instance", required_argument, NULL, 'i'}, {"shm-dir", required_argument, NULL, 'd'},
		{"client", required_argument, NULL, 'c'},   {"rate", required_argument, NULL, 'r'},
		{"frames", required_argument, NULL, 'f'},   {"interval-ms", required_argument, NULL, 'I'},
		{"help", no_argument, NULL, 'h'},           {0, 0, 0, 0},
	};
	struct sigaction sa = {.sa_handler = demo_on_signal};
	int c, rc;

	while ((c = getopt_long(argc, argv, "pwi:d:c:r:f:I:h", lo, NULL)) != -1) {
		switch (c) {
		case 'p': mode = 1; break;
		case 'w': mode = 2; break;
		case 'i': o.instance = optarg; break;
		case 'd': o.shm_dir = optarg; break;
		case 'c': o.client = optarg; break;
		case 'r': o.rate = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'f': o.frames = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'I': o.interval_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		default:
			fprintf(stderr, "usage: %s [--produce|--watch] [--instance NAME] [--shm-dir DIR] [--client ID] "
					"[--rate N] [--frames N] [--interval-ms N]\n", argv[0]);
			return c == 'h' ? 0 : 2;
		}
	}
	if (fr_name_valid(o.instance) != 0 || fr_name_valid(o.client) != 0 || o.interval_ms == 0) {
		fr_err("demo: invalid instance '%s' or client '%s'", o.instance, o.client);
		return 2;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (mode == 1)
		return demo_produce(&o);
	if (mode == 2)
		return demo_watch(&o);
	pid_t child = fork();
	if (child < 0) {
		fr_err("demo: fork: %s", strerror(errno));
		return 1;
	}
	if (child == 0)
		_exit(demo_produce(&o));
	rc = demo_watch(&o);
	kill(child, SIGTERM);
	int status = 0;
	while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
	}
	return rc != 0 ? rc : (WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}
