/* flowring.c - the `flowring` command: watch a running flowringd (docs/CLI.md).
 *
 *   flowring [global options] <command> [command options]
 *
 * Global options may come before the command or among its options. Exit codes: 0 ok, 1 runtime
 * failure (daemon not running, permission, corrupt region...), 2 usage.
 */
#include <flowring/flowring.h> /* first: it selects _DEFAULT_SOURCE */

#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#ifndef FR_VERSION_STRING
#define FR_VERSION_STRING "unknown"
#endif

static const struct {
	const char *name;
	int (*fn)(struct fr_cli_global *g, int argc, char **argv);
	const char *summary;
} fr_cli_commands[] = {
	{"conns", fr_cli_conns_main, "this client's view of every connection (ss-like, JSON, --watch)"},
	{"events", fr_cli_events_main, "closed connections from the events ring (--follow)"},
	{"stats", fr_cli_stats_main, "producer telemetry (text, JSON, Prometheus)"},
	{"clients", fr_cli_clients_main, "clients registered with flowringd"},
	{"dump", fr_cli_dump_main, "what flowringd remembers for one client"},
};

static void fr_cli_help(void)
{
	printf("Usage: flowring [global options] <command> [options]\n"
	       "Watch the connections a running flowringd traces.\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(fr_cli_commands) / sizeof(fr_cli_commands[0]); i++)
		printf("  %-9s %s\n", fr_cli_commands[i].name, fr_cli_commands[i].summary);
	printf("\nGlobal options (also accepted after the command):\n"
	       "      --instance NAME  producer instance (default: default)\n"
	       "      --shm-dir DIR    shared-memory directory of the rings (default: /dev/shm)\n"
	       "      --control PATH   control socket (default: /run/flowring/<instance>.sock)\n"
	       "  -h, --help           this help; 'flowring <command> --help' for a command's options\n"
	       "  -V, --version        print the version\n\n"
	       "Exit codes: 0 ok, 1 runtime failure (e.g. flowringd not running), 2 usage error.\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		FR_CLI_GLOBAL_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	struct fr_cli_global g;
	int opt;

	fr_cli_global_defaults(&g);
	opterr = 0;
	/* '+': stop at the command name; its options are the command's to parse */
	while ((opt = getopt_long(argc, argv, "+:hV", longopts, NULL)) != -1) {
		int gr = fr_cli_global_opt(&g, opt, optarg);
		if (gr == FR_CLI_USAGE)
			return gr;
		if (gr == 1)
			continue;
		switch (opt) {
		case 'h':
			fr_cli_help();
			return FR_CLI_OK;
		case 'V':
			printf("flowring %s (consumer SDK %s, wire ABI %u.%u, control protocol %u)\n", FR_VERSION_STRING,
			       FLOWRING_SDK_VERSION, FR_ABI_MAJOR, FR_ABI_MINOR, FR_CTL_VERSION);
			return FR_CLI_OK;
		default:
			return fr_cli_bad_option(NULL, opt, argv);
		}
	}
	if (optind >= argc)
		return fr_cli_usage_error(NULL, "missing command (conns, events, stats, clients, dump)");
	for (size_t i = 0; i < sizeof(fr_cli_commands) / sizeof(fr_cli_commands[0]); i++)
		if (strcmp(argv[optind], fr_cli_commands[i].name) == 0)
			return fr_cli_commands[i].fn(&g, argc - optind, argv + optind);
	if (strcmp(argv[optind], "help") == 0) {
		fr_cli_help();
		return FR_CLI_OK;
	}
	return fr_cli_usage_error(NULL, "unknown command '%s' (conns, events, stats, clients, dump)", argv[optind]);
}
