/* flowring-trace - print closed TCP/UDP connections as JSON lines until SIGINT/SIGTERM.
 *
 * The first end-to-end check of the kernel side, usable without flowringd: one JSON object per
 * closed connection on stdout (docs/BPF.md has the contract), drop counters on stderr at exit.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn_json.h"
#include "log.h"
#include "tracer.h"

static volatile sig_atomic_t fr_stop;

static void fr_on_signal(int sig)
{
	(void)sig;
	fr_stop = 1;
}

static void fr_print_conn(void *ctx, const struct fr_conn *c)
{
	char buf[FR_CONN_JSON_MAX];

	(void)ctx;
	if (fr_conn_json_format(c, buf, sizeof(buf)) > 0)
		printf("%s\n", buf);
}

static void fr_usage(FILE *f)
{
	fprintf(f, "usage: flowring-trace [--no-udp] [--udp-idle-timeout SECONDS] [--ringbuf-size BYTES]\n"
		   "Print closed TCP/UDP connections as JSON lines until SIGINT/SIGTERM (needs root).\n"
		   "  --no-udp                 trace TCP only\n"
		   "  --udp-idle-timeout S     close UDP flows idle for S seconds (default 30)\n"
		   "  --ringbuf-size BYTES     BPF ring buffer size, a power of two (default 4194304)\n"
		   "  --debug                  log libbpf details\n"
		   "  --help                   this text\n");
}

static uint64_t fr_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "no-udp", no_argument, NULL, 'n' },
		{ "udp-idle-timeout", required_argument, NULL, 'i' },
		{ "ringbuf-size", required_argument, NULL, 'r' },
		{ "debug", no_argument, NULL, 'd' },
		{ 0 },
	};
	struct fr_tracer_counters cnt;
	struct fr_tracer_opts o;
	struct fr_tracer *t = NULL;
	struct sigaction sa;
	uint64_t last_expiry, passes = 0;
	char *end;
	int opt, err, rc = 1;

	fr_tracer_opts_init(&o);
	while ((opt = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			fr_usage(stdout);
			return 0;
		case 'n':
			o.udp = false;
			break;
		case 'i': {
			double s = strtod(optarg, &end);

			if (*end || s <= 0) {
				fprintf(stderr, "flowring-trace: bad --udp-idle-timeout '%s'\n", optarg);
				return 2;
			}
			o.udp_idle_timeout_ns = (uint64_t)(s * 1e9);
			break;
		}
		case 'r': {
			unsigned long v = strtoul(optarg, &end, 0);

			if (*end || !v || v > (1ul << 30)) {
				fprintf(stderr, "flowring-trace: bad --ringbuf-size '%s'\n", optarg);
				return 2;
			}
			o.ringbuf_bytes = (uint32_t)v;
			break;
		}
		case 'd':
			fr_log_set_level(FR_LOG_DEBUG);
			break;
		default:
			fr_usage(stderr);
			return 2;
		}
	}
	o.on_closed = fr_print_conn;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fr_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);

	err = fr_tracer_open(&o, &t);
	if (err)
		goto cleanup;
	fprintf(stderr, "flowring-trace: tracing (Ctrl-C to stop)\n");
	last_expiry = fr_now_ns();
	while (!fr_stop) {
		/* Short timeout: records are submitted without wakeups, the timer drains them. */
		err = fr_tracer_poll(t, 50);
		if (err < 0 && err != -EINTR)
			goto cleanup;
		if (fr_now_ns() - last_expiry > 1000000000ull) {
			last_expiry = fr_now_ns();
			fr_tracer_expire_udp_idle(t, last_expiry);
			if (++passes % 10 == 0)
				fr_tracer_reap_tcp(t, last_expiry); /* closes the kernel did not show us */
		}
	}
	fr_tracer_consume(t);
	rc = 0;
cleanup:
	if (t && !fr_tracer_read_counters(t, &cnt))
		fprintf(stderr,
			"flowring-trace: records=%" PRIu64 " ringbuf_reserve_failed=%" PRIu64 " ringbuf_bytes_dropped=%" PRIu64
			" tcp_map_full=%" PRIu64 " udp_map_full=%" PRIu64 " sk_storage_failed=%" PRIu64
			" events_skipped=%" PRIu64 " failed_connects=%" PRIu64 " udp_idle_closed=%" PRIu64
			" tcp_reaped=%" PRIu64 "\n",
			cnt.ingest_events, cnt.rb_reserve_failed, cnt.rb_bytes_dropped, cnt.tcp_map_full, cnt.udp_map_full,
			cnt.sk_storage_failed, cnt.events_skipped, cnt.failed_connects, cnt.udp_idle_closed,
			cnt.tcp_reaped);
	fr_tracer_close(t);
	return rc;
}
