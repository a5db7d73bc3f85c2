/* cli_conns.c - `flowring conns`: this client's view of every connection, ss-like or as JSON lines,
 * once or refreshed like top (--watch). This file is the command: its options, the client's
 * lifecycle and the --watch loop; getting each snapshot is cli_conns_snap.c, showing it
 * cli_conns_view.c.
 *
 * The client registers with publish interval 0 (snapshots on request only): every read consumes the
 * client's deltas and closed buffer, so snapshots flowringd published on its own --publish-interval
 * tick would take data this run never shows. With --publish-interval the client asks flowringd for
 * periodic snapshots instead, and --watch waits for them rather than requesting any. The client is
 * registered if needed and unregistered at exit only if this run created it, unless --keep or
 * --client asks to keep it (then the next run sees deltas since this one).
 */
#include <flowring/flowring.h> /* first: it selects _DEFAULT_SOURCE */

#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_conns_snap.h"
#include "cli_conns_view.h"
#include "config.h"
#include "control_client.h"

static volatile sig_atomic_t fr_cli_conns_stop;

static void fr_cli_conns_on_signal(int sig)
{
	(void)sig;
	fr_cli_conns_stop = 1;
}

struct fr_cli_conns {
	struct fr_cli_snap s; /* g, client, publish_ms, fd, the snapshot copied out */
	bool client_given, json, watch, keep;
	uint64_t interval_ms;
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
		int gr = fr_cli_global_opt(c->s.g, opt, optarg);
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
			snprintf(c->s.client, sizeof(c->s.client), "%s", optarg);
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
			if (fr_config_parse_duration_ms(optarg, 1, &c->s.publish_ms) != 0 ||
			    fr_ctl_check_publish_interval(c->s.publish_ms) != 0)
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
	if (interval_given && publish_given && c->s.publish_ms)
		return fr_cli_usage_error("conns", "--interval and --publish-interval exclude each other: with "
						   "--publish-interval flowringd sets the pace");
	if (interval_given && !c->watch)
		return fr_cli_usage_error("conns", "--interval needs --watch");
	if (c->s.publish_ms)
		c->interval_ms = c->s.publish_ms; /* what the --watch screen says */
	return FR_CLI_OK;
}

/* FR_CLI_OK; FR_CLI_FAIL when stdout fails; -EPIPE when its reader went away (| head): then we
 * stop quietly, still unregistering (SIGPIPE is ignored for that). */
static int fr_cli_conns_print(struct fr_cli_conns *c)
{
	struct fr_cli_snap *s = &c->s;

	if (c->json) {
		for (uint64_t i = 0; i < s->count; i++)
			fr_cli_print_json_conn(stdout, &s->buf[i]);
	} else if (c->watch) {
		struct fr_cli_screen_head h = {.instance = s->g->instance, .client = s->client,
					       .snap_seq = s->snap_seq, .interval_ms = c->interval_ms,
					       .read_time_ns = s->read_time_ns,
					       .prev_read_time_ns = s->prev_read_time_ns};
		fr_cli_conns_screen(stdout, s->buf, s->count, &h);
	} else {
		fr_cli_conns_table(stdout, s->buf, s->count, UINT64_MAX);
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
	struct fr_cli_conns c = {.s = {.g = g, .fd = -1}, .interval_ms = 1000};
	struct sigaction sa;
	uint64_t generation = 0;
	bool periodic;
	int rc;

	rc = fr_cli_conns_parse(&c, argc, argv);
	if (rc != FR_CLI_OK)
		return rc < 0 ? FR_CLI_OK : rc;
	if (!c.client_given)
		snprintf(c.s.client, sizeof(c.s.client), "cli-%u", (unsigned)getuid());

	c.s.fd = fr_cli_ctl_connect(g);
	if (c.s.fd < 0)
		return FR_CLI_FAIL;
	rc = FR_CLI_FAIL;
	if (fr_cli_snap_register(&c.s, &generation) != 0)
		goto cleanup;
	periodic = c.watch && c.s.publish_ms;
	if (periodic && fr_cli_snap_periodic_start(&c.s, generation) != FR_CLI_OK)
		goto cleanup;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fr_cli_conns_on_signal; /* no SA_RESTART: the interval sleep returns early */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* a closed pipe must not skip the unregister below */

	do {
		rc = periodic ? fr_cli_snap_periodic_round(&c.s, &fr_cli_conns_stop) : fr_cli_snap_round(&c.s);
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
	if (c.s.created && !c.keep && !c.client_given) {
		struct fr_ctl_msg reply;
		/* quiet about NO_CLIENT: it may have expired or been removed meanwhile, which is fine */
		fr_cli_ctl_request(g, c.s.fd, FR_CTL_UNREGISTER, c.s.client, &reply, NULL, true);
	}
	fr_cli_snap_close(&c.s);
	close(c.s.fd);
	return rc;
}
