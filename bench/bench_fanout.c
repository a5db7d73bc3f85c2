/* bench_fanout - fan-out of the same 240-byte records from one writer process to N reader processes:
 * flowring's events ring against ZeroMQ PUB/SUB over ipc:// and iceoryx (C binding), in one run.
 *
 *   bench_fanout [--smoke] [--records M] [--paced K] [--rate R] [--readers 1,4,16]
 *                [--max-seconds S] [--capacity C] [--only flowring,zeromq-ipc,iceoryx]
 *                [--shm-dir DIR] [--dat FILE]
 *
 * For each N and transport: (1) throughput: the writer publishes M records as fast as it can and
 * never blocks; each reader reports records/s delivered, records lost (flowring: the SDK's exact lap
 * count, checked against sequence gaps; peers: sequence gaps); the writer's wall-clock rate and its
 * CPU seconds per million records (its whole process: zmq's I/O thread included); delivered records
 * per CPU-second of writer + readers. (2) latency: K records at R/s (well below capacity), publish
 * timestamp in the record -> receive time, p50/p99 over all readers. Each table ends with the ratio
 * flowring / best peer. Peers that are not built or cannot start are reported and skipped.
 * --smoke: tiny sizes, N in {1,2}: a ctest (it must pass without the peers).
 * --dat FILE: the run's headline figures as a whitespace table for gnuplot (scripts/bench.sh renders
 * docs/benchmarks/fanout-*.png from it): one block per transport, one row per reader count.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fanout_common.h"
#include "log.h"

#define NT 4

struct result {
	int ran, failed;
	char error[256]; /* room for a prefix + the control block's 160-byte error */
	double rate_mean, rate_min; /* records/s delivered per reader */
	double lost_mean;
	uint64_t lost_max;
	double writer_rate;         /* records/s of the publish loop, wall clock */
	double writer_cpu_per_m;    /* writer process CPU s per million records */
	double deliv_per_cpu;       /* records delivered (all readers) per CPU-second (writer + readers) */
	double p50_us, p99_us;
	uint64_t lat_lost;
	uint64_t published;
};

static struct {
	int smoke;
	uint64_t records, paced, rate;
	double max_seconds;
	uint32_t capacity;
	unsigned readers[8], nreaders;
	const char *only;
	const char *shm_dir;
	const char *dat;
} opt = {.records = 2000000, .max_seconds = 2, .paced = 20000, .rate = 10000, .capacity = 65536, .readers = {1, 4, 16}, .nreaders = 3};

static const struct fanout_transport *transports[NT] = {&fanout_flowring, &fanout_zmq, &fanout_iceoryx,
							 &fanout_iceoryx_poll};
static int avail[NT], skipped[NT];
static char why[NT][400]; /* the probe's words: version, or why a peer is UNAVAILABLE */
static int checks_failed;

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void kill_all(pid_t *pids, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
			pids[i] = -1;
		}
}

/* A forked child returns this from run_one with its exit status in child_status; main returns at
 * once. Children leave through main's return (not _exit) so the transports' static destructors run:
 * iceoryx's runtime deregisters from RouDi only there; without it RouDi, at shutdown, sends SIGTERM
 * to the dead children's pids (which may belong to someone else by then), fails, aborts and leaves
 * its shared memory behind. */
#define FANOUT_CHILD 1000
static int child_status;

/* One writer + n readers; fills res. Returns 0, -errno, or FANOUT_CHILD in a child. */
static int run_one(const struct fanout_transport *t, unsigned n, int phase, struct result *res)
{
	static unsigned run_no;
	uint64_t count = phase == FANOUT_PACED ? opt.paced : opt.records;
	size_t ctl_bytes = (sizeof(struct fanout_ctl) + 63) & ~(size_t)63;
	size_t lat_bytes = phase == FANOUT_PACED ? (size_t)n * count * sizeof(uint64_t) : 0;
	size_t bytes = ctl_bytes + lat_bytes;
	pid_t pids[1 + FANOUT_MAX_READERS];
	unsigned np = 0;
	int rc = 0;
	struct fanout_ctl *ctl = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED)
		return -errno;
	memset(res, 0, sizeof(*res));
	snprintf(ctl->name, sizeof(ctl->name), "fanout%d-%u", (int)getpid(), run_no++);
	snprintf(ctl->shm_dir, sizeof(ctl->shm_dir), "%s", opt.shm_dir ? opt.shm_dir : "");
	ctl->count = count;
	ctl->rate = opt.rate;
	ctl->readers = n;
	ctl->capacity = opt.capacity;
	ctl->phase = phase;
	ctl->lat_cap = phase == FANOUT_PACED ? count : 0;
	/* slow transports stop early (and say so): the whole run stays within minutes */
	ctl->max_ns = (uint64_t)(opt.max_seconds * 1e9) * (phase == FANOUT_PACED ? 2 : 1);
	ctl->lat_off = ctl_bytes;

	fflush(stdout);
	fflush(stderr);
	pids[np] = fork();
	if (pids[np] == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* no orphans if the bench is killed */
		child_status = t->writer(ctl) == 0 ? 0 : 1;
		return FANOUT_CHILD;
	}
	np++;
	/* acquire: pairs with the release in fanout_writer_start; readers attach to a ready writer */
	for (uint64_t dl = fanout_now_ns() + 20000000000ull; !__atomic_load_n(&ctl->writer_ready, __ATOMIC_ACQUIRE);) {
		if (fanout_now_ns() > dl || waitpid(pids[0], NULL, WNOHANG) == pids[0]) {
			pids[0] = -1;
			snprintf(res->error, sizeof(res->error), "writer did not start: %s", ctl->error);
			rc = -EIO;
			goto cleanup;
		}
		fanout_sleep_us(1000);
	}
	for (unsigned i = 0; i < n; i++) {
		pids[np] = fork();
		if (pids[np] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			child_status = t->reader(ctl, i) == 0 ? 0 : 1;
			return FANOUT_CHILD;
		}
		np++;
	}
	/* all children: a failed one makes the others pointless (they would wait for it): stop them */
	unsigned left = np;
	uint64_t dl = fanout_now_ns() + 150000000000ull, grace = 0;
	while (left > 0) {
		int status;
		pid_t p = waitpid(-1, &status, WNOHANG);
		if (p <= 0) {
			uint64_t now = fanout_now_ns();
			/* acquire: pairs with the release stores of measured and readers_done */
			if (!grace && __atomic_load_n(&ctl->measured, __ATOMIC_ACQUIRE) &&
			    __atomic_load_n(&ctl->readers_done, __ATOMIC_ACQUIRE) == (int)n)
				grace = now + 10000000000ull;
			/* measured, but a child is stuck in its transport's teardown (seen: iceoryx's
			 * exit handshake with RouDi on an overloaded machine): the figures stand */
			if (grace && now > grace) {
				printf("note: %s: %u process%s still exiting 10 s after the measurement: killed\n", t->name,
				       left, left == 1 ? "" : "es");
				for (unsigned i = 0; i < np; i++)
					if (pids[i] > 0) {
						kill(pids[i], SIGKILL);
						waitpid(pids[i], NULL, 0);
						if (t->killed)
							t->killed(pids[i], (int)i - 1);
						pids[i] = -1;
					}
				break;
			}
			if (now > dl) {
				snprintf(res->error, sizeof(res->error), "timed out after 150 s: %s", ctl->error);
				rc = -ETIMEDOUT;
				goto cleanup;
			}
			fanout_sleep_us(2000);
			continue;
		}
		for (unsigned i = 0; i < np; i++)
			if (pids[i] == p) {
				pids[i] = -1;
				left--;
				if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
					snprintf(res->error, sizeof(res->error), "%s %u failed (status 0x%x): %s",
						 i ? "reader" : "writer", i ? i - 1 : 0, status, ctl->error);
					rc = -EIO;
					goto cleanup;
				}
			}
	}
	/* every child exited: their writes to ctl are visible (waitpid synchronises) */
	res->ran = 1;
	count = ctl->published;
	res->published = count;
	double wall = (double)(ctl->t_end_ns - ctl->t_start_ns) / 1e9, cpu = (double)ctl->writer_cpu_ns / 1e9;
	uint64_t recv_total = 0, nlat = 0;
	res->writer_rate = (double)count / wall;
	res->writer_cpu_per_m = (double)ctl->writer_cpu_ns / 1e9 / ((double)count / 1e6);
	res->rate_min = 1e300;
	for (unsigned i = 0; i < n; i++) {
		struct fanout_reader_res *r = &ctl->r[i];
		double span = r->t_last_ns > ctl->t_start_ns ? (double)(r->t_last_ns - ctl->t_start_ns) / 1e9 : 0;
		double rate = span > 0 ? (double)r->received / span : 0;
		res->rate_mean += rate / n;
		if (rate < res->rate_min)
			res->rate_min = rate;
		res->lost_mean += (double)r->lost_gaps / n;
		if (r->lost_gaps > res->lost_max)
			res->lost_max = r->lost_gaps;
		recv_total += r->received;
		nlat += r->n_lat;
		cpu += (double)r->cpu_ns / 1e9;
		/* the checks the smoke test relies on: exact accounting, something delivered */
		if (r->received + r->lost_gaps != count || r->received == 0 ||
		    (t == &fanout_flowring && r->lost_sdk != r->lost_gaps)) {
			fprintf(stderr, "CHECK FAILED: %s N=%u reader %u: received %llu + lost %llu != %llu or sdk lost %llu\n",
				t->name, n, i, (unsigned long long)r->received, (unsigned long long)r->lost_gaps,
				(unsigned long long)count, (unsigned long long)r->lost_sdk);
			checks_failed++;
		}
	}
	res->deliv_per_cpu = cpu > 0 ? (double)recv_total / cpu : 0;
	(void)wall;
	if (phase == FANOUT_PACED && nlat) {
		uint64_t *all = malloc(nlat * sizeof(*all)), k = 0;
		if (all) {
			for (unsigned i = 0; i < n; i++) {
				uint64_t *lat = (uint64_t *)(void *)((char *)ctl + ctl->lat_off) + (uint64_t)i * ctl->lat_cap;
				memcpy(all + k, lat, ctl->r[i].n_lat * sizeof(*all));
				k += ctl->r[i].n_lat;
			}
			qsort(all, nlat, sizeof(*all), cmp_u64);
			res->p50_us = (double)all[nlat / 2] / 1e3;
			res->p99_us = (double)all[(nlat * 99) / 100] / 1e3;
			free(all);
		}
		res->lat_lost = (uint64_t)n * count - recv_total;
	}
	if (ctl->error[0])
		snprintf(res->error, sizeof(res->error), "%s", ctl->error);
cleanup:
	if (rc != 0)
		kill_all(pids, np);
	res->failed = rc != 0;
	munmap(ctl, bytes);
	return rc;
}

static void fmt_rate(char *b, size_t len, double r)
{
	if (r >= 1e6)
		snprintf(b, len, "%7.2f M", r / 1e6);
	else
		snprintf(b, len, "%7.1f k", r / 1e3);
}

static void print_table(unsigned n, struct result tp[NT], struct result lat[NT])
{
	printf("\n== %u reader process%s: up to %llu records as fast as possible (at most %.1f s); latency: %llu "
	       "records at %llu/s\n", n, n == 1 ? "" : "es", (unsigned long long)opt.records, opt.max_seconds,
	       (unsigned long long)opt.paced, (unsigned long long)opt.rate);
	printf("%-12s %9s %12s %12s %20s %12s %10s %12s %8s %8s %8s\n", "transport", "published", "rec/s/reader",
	       "slowest rdr", "lost/rdr (max)", "writer rec/s", "wr CPU s/M", "deliv/CPU-s", "p50 us", "p99 us",
	       "lat lost");
	for (int t = 0; t < NT; t++) {
		if (!avail[t])
			continue;
		if (!tp[t].ran || !lat[t].ran) {
			printf("%-12s FAILED: %s\n", transports[t]->name, tp[t].ran ? lat[t].error : tp[t].error);
			continue;
		}
		char a[16], b[16], c[16], d[16];
		fmt_rate(a, sizeof(a), tp[t].rate_mean);
		fmt_rate(b, sizeof(b), tp[t].rate_min);
		fmt_rate(c, sizeof(c), tp[t].writer_rate);
		fmt_rate(d, sizeof(d), tp[t].deliv_per_cpu);
		printf("%-12s %9llu %12s %12s %9.0f (%8llu) %12s %10.3f %12s %8.1f %8.1f %8llu\n", transports[t]->name,
		       (unsigned long long)tp[t].published, a, b, tp[t].lost_mean, (unsigned long long)tp[t].lost_max, c, tp[t].writer_cpu_per_m, d, lat[t].p50_us,
		       lat[t].p99_us, (unsigned long long)lat[t].lat_lost);
	}
	/* ratio flowring / best peer: best = highest rate, lowest cost/latency */
	int best_rate = -1, best_wr = -1, best_cpu = -1, best_eff = -1, best_p50 = -1, best_p99 = -1;
	for (int t = 1; t < NT; t++) {
		if (!avail[t] || !tp[t].ran || !lat[t].ran)
			continue;
		if (best_rate < 0 || tp[t].rate_mean > tp[best_rate].rate_mean)
			best_rate = t;
		if (best_wr < 0 || tp[t].writer_rate > tp[best_wr].writer_rate)
			best_wr = t;
		if (best_cpu < 0 || tp[t].writer_cpu_per_m < tp[best_cpu].writer_cpu_per_m)
			best_cpu = t;
		if (best_eff < 0 || tp[t].deliv_per_cpu > tp[best_eff].deliv_per_cpu)
			best_eff = t;
		if (best_p50 < 0 || lat[t].p50_us < lat[best_p50].p50_us)
			best_p50 = t;
		if (best_p99 < 0 || lat[t].p99_us < lat[best_p99].p99_us)
			best_p99 = t;
	}
	if (best_rate < 0 || !tp[0].ran || !lat[0].ran) {
		printf("flowring / best peer: no peer ran (see above)\n");
		return;
	}
	printf("flowring / best peer: rec/s/reader %.2f x (%s)  writer rec/s %.2f x (%s)  writer CPU/rec %.3g x (%s, "
	       "lower is better)\n", tp[0].rate_mean / tp[best_rate].rate_mean, transports[best_rate]->name,
	       tp[0].writer_rate / tp[best_wr].writer_rate, transports[best_wr]->name,
	       tp[0].writer_cpu_per_m / tp[best_cpu].writer_cpu_per_m, transports[best_cpu]->name);
	printf("                      deliv/CPU-s %.2f x (%s)  p50 %.2f x (%s)  p99 %.2f x (%s, lower is better)\n",
	       tp[0].deliv_per_cpu / tp[best_eff].deliv_per_cpu, transports[best_eff]->name,
	       lat[0].p50_us / lat[best_p50].p50_us, transports[best_p50]->name, lat[0].p99_us / lat[best_p99].p99_us,
	       transports[best_p99]->name);
	if (n == 4) {
		double r = tp[0].rate_mean / tp[best_rate].rate_mean;
		printf("goal (issue 6): flowring >= 5 x the better peer's records/s per reader with 4 readers: %s (%.2f x)\n",
		       r >= 5 ? "MET" : "MISSED", r);
	}
}

/* --dat: one block per transport (blocks separated by two blank lines, so gnuplot's `index` selects
 * a transport), one row per reader count. A transport that is not available, was skipped or failed
 * has no row: a comment line says which and why, so a plot with a line missing is explained. */
static int write_dat(const char *path, struct result tp[][NT], struct result lat[][NT])
{
	FILE *f = fopen(path, "w");
	int blocks = 0, rc = 0;

	if (!f)
		return -errno;
	fprintf(f, "# bench_fanout --dat: records of %zu bytes, up to %llu records (at most %.1f s) per throughput run; "
		   "latency: %llu records at %llu/s; ring capacity / zmq HWM %u\n", sizeof(struct fr_conn),
		(unsigned long long)opt.records, opt.max_seconds, (unsigned long long)opt.paced,
		(unsigned long long)opt.rate, opt.capacity);
	fprintf(f, "# columns: 1 transport, 2 readers, 3 records/s per reader (mean), 4 writer CPU ns per record, "
		   "5 p50 latency us, 6 p99 latency us\n");
	fprintf(f, "# one block per transport, blocks separated by two blank lines (gnuplot: index)\n");
	for (int t = 0; t < NT; t++) {
		if (skipped[t]) {
			fprintf(f, "# %s: rows omitted: skipped (--only)\n", transports[t]->name);
			continue;
		}
		if (!avail[t]) {
			fprintf(f, "# %s: rows omitted: peer missing (UNAVAILABLE: %s)\n", transports[t]->name, why[t]);
			continue;
		}
		int rows = 0;
		for (unsigned k = 0; k < opt.nreaders; k++) {
			if (!tp[k][t].ran || !lat[k][t].ran) {
				fprintf(f, "# %s %u readers: row omitted: run failed: %s\n", transports[t]->name,
					opt.readers[k], tp[k][t].ran ? lat[k][t].error : tp[k][t].error);
				continue;
			}
			if (rows++ == 0 && blocks++ > 0)
				fputs("\n\n", f);
			/* wr CPU s per million records = us per record: x 1000 for ns */
			fprintf(f, "%-12s %3u %14.1f %12.1f %10.1f %10.1f\n", transports[t]->name, opt.readers[k],
				tp[k][t].rate_mean, tp[k][t].writer_cpu_per_m * 1e3, lat[k][t].p50_us, lat[k][t].p99_us);
		}
	}
	if (ferror(f))
		rc = -EIO;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	return rc;
}

static int parse_readers(const char *s)
{
	opt.nreaders = 0;
	while (*s && opt.nreaders < 8) {
		char *end;
		unsigned long v = strtoul(s, &end, 10);
		if (end == s || v < 1 || v > FANOUT_MAX_READERS)
			return -EINVAL;
		opt.readers[opt.nreaders++] = (unsigned)v;
		s = *end == ',' ? end + 1 : end;
	}
	return opt.nreaders ? 0 : -EINVAL;
}

static int usage(void)
{
	fprintf(stderr, "usage: bench_fanout [--smoke] [--records M] [--paced K] [--rate R] [--readers 1,4,16]\n"
			"                    [--max-seconds S] [--capacity C] [--only flowring,zeromq-ipc,iceoryx] [--shm-dir DIR]\n"
			"                    [--dat FILE]\n");
	return 2;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--smoke")) {
			opt.smoke = 1;
			opt.records = 20000, opt.paced = 500, opt.rate = 5000, opt.capacity = 4096;
			opt.max_seconds = 1;
			opt.readers[0] = 1, opt.readers[1] = 2, opt.nreaders = 2;
		} else if (v && !strcmp(a, "--records")) {
			opt.records = strtoull(v, NULL, 0), i++;
		} else if (v && !strcmp(a, "--paced")) {
			opt.paced = strtoull(v, NULL, 0), i++;
		} else if (v && !strcmp(a, "--max-seconds")) {
			opt.max_seconds = strtod(v, NULL), i++;
		} else if (v && !strcmp(a, "--rate")) {
			opt.rate = strtoull(v, NULL, 0), i++;
		} else if (v && !strcmp(a, "--capacity")) {
			opt.capacity = (uint32_t)strtoul(v, NULL, 0), i++;
		} else if (v && !strcmp(a, "--readers")) {
			if (parse_readers(v) != 0)
				return usage();
			i++;
		} else if (v && !strcmp(a, "--only")) {
			opt.only = v, i++;
		} else if (v && !strcmp(a, "--shm-dir")) {
			opt.shm_dir = v, i++;
		} else if (v && !strcmp(a, "--dat")) {
			opt.dat = v, i++;
		} else {
			return usage();
		}
	}
	if (!opt.records || !opt.paced || !opt.rate || opt.capacity < 2 || (opt.capacity & (opt.capacity - 1)))
		return usage();
	if (opt.dat) {
		/* fail now, not after a minute of runs; written (again) at the end, after every fork, so no
		 * child inherits buffered rows */
		FILE *d = fopen(opt.dat, "w");
		if (!d) {
			fprintf(stderr, "bench_fanout: cannot write --dat %s: %s\n", opt.dat, strerror(errno));
			return 2;
		}
		fclose(d);
	}
	prctl(PR_SET_TIMERSLACK, 1UL); /* inherited: paced sleeps end on time */
	fr_log_set_level(FR_LOG_WARN);  /* one "ring created" line per run would drown the tables */

	struct utsname u;
	char load[64] = "?";
	FILE *f = fopen("/proc/loadavg", "r");
	if (f) {
		if (!fgets(load, sizeof(load), f))
			load[0] = '\0';
		load[strcspn(load, "\n")] = '\0';
		fclose(f);
	}
	uname(&u);
	printf("bench_fanout%s: %ld CPUs online, kernel %s, load average %s\n", opt.smoke ? " --smoke" : "",
	       sysconf(_SC_NPROCESSORS_ONLN), u.release, load);
	printf("records of %zu bytes (struct fr_conn: cookie = sequence, last_update_ns = publish time); "
	       "ring capacity / zmq HWM %u; readers are processes\n", sizeof(struct fr_conn), opt.capacity);
	for (int t = 0; t < NT; t++) {
		/* --only selects peers; flowring, the subject, always runs */
		if (t > 0 && opt.only && !strstr(opt.only, transports[t]->name)) {
			printf("%-12s skipped (--only)\n", transports[t]->name);
			skipped[t] = 1;
			continue;
		}
		fflush(stdout);
		avail[t] = transports[t]->probe(why[t], sizeof(why[t])) == 0;
		if (avail[t])
			printf("%-12s available%s%s; slow reader: %s\n", transports[t]->name, why[t][0] ? ": " : "",
			       why[t], transports[t]->slow_reader);
		else
			printf("%-12s UNAVAILABLE: %s\n", transports[t]->name, why[t]);
	}
	if (sysconf(_SC_NPROCESSORS_ONLN) < 17)
		printf("note: %u readers + 1 writer on %ld CPUs: runs with more processes than CPUs are CPU-bound; "
		       "read deliv/CPU-s and wr CPU s/M alongside the wall-clock rates\n",
		       opt.readers[opt.nreaders - 1], sysconf(_SC_NPROCESSORS_ONLN));

	int failures = 0;
	static struct result all_tp[8][NT], all_lat[8][NT]; /* [reader count][transport], for --dat */
	for (unsigned k = 0; k < opt.nreaders; k++) {
		struct result *tp = all_tp[k], *lat = all_lat[k];
		for (int t = 0; t < NT; t++) {
			if (!avail[t])
				continue;
			int rc = run_one(transports[t], opt.readers[k], FANOUT_THROUGHPUT, &tp[t]);
			if (rc == 0)
				rc = run_one(transports[t], opt.readers[k], FANOUT_PACED, &lat[t]);
			if (rc == FANOUT_CHILD)
				return child_status;
			if (rc != 0) {
				failures++;
				fprintf(stderr, "bench_fanout: %s with %u readers failed: %s\n", transports[t]->name,
					opt.readers[k], tp[t].failed ? tp[t].error : lat[t].error);
			}
		}
		print_table(opt.readers[k], tp, lat);
	}
	for (int t = 0; t < NT; t++)
		if (avail[t] && transports[t]->teardown)
			transports[t]->teardown();
	for (int t = 1; t < NT; t++)
		if (!avail[t] && !skipped[t])
			printf("peer missing: %s (see UNAVAILABLE above); flowring figures have no ratio against it\n",
			       transports[t]->name);
	f = fopen("/proc/loadavg", "r");
	if (f) {
		if (fgets(load, sizeof(load), f))
			printf("load average at the end: %s", load);
		fclose(f);
	}
	if (opt.dat) {
		int rc = write_dat(opt.dat, all_tp, all_lat);
		if (rc != 0) {
			fprintf(stderr, "bench_fanout: writing --dat %s failed: %s\n", opt.dat, strerror(-rc));
			failures++;
		} else {
			printf("figures for gnuplot in %s\n", opt.dat);
		}
	}
	if (failures || checks_failed) {
		fprintf(stderr, "bench_fanout: %d failed runs, %d failed checks\n", failures, checks_failed);
		return 1;
	}
	return 0;
}
