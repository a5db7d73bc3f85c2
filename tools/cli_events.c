/* cli_events.c - `flowring events`: closed connections from the events ring, as they happen.
 *
 * Copy-out reads (fr_events_read): a record is printed only after the seqlock said it was intact,
 * and a lap is reported on stderr with the exact number of records lost. Without --follow the
 * command prints what the ring holds (oldest valid record first) and exits; with --follow it
 * waits on the ring's futex, follows new generations (restart, regrow) and waits out a dead
 * producer until a new one publishes the region again.
 */
#include <flowring/flowring.h> /* first: it selects _DEFAULT_SOURCE */

#include "cli.h"

#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#define FR_CLI_EVENTS_WAIT_MS 250 /* bounds how long SIGINT takes to be noticed */

static volatile sig_atomic_t fr_cli_events_stop;

static void fr_cli_events_on_signal(int sig)
{
	(void)sig;
	fr_cli_events_stop = 1;
}

/* Fixed widths: a stream cannot measure rows it has not seen yet. */
static void fr_cli_events_widths(int w[FR_COL__COUNT])
{
	static const int fixed[FR_COL__COUNT] = {
		[FR_COL_PROTO] = 5, [FR_COL_LOCAL] = 22, [FR_COL_PEER] = 22, [FR_COL_DIR] = 8,
		[FR_COL_PID] = 7,   [FR_COL_SENT] = 7,   [FR_COL_RECV] = 7,  [FR_COL_RETR] = 7,
		[FR_COL_RTT] = 15,  [FR_COL_STATE] = 6,  [FR_COL_NAT] = 0,
	};
	fr_cli_widths_init(w);
	for (int i = 0; i < FR_COL__COUNT; i++)
		if (fixed[i] > w[i])
			w[i] = fixed[i];
}

static void fr_cli_events_help(void)
{
	printf("Usage: flowring events [--json] [--follow] [--count N] [--from-start] [global options]\n"
	       "Print closed connections from flowringd's events ring. Without --follow: every record the\n"
	       "ring still holds, oldest first, then exit. Records overwritten before they were read are\n"
	       "reported on stderr as 'lapped: lost N records'.\n\n"
	       "  -j, --json           one JSON object per connection per line\n"
	       "  -f, --follow         keep waiting for new records (from now on, unless --from-start)\n"
	       "  -n, --count N        stop after N records\n"
	       "  -s, --from-start     with --follow: begin with the oldest record still in the ring\n"
	       "      --instance NAME  producer instance (default: default)\n"
	       "      --shm-dir DIR    shared-memory directory (default: /dev/shm)\n"
	       "  -h, --help           this help\n");
}

static uint64_t fr_cli_events_head(const struct fr_events_reader *r)
{
	/* acquire: pairs with the writer's release store of head after each complete slot */
	return __atomic_load_n(&r->region.hdr->head, __ATOMIC_ACQUIRE);
}

struct fr_cli_events_opts {
	bool json, follow, from_start;
	uint64_t count; /* 0: unlimited */
};

static int fr_cli_events_parse(struct fr_cli_global *g, int argc, char **argv, struct fr_cli_events_opts *o)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"follow", no_argument, NULL, 'f'},
		{"count", required_argument, NULL, 'n'},
		{"from-start", no_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		FR_CLI_GLOBAL_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	int opt;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":jfn:sh", longopts, NULL)) != -1) {
		int gr = fr_cli_global_opt(g, opt, optarg);
		if (gr == FR_CLI_USAGE)
			return gr;
		if (gr == 1)
			continue;
		switch (opt) {
		case 'j':
			o->json = true;
			break;
		case 'f':
			o->follow = true;
			break;
		case 's':
			o->from_start = true;
			break;
		case 'n':
			if (fr_cli_parse_u64(optarg, 1, UINT64_MAX, &o->count) != 0)
				return fr_cli_usage_error("events", "invalid --count '%s': a number >= 1", optarg);
			break;
		case 'h':
			fr_cli_events_help();
			return -1;
		default:
			return fr_cli_bad_option("events", opt, argv);
		}
	}
	if (optind < argc)
		return fr_cli_usage_error("events", "unexpected argument '%s'", argv[optind]);
	return FR_CLI_OK;
}

/* The region is gone or retired: look for the next generation. FR_OK when following it. */
static int fr_cli_events_follow_next(struct fr_events_reader *r, bool *announced, const char *why)
{
	int st = fr_events_reopen(r);

	if (st == FR_OK) {
		fprintf(stderr, "flowring events: following the producer's new region (generation %" PRIu64
				", pid %u)\n", r->region.generation, r->region.pid);
		*announced = false;
		return FR_OK;
	}
	if (!*announced) {
		fprintf(stderr, "flowring events: %s; waiting for flowringd to publish the region again\n", why);
		*announced = true;
	}
	fr_sleep_ms(FR_CLI_EVENTS_WAIT_MS);
	return st;
}

int fr_cli_events_main(struct fr_cli_global *g, int argc, char **argv)
{
	struct fr_cli_events_opts o = {0};
	struct fr_events_reader r;
	struct sigaction sa;
	struct fr_conn rec;
	uint64_t printed = 0;
	bool stale_warned = false, waiting = false;
	int widths[FR_COL__COUNT], rc = FR_CLI_OK, st;

	st = fr_cli_events_parse(g, argc, argv, &o);
	if (st != FR_CLI_OK)
		return st < 0 ? FR_CLI_OK : st;

	if (fr_cli_events_open(g, "events", &r, !o.follow || o.from_start ? FR_FROM_OLDEST : FR_FROM_LATEST) != FR_OK)
		return FR_CLI_FAIL;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fr_cli_events_on_signal; /* no SA_RESTART: a wait returns early */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	/* without --follow, "what is available" is what was published when we looked: a busy producer
	 * must not keep a one-shot reader going forever */
	uint64_t end = o.follow ? UINT64_MAX : fr_cli_events_head(&r);

	fr_cli_events_widths(widths);
	if (!o.json)
		fr_cli_print_titles(stdout, widths);

	while (!fr_cli_events_stop && (o.count == 0 || printed < o.count) && fr_events_position(&r) < end) {
		st = fr_events_read(&r, &rec);
		switch (st) {
		case FR_OK: {
			if (o.json) {
				fr_cli_print_json_conn(stdout, &rec);
			} else {
				struct fr_cli_row row;
				fr_cli_row_format(&rec, false, &row);
				fr_cli_print_row(stdout, &row, widths);
			}
			printed++;
			stale_warned = false;
			break;
		}
		case FR_LAPPED:
			fflush(stdout); /* keep the report next to the records it interrupts */
			fprintf(stderr, "flowring events: lapped: lost %" PRIu64 " records\n", fr_events_lost(&r));
			break;
		case FR_AGAIN:
		case FR_PRODUCER_STALE:
			if (st == FR_PRODUCER_STALE && !stale_warned) {
				fprintf(stderr, "flowring events: producer (pid %u) is stale: no heartbeat\n", r.region.pid);
				stale_warned = true;
			}
			if (!o.follow)
				goto done;
			if (fflush(stdout) != 0) {
				rc = FR_CLI_FAIL;
				goto done;
			}
			/* wake-ups, timeouts and state changes all come back round to fr_events_read() */
			fr_events_wait(&r, FR_CLI_EVENTS_WAIT_MS);
			break;
		case FR_NEW_GENERATION:
			if (!o.follow) {
				if (fr_events_reopen(&r) == FR_OK) {
					end = fr_cli_events_head(&r);
					break; /* read the newer region too: it may hold records we have not seen */
				}
				goto done; /* the liveness note below says why */
			}
			fflush(stdout);
			fr_cli_events_follow_next(&r, &waiting, "the producer retired its region");
			break;
		case FR_PRODUCER_DEAD:
			if (!o.follow)
				goto done;
			fflush(stdout);
			fr_cli_events_follow_next(&r, &waiting, "the producer died");
			break;
		default:
			fprintf(stderr, "flowring events: reading %s failed: %s\n", r.region.path, fr_status_str(st));
			rc = FR_CLI_FAIL;
			goto done;
		}
	}
done:
	if (fflush(stdout) != 0)
		rc = FR_CLI_FAIL;
	if (!o.follow && rc == FR_CLI_OK) {
		/* a zero timeout does not wait: it only asks whether the records came from a live producer */
		st = fr_events_wait(&r, 0);
		if (st == FR_PRODUCER_DEAD)
			fprintf(stderr, "flowring events: the producer (pid %u) is not running: these records are from "
					"its last run\n", r.region.pid);
		else if (st == FR_NEW_GENERATION)
			fprintf(stderr, "flowring events: the producer retired this region (flowringd stopped)\n");
		else if (st == FR_PRODUCER_STALE && !stale_warned)
			fprintf(stderr, "flowring events: producer (pid %u) is stale: no heartbeat\n", r.region.pid);
	}
	fr_events_close(&r);
	return rc;
}
