/* bench_churn.c - loopback TCP connection churn through flowringd and through Debian's tcplife (libbpf-tools), one
 * tool after the other in the same run: socket ends generated vs captured, loss each tool counts, and CPU seconds
 * per 10k connections (the tool's process CPU from /proc/<pid>/stat plus its BPF programs' run time from bpf_stats).
 *
 *   bench_churn FLOWRINGD [--tcplife PATH] [--conns N] [--workers K] [--tool flowringd|tcplife] [--smoke]
 *
 * The churn: K client processes make N short TCP connections in total to K server processes on 127.0.0.1 (connect,
 * 8 bytes each way, the server closes, the client reads EOF and closes), as fast as they can. Every connection has
 * two socket ends and both tools report each end that closes, so the unit counted is the end: 2 N expected.
 * The same generator and count run for both tools; each tool is started alone, measured, stopped. */
#define _GNU_SOURCE 1 /* pipe2 */
#include <flowring/flowring.h>

#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "churn.h"
#include "e2e_util.h"

/* ---- flowringd ------------------------------------------------------------------------------------------------ */

struct fr_churn_reader {
	struct fr_e2e_daemon *d;
	uint16_t port;
	int ready, stop, failed;
	uint64_t ends;   /* records of the churn's socket ends (written by the reader thread only) */
	uint64_t lapped; /* records the reader missed: the events ring lapped it */
};

static void *fr_churn_reader_main(void *p)
{
	struct fr_churn_reader *a = p;
	struct fr_events_reader r;
	struct fr_conn c;

	if (fr_events_open(&r, a->d->shm, a->d->instance, FR_FROM_LATEST) != FR_OK) {
		__atomic_store_n(&a->failed, 1, __ATOMIC_RELEASE);
		__atomic_store_n(&a->ready, 1, __ATOMIC_RELEASE);
		return NULL;
	}
	/* release: pairs with the main thread's acquire load before it starts the churn */
	__atomic_store_n(&a->ready, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&a->stop, __ATOMIC_ACQUIRE)) {
		int st = fr_events_read(&r, &c);
		if (st == FR_OK) {
			if (c.type == FR_CONN_TCP && (c.sport == a->port || c.dport == a->port))
				__atomic_store_n(&a->ends, a->ends + 1, __ATOMIC_RELAXED);
		} else if (st == FR_LAPPED) {
			__atomic_store_n(&a->lapped, a->lapped + fr_events_lost(&r), __ATOMIC_RELAXED);
		} else if (st == FR_AGAIN || st == FR_PRODUCER_STALE) {
			fr_events_wait(&r, 100);
		} else {
			__atomic_store_n(&a->failed, 1, __ATOMIC_RELEASE);
			break;
		}
	}
	fr_events_close(&r);
	return NULL;
}

/* Kernel- and daemon-side losses flowringd counts for closed TCP connections. */
static const char *const fr_churn_loss_names[] = {"bpf_ringbuf_reserve_failed", "bpf_tcp_map_full",
						   "bpf_sk_storage_failed", "ingest_malformed"};
#define FR_CHURN_NLOSS (sizeof(fr_churn_loss_names) / sizeof(fr_churn_loss_names[0]))
/* What the daemon's process cost is made of: wake-ups, not records (docs/benchmarks/churn.md). */
static const char *const fr_churn_wake_names[] = {"bpf_ringbuf_wakeups", "ingest_drains", "ingest_fast_drains",
						   "events_wakes"};
#define FR_CHURN_NWAKE (sizeof(fr_churn_wake_names) / sizeof(fr_churn_wake_names[0]))

static int fr_churn_telemetry(struct fr_e2e_daemon *d, const char *const *names, size_t n, uint64_t *vals)
{
	struct fr_events_reader r;
	int st = fr_events_open(&r, d->shm, d->instance, FR_FROM_LATEST);

	if (st != FR_OK)
		return st < 0 ? st : -EIO;
	for (size_t i = 0; i < n; i++) {
		vals[i] = 0;
		fr_e2e_telemetry(&r, names[i], &vals[i]);
	}
	fr_events_close(&r);
	return 0;
}

static void fr_churn_print_wakes(const uint64_t *w0, const uint64_t *w1, uint64_t ends)
{
	printf("  flowringd wake-ups per 1000 socket ends:");
	for (size_t i = 0; i < FR_CHURN_NWAKE; i++)
		printf(" %s %.0f", fr_churn_wake_names[i], ends ? 1000.0 * (double)(w1[i] - w0[i]) / (double)ends : 0.0);
	printf("\n");
}

static int fr_churn_flowringd(const char *path, uint64_t n, unsigned workers, struct fr_churn_result *res)
{
	struct fr_e2e_daemon d;
	struct fr_churn_reader ra = {.d = &d};
	struct fr_churn_cost c0, c1;
	uint64_t loss0[FR_CHURN_NLOSS], loss1[FR_CHURN_NLOSS], wake0[FR_CHURN_NWAKE], wake1[FR_CHURN_NWAKE];
	uint32_t ids[FR_CHURN_MAXP];
	pthread_t th;
	int nids, lfd, rc;

	res->tool = "flowringd";
	lfd = fr_churn_listen(&ra.port);
	if (lfd < 0)
		return lfd;
	rc = fr_e2e_daemon_start(&d, path, NULL);
	if (rc != 0) {
		fprintf(stderr, "bench_churn: cannot start flowringd: %s\n", strerror(-rc));
		close(lfd);
		return rc;
	}
	nids = fr_churn_prog_ids(d.pid, ids, FR_CHURN_MAXP);
	res->nprogs = nids > 0 ? nids : 0;
	if (pthread_create(&th, NULL, fr_churn_reader_main, &ra) != 0) {
		rc = -EAGAIN;
		goto stop;
	}
	while (!__atomic_load_n(&ra.ready, __ATOMIC_ACQUIRE))
		usleep(1000);
	if (__atomic_load_n(&ra.failed, __ATOMIC_ACQUIRE) ||
	    fr_churn_telemetry(&d, fr_churn_loss_names, FR_CHURN_NLOSS, loss0) != 0 ||
	    fr_churn_telemetry(&d, fr_churn_wake_names, FR_CHURN_NWAKE, wake0) != 0) {
		rc = -EIO;
		goto join;
	}
	fr_churn_idle(d.pid, ids, res->nprogs, res);
	fr_churn_cost_read(d.pid, ids, res->nprogs, &c0);
	rc = fr_churn_run(lfd, n, workers, res);
	if (rc == 0) {
		/* settle: until every end is in, or one second without progress */
		uint64_t last = 0, since = fr__now_ns();
		while (fr__now_ns() - since < 1000000000ull) {
			uint64_t e = __atomic_load_n(&ra.ends, __ATOMIC_RELAXED);
			if (e >= 2 * res->conns)
				break;
			if (e != last) {
				last = e;
				since = fr__now_ns();
			}
			usleep(10000);
		}
		fr_churn_cost_read(d.pid, ids, res->nprogs, &c1);
		fr_churn_cost_diff(&c0, &c1, res);
		/* the daemon copies the kernel's per-CPU counters into telemetry periodically: give it a beat */
		usleep(1500000);
		if (fr_churn_telemetry(&d, fr_churn_wake_names, FR_CHURN_NWAKE, wake1) == 0)
			fr_churn_print_wakes(wake0, wake1, 2 * res->conns);
		if (fr_churn_telemetry(&d, fr_churn_loss_names, FR_CHURN_NLOSS, loss1) == 0)
			for (size_t i = 0; i < FR_CHURN_NLOSS; i++) {
				if (loss1[i] != loss0[i])
					printf("  flowringd telemetry: %s +%llu\n", fr_churn_loss_names[i],
					       (unsigned long long)(loss1[i] - loss0[i]));
				res->tool_lost += loss1[i] - loss0[i];
			}
	}
join:
	__atomic_store_n(&ra.stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	res->captured = ra.ends;
	res->bench_lapped = ra.lapped;
	res->ran = rc == 0;
stop:
	if (fr_e2e_daemon_stop(&d) != 0)
		fprintf(stderr, "bench_churn: flowringd did not stop cleanly\n");
	close(lfd);
	return rc;
}

/* ---- tcplife -------------------------------------------------------------------------------------------------- */

/* Count the lines "PID COMM LADDR LPORT RADDR RPORT TX_KB RX_KB MS" whose ports are the churn's. */
static uint64_t fr_churn_tcplife_count(const char *out, uint16_t port)
{
	char line[512], comm[64], la[64], ra[64];
	unsigned lp, rp;
	uint64_t n = 0;
	int pid;
	FILE *f = fopen(out, "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%d %63s %63s %u %63s %u", &pid, comm, la, &lp, ra, &rp) == 6 &&
		    (lp == port || rp == port))
			n++;
	fclose(f);
	return n;
}

/* tcplife's perf buffer reports its own drops on stderr: "lost N events on CPU #k". */
static uint64_t fr_churn_tcplife_lost(const char *err)
{
	char line[256];
	unsigned long long k;
	uint64_t n = 0;
	FILE *f = fopen(err, "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "lost %llu events", &k) == 1 || sscanf(line, "Lost %llu events", &k) == 1)
			n += k;
	fclose(f);
	return n;
}

static int fr_churn_tcplife(const char *path, uint64_t n, unsigned workers, struct fr_churn_result *res)
{
	char out[96], err[96];
	struct fr_churn_cost c0, c1;
	uint32_t ids[FR_CHURN_MAXP];
	uint16_t port;
	pid_t pid;
	int lfd, rc = 0, nids = 0;

	res->tool = "tcplife";
	snprintf(out, sizeof(out), "/tmp/fr-churn-%d-tcplife.out", (int)getpid());
	snprintf(err, sizeof(err), "/tmp/fr-churn-%d-tcplife.err", (int)getpid());
	lfd = fr_churn_listen(&port);
	if (lfd < 0)
		return lfd;
	pid = fork();
	if (pid == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(127);
		execl(path, path, (char *)NULL);
		_exit(127);
	}
	if (pid < 0) {
		close(lfd);
		return -errno;
	}
	/* loaded once it holds its programs; attaching follows within milliseconds: wait a little more */
	for (int i = 0; i < 300 && nids <= 0; i++) {
		usleep(20000);
		nids = fr_churn_prog_ids(pid, ids, FR_CHURN_MAXP);
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			fprintf(stderr, "bench_churn: tcplife exited early (see %s)\n", err);
			pid = -1;
			rc = -ECHILD;
			goto cleanup;
		}
	}
	usleep(500000);
	nids = fr_churn_prog_ids(pid, ids, FR_CHURN_MAXP);
	if (nids <= 0) {
		fprintf(stderr, "bench_churn: tcplife holds no BPF program\n");
		rc = -ENOENT;
		goto cleanup;
	}
	res->nprogs = nids;
	fr_churn_idle(pid, ids, nids, res);
	fr_churn_cost_read(pid, ids, nids, &c0);
	rc = fr_churn_run(lfd, n, workers, res);
	if (rc == 0) {
		usleep(1000000); /* settle: tcplife's output cannot be watched (stdout is a file, block buffered) */
		fr_churn_cost_read(pid, ids, nids, &c1);
		fr_churn_cost_diff(&c0, &c1, res);
	}
cleanup:
	if (pid > 0) {
		int st;
		kill(pid, SIGINT);
		for (int i = 0; i < 500 && waitpid(pid, &st, WNOHANG) == 0; i++)
			usleep(10000);
		if (waitpid(pid, &st, WNOHANG) == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
		}
	}
	if (rc == 0) {
		res->captured = fr_churn_tcplife_count(out, port);
		res->tool_lost = fr_churn_tcplife_lost(err);
		res->ran = 1;
	}
	unlink(out);
	unlink(err);
	close(lfd);
	return rc;
}

/* ---- report ----------------------------------------------------------------------------------------------------- */

static void fr_churn_print(const struct fr_churn_result *r)
{
	uint64_t want = 2 * r->conns;
	double per = r->conns ? 1e4 / (double)r->conns : 0;

	if (!r->ran) {
		printf("%-10s did not run\n", r->tool);
		return;
	}
	printf("%-10s %8llu %7.0f/s %9llu %9llu %9llu %9llu %11.4f %8.4f %8.4f\n", r->tool,
	       (unsigned long long)r->conns, r->secs > 0 ? (double)r->conns / r->secs : 0, (unsigned long long)want,
	       (unsigned long long)r->captured, (unsigned long long)(want > r->captured ? want - r->captured : 0),
	       (unsigned long long)r->tool_lost, r->cpu_s * per, r->bpf_s * per, (r->cpu_s + r->bpf_s) * per);
}

static void fr_churn_detail(const struct fr_churn_result *r)
{
	double per_s = 1e3 / (FR_CHURN_IDLE_US / 1e6);

	if (!r->ran)
		return;
	printf("%s: %d BPF programs, %llu failed connects, churn %.2f s, idle cost %.1f ms/s process + %.1f ms/s BPF",
	       r->tool, r->nprogs, (unsigned long long)r->conn_fail, r->secs, r->idle_cpu_s * per_s,
	       r->idle_bpf_s * per_s);
	if (!strcmp(r->tool, "flowringd"))
		printf(", bench reader lapped %llu (not a tool loss)", (unsigned long long)r->bench_lapped);
	printf("\n");
}

int main(int argc, char **argv)
{
	const char *tcplife = "/usr/sbin/tcplife";
	uint64_t n = 20000;
	unsigned workers = 4;
	struct fr_churn_result fr = {.tool = "flowringd"}, tl = {.tool = "tcplife"};
	const char *only = NULL; /* --tool: run one tool only (for profiling it) */
	int stats_fd, ok = 1;

	if (argc < 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: bench_churn FLOWRINGD [--tcplife PATH] [--conns N] [--workers K] "
				"[--tool flowringd|tcplife] [--smoke]\n");
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--smoke")) {
			n = 5000;
		} else if (!strcmp(argv[i], "--conns") && i + 1 < argc) {
			n = strtoull(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--workers") && i + 1 < argc) {
			workers = (unsigned)strtoul(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--tool") && i + 1 < argc) {
			only = argv[++i];
		} else if (!strcmp(argv[i], "--tcplife") && i + 1 < argc) {
			tcplife = argv[++i];
		} else {
			fprintf(stderr, "bench_churn: unknown argument '%s'\n", argv[i]);
			return 2;
		}
	}
	if (workers < 1 || workers > FR_CHURN_MAXW || n < workers) {
		fprintf(stderr, "bench_churn: need 1..%d workers and at least one connection each\n", FR_CHURN_MAXW);
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "SKIP: bench_churn needs root (it runs flowringd and tcplife)\n");
		return 77;
	}
	/* the kernel times BPF programs only while some fd of this kind is open: keep it for the whole run */
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0)
		fprintf(stderr, "bench_churn: bpf_enable_stats failed (%s): BPF time will read 0\n",
			strerror(-stats_fd));
	printf("bench_churn: %llu loopback TCP connections, %u client + %u server processes, per tool\n",
	       (unsigned long long)n, workers, workers);

	int rc = only && strcmp(only, "flowringd") ? 0 : fr_churn_flowringd(argv[1], n, workers, &fr);
	if (rc != 0) {
		fprintf(stderr, "bench_churn: flowringd run failed: %s\n", strerror(-rc));
		ok = 0;
	}
	if (only && strcmp(only, "tcplife")) {
		printf("tcplife: not run (--tool %s)\n", only);
	} else if (access(tcplife, X_OK) != 0) {
		printf("tcplife: UNAVAILABLE (%s not found: apt-get install libbpf-tools); flowringd checked alone\n",
		       tcplife);
	} else if (access("/sys/kernel/tracing/events", F_OK) != 0 &&
		   system("mount -t tracefs tracefs /sys/kernel/tracing") != 0) {
		printf("tcplife: UNAVAILABLE (tracefs not mounted at /sys/kernel/tracing and mounting failed)\n");
	} else if ((rc = fr_churn_tcplife(tcplife, n, workers, &tl)) != 0) {
		fprintf(stderr, "bench_churn: tcplife run failed: %s\n", strerror(-rc));
		ok = 0;
	}

	printf("\n%-10s %8s %9s %9s %9s %9s %9s %11s %8s %8s\n", "tool", "conns", "rate", "ends", "captured", "lost",
	       "tool-lost", "proc s/10k", "bpf s/10k", "total");
	fr_churn_print(&fr);
	fr_churn_print(&tl);
	printf("(ends = 2 x conns, both socket ends of each connection; lost = ends - captured; "
	       "tool-lost = the loss the tool itself reports)\n");
	fr_churn_detail(&fr);
	fr_churn_detail(&tl);
	if (fr.ran && tl.ran && fr.conns && tl.conns) {
		double nf = (double)fr.conns, nt = (double)tl.conns;
		double a = (fr.cpu_s + fr.bpf_s) / nf, b = (tl.cpu_s + tl.bpf_s) / nt;
		printf("ratio flowringd/tcplife, CPU per connection: total %.2f x (process %.2f x, BPF %.2f x)\n",
		       b > 0 ? a / b : 0, tl.cpu_s > 0 ? (fr.cpu_s / nf) / (tl.cpu_s / nt) : 0,
		       tl.bpf_s > 0 ? (fr.bpf_s / nf) / (tl.bpf_s / nt) : 0);
	}
	printf("fields: tcplife prints pid, comm, addresses, ports, KB each way, duration; flowringd's record also has "
	       "bytes and packets both ways, RTT and its variance, retransmits, netns, cookie, direction, NAT, and "
	       "covers UDP\n");

	/* What must hold: every end flowringd missed is one it counted as lost (exact accounting), and it saw the
	 * churn at all; tcplife, when it ran, saw the churn too. */
	if (only && strcmp(only, "flowringd")) {
		/* --tool tcplife: nothing of flowringd's to check */
	} else if (fr.ran) {
		uint64_t want = 2 * fr.conns;
		if (fr.captured == 0 || fr.captured + fr.tool_lost + fr.bench_lapped < want) {
			fprintf(stderr, "bench_churn: flowringd missed %llu ends it did not count as lost\n",
				(unsigned long long)(want - fr.captured - fr.tool_lost - fr.bench_lapped));
			ok = 0;
		}
	} else {
		ok = 0;
	}
	if (tl.ran && tl.captured == 0) {
		fprintf(stderr, "bench_churn: tcplife reported none of the churn's connections\n");
		ok = 0;
	}
	if (stats_fd >= 0)
		close(stats_fd);
	return ok ? 0 : 1;
}
